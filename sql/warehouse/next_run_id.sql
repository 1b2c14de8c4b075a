-- The next run id.
SELECT coalesce(max(run_id), 0) + 1 FROM _sync_runs;
