-- The old PENDING orders to re-read this run: `budget` of them, least recently re-read
-- first (never re-read counts as oldest), newest orders first among equals, then the
-- larger key; with `only_without_email`, those of them with no stored email.
-- Parameters: bot_id, cutoff (UNIX seconds), budget, only_without_email.
SELECT order_key
FROM (
    SELECT o.order_key, o.member_email
    FROM orders o
    LEFT JOIN _pending_checks c ON c.bot_id = o.bot_id AND c.order_key = o.order_key
    WHERE o.bot_id = ? AND o.order_status = 'PENDING' AND o._deleted_at IS NULL
      AND o.order_date < to_timestamp(?)
    ORDER BY c.checked_at ASC NULLS FIRST, o.order_date DESC, o.order_key DESC
    LIMIT ?
)
WHERE NOT ? OR member_email IS NULL
