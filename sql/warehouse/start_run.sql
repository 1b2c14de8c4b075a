-- One bot's run starts. Parameters: run_id, bot_id, the run's time (microseconds),
-- status ('running').
INSERT INTO _sync_runs (run_id, bot_id, started_at, status)
VALUES (?, ?, make_timestamp(?)::TIMESTAMPTZ, ?)
