-- `tgm-sync verify`, /orders/count: per period the key `<unit> <period>`, then revenue,
-- currency, formatted, sales as text.
-- Parameters: $1 interval unit (day, month, year), $2 interval count, $3 currency code,
-- $4 now (UNIX microseconds), $5 bot_id.
SELECT $1 || ' ' || period, money_text(revenue), currency, formatted, sales::VARCHAR
FROM orders_count($1, $2, $3, now_ts := make_timestamp($4), bot := $5);
