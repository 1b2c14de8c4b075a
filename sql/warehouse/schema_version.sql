-- The warehouse's schema version (NULL for a new warehouse).
SELECT max(version) FROM _schema_version;
