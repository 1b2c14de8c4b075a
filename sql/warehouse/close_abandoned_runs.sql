-- Runs left `running` by a process that died. Parameters: the new status
-- ('interrupted'), now (microseconds), the old status ('running').
UPDATE _sync_runs
SET status = ?, finished_at = make_timestamp(?)::TIMESTAMPTZ
WHERE status = ?
