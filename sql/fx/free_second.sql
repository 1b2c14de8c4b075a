-- The first second from a cutoff (within the hour after it) at which a bot has no order,
-- so that an API reading `to` as inclusive or exclusive counts the same orders.
-- Parameters: $1 cutoff, $2 cutoff again (UNIX seconds), $3 bot_id.
SELECT min(b)
FROM range($1, $2 + 3600) r(b)
WHERE NOT EXISTS (SELECT 1 FROM orders
                  WHERE bot_id = $3 AND epoch(order_date::TIMESTAMP)::BIGINT = b);
