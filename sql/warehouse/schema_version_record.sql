-- A migration applied. Parameters: version, name.
INSERT INTO _schema_version (version, name, applied_at) VALUES (?, ?, now())
