-- A bot's live sales before a boundary, per native currency, most sales first: the
-- currency (upper case), the sum of amounts as decimal text, the count.
-- Parameters: bot_id, boundary (UNIX seconds).
SELECT upper(currency), coalesce(sum(amount), 0)::VARCHAR, count(*)
FROM orders
WHERE bot_id = ? AND _deleted_at IS NULL AND order_status = 'COMPLETED'
  AND order_date < to_timestamp(?)
GROUP BY 1
ORDER BY 3 DESC, 1
