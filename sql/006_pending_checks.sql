-- 006: when each old PENDING order was last re-read by key (`/orders/{key}`) by the
-- rotation. A run whose reconciliation of the older sales finds no difference re-reads
-- only a budget of them (`pending_refetch_limit`), least recently re-read first, and
-- records them here, so that every one is re-read within (old PENDING orders / budget)
-- runs. After a full scan, those of that budget with no member_email yet are re-read for
-- it, unrecorded.

CREATE TABLE IF NOT EXISTS _pending_checks (
    bot_id     BIGINT NOT NULL,
    order_key  VARCHAR NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (bot_id, order_key)
);
