-- One rate of `tgm-sync fx import`. Parameters: bot_id, as_of (microseconds),
-- from_currency, to_currency, rate (decimal text).
INSERT OR REPLACE INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, source)
VALUES (?, make_timestamp(?)::TIMESTAMPTZ, ?, ?, CAST(? AS DECIMAL(38,18)), 'import')
