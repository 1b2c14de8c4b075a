-- Whether the warehouse has order data for a bot: an order, or an orders stream that was
-- synced (a bot with none: a legacy-API warehouse, or synced without the orders stream).
-- Parameters: $1 bot_id.
SELECT EXISTS (SELECT 1 FROM orders WHERE bot_id = $1)
       OR EXISTS (SELECT 1 FROM _sync_state WHERE bot_id = $1 AND stream = 'orders');
