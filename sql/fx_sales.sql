-- Completed sales per (second, currency), in that order: the input of the search for
-- exchange-rate windows (src/sync/fx_windows.rs), which reads it as a stream in one pass.
-- One row per (second, currency), so that the order has no ties.
--
-- Parameter: bot_id. Result: t (UNIX seconds), currency, amount, sales.
SELECT epoch(order_date::TIMESTAMP)::BIGINT AS t,
       upper(currency) AS currency,
       sum(amount)::DECIMAL(38,18) AS amount,
       count(*) AS sales
FROM orders
WHERE bot_id = $1 AND order_status = 'COMPLETED' AND _deleted_at IS NULL
  AND amount IS NOT NULL AND currency IS NOT NULL
GROUP BY ALL
ORDER BY t, currency
