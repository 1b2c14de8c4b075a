-- One bot's run starts. Parameters: $1 run_id, $2 bot_id, $3 the run's time
-- (microseconds), $4 status ('running').
INSERT INTO _sync_runs (run_id, bot_id, started_at, status)
VALUES ($1, $2, make_timestamp($3)::TIMESTAMPTZ, $4);
