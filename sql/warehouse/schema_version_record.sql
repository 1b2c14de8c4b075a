-- A migration applied. Parameters: $1 version, $2 name.
INSERT INTO _schema_version (version, name, applied_at) VALUES ($1, $2, now());
