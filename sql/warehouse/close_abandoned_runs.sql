-- Runs left `running` by a process that died. Parameters: $1 the new status
-- ('interrupted'), $2 now (microseconds), $3 the old status ('running').
UPDATE _sync_runs
SET status = $1, finished_at = make_timestamp($2)::TIMESTAMPTZ
WHERE status = $3;
