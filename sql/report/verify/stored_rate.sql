-- The rate the warehouse converts with from one currency into another (fx_effective, as
-- the report macros use it), as text; no row when it has none.
-- Parameters: $1 bot_id, $2 from currency, $3 to currency (upper case).
SELECT CAST(fx.rate AS VARCHAR)
FROM fx_effective AS fx
WHERE fx.bot_id = $1 AND fx.from_currency = $2 AND fx.to_currency = $3;
