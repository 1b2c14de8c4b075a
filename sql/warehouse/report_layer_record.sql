-- The report layer just installed (after its old fingerprint was deleted).
-- Parameters: $1 fingerprint.
INSERT INTO _report_layer VALUES ($1);
