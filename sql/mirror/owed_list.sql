-- The Parquet partitions of one bot's table that wait to be rewritten.
-- Parameters: $1 bot_id, $2 table_name.
SELECT partition FROM _parquet_dirty WHERE bot_id = $1 AND table_name = $2 ORDER BY partition;
