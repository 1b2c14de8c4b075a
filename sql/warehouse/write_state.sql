-- Records a stream's new state, inside the stream's transaction.
-- Parameters: $1 bot_id, $2 stream, $3 high_water_mark (UNIX seconds), $4 last full scan
-- (microseconds), $5 run_id, $6 the run's time (microseconds).
INSERT INTO _sync_state (bot_id, stream, high_water_mark, last_full_scan_at, last_run_id, updated_at)
VALUES ($1, $2, to_timestamp($3), make_timestamp($4)::TIMESTAMPTZ, $5, make_timestamp($6)::TIMESTAMPTZ)
ON CONFLICT (bot_id, stream) DO UPDATE SET
    high_water_mark = excluded.high_water_mark,
    last_full_scan_at = excluded.last_full_scan_at,
    last_run_id = excluded.last_run_id,
    updated_at = excluded.updated_at;
