-- The partitions of one bot's table that the lake at lake_url is owed: the streams'
-- marks, and what it missed while another lake was configured.
-- Parameters: bot_id, table_name, lake_url, bot_id, table_name.
SELECT partition FROM _lake_dirty WHERE bot_id = ? AND table_name = ?
UNION
SELECT partition FROM _lake_owed WHERE lake_url = ? AND bot_id = ? AND table_name = ?
ORDER BY partition
