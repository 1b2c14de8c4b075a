-- The captured rates not pinned down to one 8-decimal rate (sql/009_api_arithmetic.sql):
-- reports converted at them may be off by the sales' rounding.
-- Parameters: $1 bot_id. Columns: from, to, rate, low, high (text).
SELECT fx.from_currency, fx.to_currency, CAST(fx.rate AS VARCHAR),
       CAST(fx.rate_low AS VARCHAR), CAST(fx.rate_high AS VARCHAR)
FROM fx_effective AS fx
WHERE fx.bot_id = $1 AND fx.rate_low IS NOT NULL AND fx.rate_low <> fx.rate_high
ORDER BY fx.from_currency, fx.to_currency;
