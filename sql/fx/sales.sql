-- Completed sales one row each, in (second, currency) order: the input of the search for
-- exchange-rate windows (src/fx/windows.rs), which reads it as a stream in one pass
-- and needs each sale's own amount (the API rounds each converted sale to 8 decimals).
--
-- Parameters: $1 bot_id. Result: t (UNIX seconds), currency, amount.
SELECT epoch(order_date::TIMESTAMP)::BIGINT AS t,
       upper(currency) AS currency,
       amount::DECIMAL(38,18) AS amount
FROM orders
WHERE bot_id = $1 AND order_status = 'COMPLETED' AND _deleted_at IS NULL
  AND amount IS NOT NULL AND currency IS NOT NULL
ORDER BY t, currency, amount
