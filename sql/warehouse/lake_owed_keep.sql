-- Before the lake at lake_url clears a partition's mark: every other lake that holds the
-- bot's table keeps the partition owed, to publish when it is configured again.
-- Parameters: partition, bot_id, table_name, lake_url, bot_id, table_name, partition.
INSERT OR IGNORE INTO _lake_owed (lake_url, bot_id, table_name, partition)
SELECT p.lake_url, p.bot_id, p.table_name, ?
FROM _lake_published p
WHERE p.bot_id = ? AND p.table_name = ? AND p.lake_url <> ?
  AND EXISTS (SELECT 1 FROM _lake_dirty d
              WHERE d.bot_id = ? AND d.table_name = ? AND d.partition = ?)
