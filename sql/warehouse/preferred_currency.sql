-- The bot's preferred report currency. Parameters: $1 bot_id, $2 currency,
-- $3 now (microseconds).
INSERT INTO bot_settings (bot_id, preferred_currency, updated_at)
VALUES ($1, $2, make_timestamp($3)::TIMESTAMPTZ)
ON CONFLICT (bot_id) DO UPDATE SET
    preferred_currency = excluded.preferred_currency,
    updated_at = excluded.updated_at;
