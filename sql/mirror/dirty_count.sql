-- How many Parquet partitions of one bot's table wait to be rewritten.
-- Parameters: bot_id, table_name.
SELECT count(*) FROM _parquet_dirty WHERE bot_id = ? AND table_name = ?
