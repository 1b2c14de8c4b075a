-- The old PENDING orders to re-read this run: `budget` of them, least recently re-read
-- first (never re-read counts as oldest), newest orders first among equals, then the
-- larger key; with `only_without_email`, those of them with no stored email.
-- Parameters: $1 bot_id, $2 cutoff (UNIX seconds), $3 budget, $4 only_without_email.
SELECT order_key
FROM (
    SELECT o.order_key, o.member_email
    FROM orders o
    LEFT JOIN _pending_checks c ON c.bot_id = o.bot_id AND c.order_key = o.order_key
    WHERE o.bot_id = $1 AND o.order_status = 'PENDING' AND o._deleted_at IS NULL
      AND o.order_date < to_timestamp($2)
    ORDER BY c.checked_at ASC NULLS FIRST, o.order_date DESC, o.order_key DESC
    LIMIT $3
)
WHERE NOT $4 OR member_email IS NULL;
