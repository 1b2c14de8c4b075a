-- The installed gateways: the synced payment methods. Parameters: $1 now
-- (microseconds), $2 bot_id.
INSERT INTO gateways (bot_id, code, display_name, installed, _synced_at)
SELECT bot_id, name, coalesce(display_name, name), true, make_timestamp($1)::TIMESTAMPTZ
FROM payment_methods
WHERE bot_id = $2 AND _deleted_at IS NULL;
