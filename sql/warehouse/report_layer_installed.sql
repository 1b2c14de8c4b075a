-- Whether the warehouse holds the report layer of this fingerprint. Parameter: fingerprint.
SELECT count(*) FROM _report_layer WHERE fingerprint = ?
