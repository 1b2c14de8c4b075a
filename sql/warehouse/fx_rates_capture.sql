-- Exchange rates read off /revenue by one run (source 'api'), all in one statement: the
-- lists are one rate per position (same length), zipped by unnest. Each is a pair's own
-- 8-decimal rate with the bounds of the rates that reproduce its window's revenue
-- (sql/009_api_arithmetic.sql); rate_tail is 0.
-- Parameters: bot_id, the run's time (microseconds), from currencies, to currencies,
-- rates, lower and upper bounds (decimal text), each a VARCHAR list.
INSERT OR REPLACE INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, rate_tail,
                                 source, rate_low, rate_high)
SELECT ?, make_timestamp(?)::TIMESTAMPTZ, from_currency, to_currency,
       CAST(rate AS DECIMAL(38,18)), 0, 'api',
       CAST(rate_low AS DECIMAL(38,18)), CAST(rate_high AS DECIMAL(38,18))
FROM (
    SELECT unnest(CAST(? AS VARCHAR[])) AS from_currency,
           unnest(CAST(? AS VARCHAR[])) AS to_currency,
           unnest(CAST(? AS VARCHAR[])) AS rate,
           unnest(CAST(? AS VARCHAR[])) AS rate_low,
           unnest(CAST(? AS VARCHAR[])) AS rate_high
)
