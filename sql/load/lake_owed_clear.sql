-- What the lake at lake_url had missed of a bot's partitions, cleared after the Delta
-- commit that carried them.
-- Parameters: lake_url, bot_id, table_name, the partitions joined by newlines.
DELETE FROM _lake_owed WHERE lake_url = ? AND bot_id = ? AND table_name = ?
  AND partition IN (SELECT unnest(string_split(?, chr(10))))
