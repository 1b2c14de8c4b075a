-- The first second from a cutoff (within the hour after it) at which a bot has no order,
-- so that an API reading `to` as inclusive or exclusive counts the same orders.
-- Parameters: cutoff, cutoff (UNIX seconds), bot_id.
SELECT min(b)
FROM range(?, ? + 3600) r(b)
WHERE NOT EXISTS (SELECT 1 FROM orders
                  WHERE bot_id = ? AND epoch(order_date::TIMESTAMP)::BIGINT = b)
