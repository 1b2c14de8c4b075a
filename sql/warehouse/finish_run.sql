-- One bot's run ends. Parameters: $1 the end (microseconds), $2 status, $3 requests,
-- $4 retries, $5 rows_rejected, $6 refetch_not_found, $7 error (key redacted), $8 run_id,
-- $9 bot_id.
UPDATE _sync_runs
SET finished_at = make_timestamp($1)::TIMESTAMPTZ, status = $2, requests = $3, retries = $4,
    rows_rejected = $5, refetch_not_found = $6, error = $7
WHERE run_id = $8 AND bot_id = $9;
