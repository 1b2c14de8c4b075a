-- A partition's file is in place: its mark goes. Parameters: bot_id, table_name, partition.
DELETE FROM _parquet_dirty WHERE bot_id = ? AND table_name = ? AND partition = ?
