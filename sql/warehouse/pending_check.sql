-- Old PENDING orders re-read by key in the rotation (see 006_pending_checks.sql), all in
-- one statement (one upsert per key cost DuckDB ~3 ms each).
-- Parameters: bot_id, the order keys (a VARCHAR list, no duplicates), the run's time
-- (microseconds).
INSERT OR REPLACE INTO _pending_checks (bot_id, order_key, checked_at)
SELECT ?, unnest(CAST(? AS VARCHAR[])), make_timestamp(?)::TIMESTAMPTZ
