-- An old PENDING order re-read by key in the rotation (see 006_pending_checks.sql).
-- Parameters: bot_id, order_key, the run's time (microseconds).
INSERT OR REPLACE INTO _pending_checks (bot_id, order_key, checked_at)
VALUES (?, ?, make_timestamp(?)::TIMESTAMPTZ)
