-- One stream's figures in one run (the key redacted from `error` beforehand).
INSERT OR REPLACE INTO _sync_run_streams
    (run_id, bot_id, stream, status, rows_read, rows_written, rows_deleted, rows_rejected,
     requests, retries, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
