-- The gateways of one bot. Parameters: $1 bot_id.
SELECT count(*) FROM gateways WHERE bot_id = $1;
