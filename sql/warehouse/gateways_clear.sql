-- The gateway map of one bot is rebuilt from scratch. Parameters: $1 bot_id.
DELETE FROM gateways WHERE bot_id = $1;
