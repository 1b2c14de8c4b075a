-- Whether the warehouse holds the report layer of this fingerprint. Parameters: $1 fingerprint.
SELECT count(*) FROM _report_layer WHERE fingerprint = $1;
