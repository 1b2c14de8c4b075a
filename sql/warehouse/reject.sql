-- A row that could not be read, kept for diagnosis (reason and raw JSON redacted).
-- Parameters: $1 run_id, $2 bot_id, $3 stream, $4 the run's time (microseconds), $5 reason,
-- $6 raw_json.
INSERT INTO _rejected (run_id, bot_id, stream, rejected_at, reason, raw_json)
VALUES ($1, $2, $3, make_timestamp($4)::TIMESTAMPTZ, $5, $6);
