-- A gateway /paymentMethods/report names that is not installed (any more).
-- Parameters: bot_id, code, display_name, now (microseconds).
INSERT OR IGNORE INTO gateways (bot_id, code, display_name, installed, _synced_at)
VALUES (?, ?, ?, false, make_timestamp(?)::TIMESTAMPTZ)
