-- `tgm-sync report payment-methods`: the /paymentMethods/report report, one row per gateway.
-- Parameters: $1 currency code (NULL: the bot's preferred currency), $2 bot_id.
SELECT name, display_name, money_text(revenue) AS revenue, currency, formatted, sales
FROM payment_methods_report($1, bot := $2);
