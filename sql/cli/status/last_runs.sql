-- `tgm-sync status`, section "Last runs".
SELECT run_id, bot_id,
       strftime(started_at::TIMESTAMP, '%Y-%m-%d %H:%M:%S') AS started_utc,
       round(epoch(finished_at::TIMESTAMP) - epoch(started_at::TIMESTAMP), 1) AS seconds,
       status, requests, retries, rows_rejected AS rejected,
       coalesce(error, '') AS error
FROM _sync_runs
-- Every bot of the last run (however many), then earlier rows up to 10 in all.
QUALIFY run_id = max(run_id) OVER () OR row_number() OVER (ORDER BY run_id DESC, bot_id) <= 10
ORDER BY run_id DESC, bot_id;
