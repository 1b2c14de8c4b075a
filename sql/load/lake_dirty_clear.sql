-- A bot's lake marks, cleared after the Delta commit that carried them.
-- Parameters: bot_id, table_name, the partitions joined by newlines.
DELETE FROM _lake_dirty WHERE bot_id = ? AND table_name = ?
  AND partition IN (SELECT unnest(string_split(?, chr(10))))
