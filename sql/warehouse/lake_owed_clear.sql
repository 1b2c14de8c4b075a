-- What the lake at lake_url had missed of a partition, cleared after its Delta commit
-- carried it.
-- Parameters: $1 lake_url, $2 bot_id, $3 table_name, $4 partition.
DELETE FROM _lake_owed WHERE lake_url = $1 AND bot_id = $2 AND table_name = $3 AND partition = $4;
