-- The fingerprint of the report layer (sql/reports.sql) the warehouse holds.
CREATE TABLE IF NOT EXISTS _report_layer (fingerprint VARCHAR NOT NULL);
