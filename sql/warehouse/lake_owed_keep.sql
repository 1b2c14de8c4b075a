-- Before the lake at lake_url clears a bot's marks: every other lake that holds the
-- bot's table keeps those partitions owed, to publish when it is configured again.
-- Parameters: $1 bot_id, $2 table_name, $3 lake_url, $4 the partitions joined by newlines.
INSERT OR IGNORE INTO _lake_owed (lake_url, bot_id, table_name, partition)
SELECT p.lake_url, p.bot_id, p.table_name, d.partition
FROM _lake_published p
JOIN _lake_dirty d ON d.bot_id = p.bot_id AND d.table_name = p.table_name
WHERE p.bot_id = $1 AND p.table_name = $2 AND p.lake_url <> $3
  AND d.partition IN (SELECT unnest(string_split($4, chr(10))));
