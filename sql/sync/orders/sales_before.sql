-- The live sales of one bot before a cutoff. Parameters: bot_id, cutoff (UNIX seconds).
SELECT count(*)
FROM orders
WHERE bot_id = ? AND _deleted_at IS NULL AND order_status = 'COMPLETED'
  AND order_date < to_timestamp(?)
