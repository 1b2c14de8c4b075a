-- `tgm-sync verify`, /revenue: the key, then revenue, currency, formatted, sales as text.
-- Parameters: $1 the row's key (a label), $2 from, $3 to (UNIX seconds), $4 currency code,
-- $5 bot_id.
SELECT $1, money_text(revenue), currency, formatted, sales::VARCHAR
FROM revenue($2, $3, $4, bot := $5);
