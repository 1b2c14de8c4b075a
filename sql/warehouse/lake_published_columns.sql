-- The Delta columns with which the lake at lake_url last took this bot's table (no row:
-- never taken).
-- Parameters: lake_url, bot_id, table_name.
SELECT columns FROM _lake_published WHERE lake_url = ? AND bot_id = ? AND table_name = ?
