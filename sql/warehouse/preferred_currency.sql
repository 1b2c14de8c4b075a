-- The bot's preferred report currency. Parameters: bot_id, currency, now (microseconds).
INSERT INTO bot_settings (bot_id, preferred_currency, updated_at)
VALUES (?, ?, make_timestamp(?)::TIMESTAMPTZ)
ON CONFLICT (bot_id) DO UPDATE SET
    preferred_currency = excluded.preferred_currency,
    updated_at = excluded.updated_at
