-- A bot's lake marks, cleared after the Delta commit that carried them.
-- Parameters: $1 bot_id, $2 table_name, $3 the partitions joined by newlines.
DELETE FROM _lake_dirty WHERE bot_id = $1 AND table_name = $2
  AND partition IN (SELECT unnest(string_split($3, chr(10))));
