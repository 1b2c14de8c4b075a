-- The lake took this bot's table at a Delta version, with these columns.
-- Parameters: $1 lake_url, $2 bot_id, $3 table_name, $4 version, $5 published_at
-- (microseconds), $6 columns.
INSERT INTO _lake_published (lake_url, bot_id, table_name, version, published_at, columns)
VALUES ($1, $2, $3, $4, make_timestamp($5)::TIMESTAMPTZ, $6)
ON CONFLICT (lake_url, bot_id, table_name) DO UPDATE SET version = excluded.version,
    published_at = excluded.published_at, columns = excluded.columns;
