-- 008: the lake's owed marks are per lake URL, so that switching lake_url from A to B
-- and back to A loses nothing.
--
-- _lake_dirty stays the marks the streams make (beside _parquet_dirty), owed to whichever
-- lake publishes next. When a lake commits and clears some of them, every other lake
-- that already holds the bot's table (a _lake_published row) keeps them here, until it
-- is configured again and publishes them. A lake with no _lake_published row for the
-- bot's table is published whole anyway.
CREATE TABLE IF NOT EXISTS _lake_owed (
    lake_url   VARCHAR NOT NULL,        -- as in _lake_published
    bot_id     BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    partition  VARCHAR NOT NULL,        -- '' for unpartitioned tables, 'YYYY-MM' for orders
    PRIMARY KEY (lake_url, bot_id, table_name, partition)
);
