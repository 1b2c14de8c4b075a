-- The fingerprint of the report layer being replaced goes.
DELETE FROM _report_layer;
