-- One partition's lake mark, cleared after the Delta commit that carried it.
-- Parameters: $1 bot_id, $2 table_name, $3 partition.
DELETE FROM _lake_dirty WHERE bot_id = $1 AND table_name = $2 AND partition = $3;
