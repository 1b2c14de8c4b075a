-- The gateway map of one bot is rebuilt from scratch. Parameter: bot_id.
DELETE FROM gateways WHERE bot_id = ?
