-- What the lake at lake_url had missed of a bot's partitions, cleared after the Delta
-- commit that carried them.
-- Parameters: $1 lake_url, $2 bot_id, $3 table_name, $4 the partitions joined by newlines.
DELETE FROM _lake_owed WHERE lake_url = $1 AND bot_id = $2 AND table_name = $3
  AND partition IN (SELECT unnest(string_split($4, chr(10))));
