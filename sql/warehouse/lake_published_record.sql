-- The lake took this bot's table at a Delta version, with these columns.
-- Parameters: lake_url, bot_id, table_name, version, published_at (microseconds), columns.
INSERT INTO _lake_published (lake_url, bot_id, table_name, version, published_at, columns)
VALUES (?, ?, ?, ?, make_timestamp(?)::TIMESTAMPTZ, ?)
ON CONFLICT (lake_url, bot_id, table_name) DO UPDATE SET version = excluded.version,
    published_at = excluded.published_at, columns = excluded.columns
