-- One rate of `tgm-sync fx import`. Parameters: $1 bot_id, $2 as_of (microseconds),
-- $3 from_currency, $4 to_currency, $5 rate (decimal text).
INSERT OR REPLACE INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, source)
VALUES ($1, make_timestamp($2)::TIMESTAMPTZ, $3, $4, CAST($5 AS DECIMAL(38,18)), 'import');
