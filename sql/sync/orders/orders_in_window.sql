-- Orders of one bot in the lookback window. Parameters: $1 bot_id,
-- $2 cutoff (UNIX seconds).
SELECT count(*) FROM orders WHERE bot_id = $1 AND order_date >= to_timestamp($2);
