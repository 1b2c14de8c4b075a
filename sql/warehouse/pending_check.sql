-- Old PENDING orders re-read by key in the rotation (see 006_pending_checks.sql), all in
-- one statement (one upsert per key cost DuckDB ~3 ms each).
-- Parameters: $1 bot_id, $2 the order keys (a VARCHAR list, no duplicates), $3 the
-- run's time (microseconds).
INSERT OR REPLACE INTO _pending_checks (bot_id, order_key, checked_at)
SELECT $1, unnest(CAST($2 AS VARCHAR[])), make_timestamp($3)::TIMESTAMPTZ;
