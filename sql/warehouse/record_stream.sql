-- One stream's figures in one run (the key redacted from `error` beforehand).
-- Parameters: $1 run_id, $2 bot_id, $3 stream, $4 status, $5 rows_read, $6 rows_written,
-- $7 rows_deleted, $8 rows_rejected, $9 requests, $10 retries, $11 error.
INSERT OR REPLACE INTO _sync_run_streams
    (run_id, bot_id, stream, status, rows_read, rows_written, rows_deleted, rows_rejected,
     requests, retries, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);
