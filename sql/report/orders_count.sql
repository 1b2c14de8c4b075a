-- `tgm-sync report orders-count`: the /orders/count report, one row per period, newest first.
-- Parameters: $1 interval unit (day, month, year), $2 interval count, $3 currency code
-- (NULL: the bot's preferred currency), $4 now (UNIX microseconds), $5 bot_id.
SELECT period, money_text(revenue) AS revenue, currency, formatted, sales
FROM orders_count($1, $2, $3, now_ts := make_timestamp($4), bot := $5);
