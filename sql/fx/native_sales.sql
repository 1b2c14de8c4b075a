-- A bot's live sales before a boundary, per native currency, most sales first: the
-- currency (upper case), the sum of amounts as decimal text, the count.
-- Parameters: $1 bot_id, $2 boundary (UNIX seconds).
SELECT upper(currency), coalesce(sum(amount), 0)::VARCHAR, count(*)
FROM orders
WHERE bot_id = $1 AND _deleted_at IS NULL AND order_status = 'COMPLETED'
  AND order_date < to_timestamp($2)
GROUP BY 1
ORDER BY 3 DESC, 1;
