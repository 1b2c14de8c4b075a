-- The old PENDING orders to re-read this run, on a schedule that backs off with their
-- age. An order's status was last read by its last re-read by key (`_pending_checks`) or
-- by the last full scan of orders, whichever is later; it is due once the bot's runs
-- since then reach its age in whole days before the newest order, at least 1 and at most
-- `cap` runs (young ones often, old ones rarely). Of the due ones, `budget`: the most
-- overdue first, then the newest orders, then the larger key; with `only_without_email`,
-- those of them with no stored email. `ahead` is 0 to ask for this run (whose own
-- `_sync_runs` row counts), 1 for the next one (after a full scan in this run).
-- Parameters: $1 bot_id, $2 cutoff (UNIX seconds), $3 the newest order (UNIX seconds),
-- $4 cap (runs), $5 ahead, $6 budget, $7 only_without_email.
WITH old AS (
    SELECT o.order_key, o.member_email, o.order_date,
           least(greatest(($3 * 1000000 - epoch_us(o.order_date::TIMESTAMP)) // 86400000000, 1), $4)
               AS every,
           CASE
               WHEN c.checked_at IS NULL THEN s.last_full_scan_at
               WHEN s.last_full_scan_at IS NULL THEN c.checked_at
               ELSE greatest(c.checked_at, s.last_full_scan_at)
           END AS last_read
    FROM orders o
    LEFT JOIN _pending_checks c ON c.bot_id = o.bot_id AND c.order_key = o.order_key
    LEFT JOIN _sync_state s ON s.bot_id = o.bot_id AND s.stream = 'orders'
    WHERE o.bot_id = $1 AND o.order_status = 'PENDING' AND o._deleted_at IS NULL
      AND o.order_date < to_timestamp($2)
),
scheduled AS (
    SELECT old.*,
           $5 + (SELECT count(*) FROM _sync_runs r
                 WHERE r.bot_id = $1
                   AND (old.last_read IS NULL OR r.started_at > old.last_read)) AS since
    FROM old
)
SELECT order_key
FROM (
    SELECT order_key, member_email
    FROM scheduled
    WHERE since >= every
    ORDER BY since - every DESC, order_date DESC, order_key DESC
    LIMIT $6
)
WHERE NOT $7 OR member_email IS NULL;
