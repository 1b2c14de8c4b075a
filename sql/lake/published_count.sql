-- Whether the lake at lake_url has ever taken this bot's table (0 or 1).
-- Parameters: lake_url, bot_id, table_name.
SELECT count(*) FROM _lake_published WHERE lake_url = ? AND bot_id = ? AND table_name = ?
