-- `tgm-sync verify`, /plans/report breakdowns: per entry the key `plan <id> <period>` (several
-- entries may share one), then revenue, currency, formatted, sales as text.
-- Parameters: $1 currency code, $2 now (UNIX microseconds), $3 bot_id.
SELECT 'plan ' || plan_id || ' ' || b.period, money_text(b.revenue), b.currency, b.formatted,
       b.sales::VARCHAR
FROM plans_report($1, now_ts := make_timestamp($2), bot := $3), unnest(breakdown) AS t(b);
