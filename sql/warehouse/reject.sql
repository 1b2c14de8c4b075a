-- A row that could not be read, kept for diagnosis (reason and raw JSON redacted).
-- Parameters: run_id, bot_id, stream, the run's time (microseconds), reason, raw_json.
INSERT INTO _rejected (run_id, bot_id, stream, rejected_at, reason, raw_json)
VALUES (?, ?, ?, make_timestamp(?)::TIMESTAMPTZ, ?, ?)
