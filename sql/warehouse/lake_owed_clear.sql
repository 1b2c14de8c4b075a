-- What the lake at lake_url had missed of a partition, cleared after its Delta commit
-- carried it.
-- Parameters: lake_url, bot_id, table_name, partition.
DELETE FROM _lake_owed WHERE lake_url = ? AND bot_id = ? AND table_name = ? AND partition = ?
