-- The Parquet partitions of one bot's table that wait to be rewritten.
-- Parameters: bot_id, table_name.
SELECT partition FROM _parquet_dirty WHERE bot_id = ? AND table_name = ? ORDER BY partition
