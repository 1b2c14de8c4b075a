-- 007: what the warehouse owes the lake output (Delta Lake tables, README "Lake output").
--
-- _lake_dirty is marked beside _parquet_dirty, in the stream's own transaction, and
-- cleared only after the Delta commit that carries the partition succeeded: a run killed
-- between upload and commit leaves the mark (and unreferenced files), and the next run
-- publishes the partition again.
CREATE TABLE IF NOT EXISTS _lake_dirty (
    bot_id     BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    partition  VARCHAR NOT NULL,        -- '' for unpartitioned tables, 'YYYY-MM' for orders
    PRIMARY KEY (bot_id, table_name, partition)
);

-- Which lake holds which bot's table, and at what Delta version it last committed. A bot
-- with no row here for the configured lake is published whole (a new lake, a new bot,
-- or a warehouse that predates this table), and so is one whose columns changed.
CREATE TABLE IF NOT EXISTS _lake_published (
    lake_url     VARCHAR NOT NULL,      -- lake_url as configured, never with credentials
    bot_id       BIGINT NOT NULL,
    table_name   VARCHAR NOT NULL,
    version      BIGINT NOT NULL,       -- the Delta table version of the last commit
    published_at TIMESTAMPTZ NOT NULL,
    columns      VARCHAR NOT NULL,      -- the Delta columns it was written with; when they
                                        -- change (a migration), the bot is published whole
    PRIMARY KEY (lake_url, bot_id, table_name)
);
