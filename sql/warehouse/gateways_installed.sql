-- The installed gateways: the synced payment methods. Parameters: now (microseconds),
-- bot_id.
INSERT INTO gateways (bot_id, code, display_name, installed, _synced_at)
SELECT bot_id, name, coalesce(display_name, name), true, make_timestamp(?)::TIMESTAMPTZ
FROM payment_methods
WHERE bot_id = ? AND _deleted_at IS NULL
