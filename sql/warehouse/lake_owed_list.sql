-- The partitions of one bot's table that the lake at lake_url is owed: the streams'
-- marks, and what it missed while another lake was configured.
-- Parameters: $1 bot_id, $2 table_name, $3 lake_url, $4 bot_id, $5 table_name.
SELECT partition FROM _lake_dirty WHERE bot_id = $1 AND table_name = $2
UNION
SELECT partition FROM _lake_owed WHERE lake_url = $3 AND bot_id = $4 AND table_name = $5
ORDER BY partition;
