-- `fetch_member_emails`: the COMPLETED orders this run wrote (new, or changed) that have
-- no member_email yet, to re-read by key (only /orders/{order_key} carries it).
-- Parameters: bot_id, run_id.
SELECT order_key
FROM orders
WHERE bot_id = ? AND _run_id = ? AND order_status = 'COMPLETED'
  AND member_email IS NULL AND _deleted_at IS NULL
ORDER BY order_date DESC, order_key;
