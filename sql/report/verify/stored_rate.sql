-- The rate the warehouse converts with from one currency into another (fx_effective, as
-- the report macros use it), as text; no row when it has none.
-- Parameters: bot_id, from currency, to currency (upper case).
SELECT CAST(fx.rate AS VARCHAR)
FROM fx_effective AS fx
WHERE fx.bot_id = ? AND fx.from_currency = ? AND fx.to_currency = ?;
