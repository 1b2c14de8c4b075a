-- `tgm-sync verify`, /paymentMethods/report: per gateway its name as the key, then revenue,
-- currency, formatted, sales, display_name as text.
-- Parameters: $1 currency code, $2 bot_id.
SELECT name, money_text(revenue), currency, formatted, sales::VARCHAR, display_name
FROM payment_methods_report($1, bot := $2);
