-- A gateway /paymentMethods/report names that is not installed (any more).
-- Parameters: $1 bot_id, $2 code, $3 display_name, $4 now (microseconds).
INSERT OR IGNORE INTO gateways (bot_id, code, display_name, installed, _synced_at)
VALUES ($1, $2, $3, false, make_timestamp($4)::TIMESTAMPTZ);
