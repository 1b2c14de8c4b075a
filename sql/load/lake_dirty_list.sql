-- The partitions of one bot's table that the lake is owed.
-- Parameters: bot_id, table_name.
SELECT partition FROM _lake_dirty WHERE bot_id = ? AND table_name = ? ORDER BY partition
