-- Time windows from which exchange rates are read off the API's own /revenue endpoint.
--
-- For each native currency C, the window holding the largest run of consecutive sales
-- that are all in C, with no sale in another currency within one second of either end.
-- Then /revenue over that window in currency X, divided by the window's native total,
-- is the service's rate C -> X exactly as it converts revenue (SPEC §2: one rate per
-- currency). The one-second margins make the window read the same whether the API
-- treats `from`/`to` as inclusive or exclusive.
--
-- Parameter: bot_id. Result: currency, from_ts, to_ts (UNIX seconds), native, sales.
WITH s AS (
    SELECT epoch(order_date::TIMESTAMP)::BIGINT AS t, upper(currency) AS currency, amount
    FROM orders
    WHERE bot_id = $1 AND order_status = 'COMPLETED' AND _deleted_at IS NULL
      AND amount IS NOT NULL AND currency IS NOT NULL
),
marked AS (
    SELECT *, CASE WHEN currency IS DISTINCT FROM lag(currency) OVER (ORDER BY t, currency)
                   THEN 1 ELSE 0 END AS starts_run
    FROM s
),
runs AS (
    SELECT *, sum(starts_run) OVER (ORDER BY t, currency ROWS UNBOUNDED PRECEDING) AS run
    FROM marked
),
candidates AS (
    SELECT run, currency, min(t) AS first_t, max(t) AS last_t,
           sum(amount) AS native, count(*) AS sales
    FROM runs GROUP BY run, currency
),
clean AS (
    SELECT c.* FROM candidates c
    WHERE c.native > 0
      AND NOT EXISTS (SELECT 1 FROM s
                      WHERE s.currency <> c.currency
                        AND s.t BETWEEN c.first_t - 1 AND c.last_t + 1)
)
SELECT currency, first_t - 1 AS from_ts, last_t + 1 AS to_ts, native::VARCHAR AS native, sales
FROM clean
QUALIFY row_number() OVER (PARTITION BY currency ORDER BY native DESC, last_t DESC) = 1
ORDER BY currency
