-- One bot's run ends. Parameters: the end (microseconds), status, requests, retries,
-- rows_rejected, refetch_not_found, error (key redacted), run_id, bot_id.
UPDATE _sync_runs
SET finished_at = make_timestamp(?)::TIMESTAMPTZ, status = ?, requests = ?, retries = ?,
    rows_rejected = ?, refetch_not_found = ?, error = ?
WHERE run_id = ? AND bot_id = ?
