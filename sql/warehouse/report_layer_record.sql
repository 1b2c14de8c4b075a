-- The report layer just installed (after its old fingerprint was deleted).
-- Parameter: fingerprint.
INSERT INTO _report_layer VALUES (?)
