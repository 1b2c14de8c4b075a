-- Exchange rates read off /revenue by one run (source 'api'), all in one statement: the
-- lists are one rate per position (same length), zipped by unnest. Each is a pair's own
-- 8-decimal rate with the bounds of the rates that reproduce its window's revenue
-- (sql/009_api_arithmetic.sql); rate_tail is 0.
-- Parameters: $1 bot_id, $2 the run's time (microseconds), $3 from currencies, $4 to
-- currencies, $5 rates, $6 lower and $7 upper bounds (decimal text), $3 to $7 each a
-- VARCHAR list.
INSERT OR REPLACE INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, rate_tail,
                                 source, rate_low, rate_high)
SELECT $1, make_timestamp($2)::TIMESTAMPTZ, from_currency, to_currency,
       CAST(rate AS DECIMAL(38,18)), 0, 'api',
       CAST(rate_low AS DECIMAL(38,18)), CAST(rate_high AS DECIMAL(38,18))
FROM (
    SELECT unnest(CAST($3 AS VARCHAR[])) AS from_currency,
           unnest(CAST($4 AS VARCHAR[])) AS to_currency,
           unnest(CAST($5 AS VARCHAR[])) AS rate,
           unnest(CAST($6 AS VARCHAR[])) AS rate_low,
           unnest(CAST($7 AS VARCHAR[])) AS rate_high
);
