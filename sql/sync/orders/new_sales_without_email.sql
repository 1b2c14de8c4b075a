-- `fetch_member_emails`: the COMPLETED orders this run wrote (new, or changed) that have
-- no member_email yet, to re-read by key (only /orders/{order_key} carries it).
-- Parameters: $1 bot_id, $2 run_id.
SELECT order_key
FROM orders
WHERE bot_id = $1 AND _run_id = $2 AND order_status = 'COMPLETED'
  AND member_email IS NULL AND _deleted_at IS NULL
ORDER BY order_date DESC, order_key;
