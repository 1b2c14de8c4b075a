-- `tgm-sync verify`, /plans/report totals: per plan the key `plan <id>`, then revenue,
-- currency, formatted, sales, plan_name as text.
-- Parameters: $1 currency code, $2 now (UNIX microseconds), $3 bot_id.
SELECT 'plan ' || plan_id, money_text(revenue), currency, formatted, sales::VARCHAR, plan_name
FROM plans_report($1, now_ts := make_timestamp($2), bot := $3);
