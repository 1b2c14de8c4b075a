-- Records a stream's new state, inside the stream's transaction.
-- Parameters: bot_id, stream, high_water_mark (UNIX seconds), last full scan
-- (microseconds), run_id, the run's time (microseconds).
INSERT INTO _sync_state (bot_id, stream, high_water_mark, last_full_scan_at, last_run_id, updated_at)
VALUES (?, ?, to_timestamp(?), make_timestamp(?)::TIMESTAMPTZ, ?, make_timestamp(?)::TIMESTAMPTZ)
ON CONFLICT (bot_id, stream) DO UPDATE SET
    high_water_mark = excluded.high_water_mark,
    last_full_scan_at = excluded.last_full_scan_at,
    last_run_id = excluded.last_run_id,
    updated_at = excluded.updated_at
