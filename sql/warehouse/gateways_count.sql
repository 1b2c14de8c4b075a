-- The gateways of one bot. Parameter: bot_id.
SELECT count(*) FROM gateways WHERE bot_id = ?
