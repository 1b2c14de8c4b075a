-- Orders of one bot in the lookback window. Parameters: bot_id, cutoff (UNIX seconds).
SELECT count(*) FROM orders WHERE bot_id = ? AND order_date >= to_timestamp(?)
