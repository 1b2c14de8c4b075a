-- `tgm-sync report plans`: the /plans/report report flattened for a table or CSV: per plan
-- (by revenue, then plan_id) a row with period `total`, followed by one row per entry of
-- its breakdown, in the breakdown's order.
-- Parameters: $1 currency code (NULL: the bot's preferred currency), $2 now (UNIX
-- microseconds), $3 bot_id.
WITH p AS (
    SELECT row_number() OVER (ORDER BY revenue DESC, plan_id) AS n, *
    FROM plans_report($1, now_ts := make_timestamp($2), bot := $3)
),
b AS (
    SELECT n, plan_id, plan_name,
           unnest(range(1, len(breakdown) + 1)) AS m,
           unnest(breakdown) AS e
    FROM p
)
SELECT plan_id, plan_name, period, revenue, currency, formatted, sales
FROM (
    SELECT n, 0 AS m, plan_id, plan_name, 'total' AS period,
           money_text(revenue) AS revenue, currency, formatted, sales
    FROM p
    UNION ALL
    SELECT n, m, plan_id, plan_name, e.period, money_text(e.revenue),
           e.currency, e.formatted, e.sales
    FROM b
)
ORDER BY n, m;
