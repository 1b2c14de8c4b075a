-- The live sales of one bot before a cutoff. Parameters: $1 bot_id,
-- $2 cutoff (UNIX seconds).
SELECT count(*)
FROM orders
WHERE bot_id = $1 AND _deleted_at IS NULL AND order_status = 'COMPLETED'
  AND order_date < to_timestamp($2);
