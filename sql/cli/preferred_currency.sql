-- `tgm-sync verify`: the bot's preferred currency as its last sync read it (no row if none).
-- Parameters: $1 bot_id.
SELECT preferred_currency FROM bot_settings WHERE bot_id = $1;
