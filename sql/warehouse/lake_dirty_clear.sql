-- One partition's lake mark, cleared after the Delta commit that carried it.
-- Parameters: bot_id, table_name, partition.
DELETE FROM _lake_dirty WHERE bot_id = ? AND table_name = ? AND partition = ?
