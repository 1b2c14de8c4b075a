-- Before the lake at lake_url clears a partition's mark: every other lake that holds the
-- bot's table keeps the partition owed, to publish when it is configured again.
-- Parameters: $1 partition, $2 bot_id, $3 table_name, $4 lake_url, $5 bot_id,
-- $6 table_name, $7 partition.
INSERT OR IGNORE INTO _lake_owed (lake_url, bot_id, table_name, partition)
SELECT p.lake_url, p.bot_id, p.table_name, $1
FROM _lake_published p
WHERE p.bot_id = $2 AND p.table_name = $3 AND p.lake_url <> $4
  AND EXISTS (SELECT 1 FROM _lake_dirty d
              WHERE d.bot_id = $5 AND d.table_name = $6 AND d.partition = $7);
