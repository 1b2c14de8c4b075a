-- The Delta columns with which the lake at lake_url last took this bot's table (no row:
-- never taken).
-- Parameters: $1 lake_url, $2 bot_id, $3 table_name.
SELECT columns FROM _lake_published WHERE lake_url = $1 AND bot_id = $2 AND table_name = $3;
