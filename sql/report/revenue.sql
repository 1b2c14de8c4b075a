-- `tgm-sync report revenue`: the /revenue report as one row, money as full-precision text.
-- Parameters: $1 from, $2 to (UNIX seconds, from <= order_date < to), $3 currency code
-- (NULL: the bot's preferred currency), $4 bot_id.
SELECT "from", "to", money_text(revenue) AS revenue, currency, formatted, sales
FROM revenue($1, $2, $3, bot := $4);
