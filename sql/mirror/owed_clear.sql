-- A partition's file is in place: its mark goes. Parameters: $1 bot_id,
-- $2 table_name, $3 partition.
DELETE FROM _parquet_dirty WHERE bot_id = $1 AND table_name = $2 AND partition = $3;
