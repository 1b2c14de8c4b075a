-- Exchange rates read off /revenue by one run (source 'api'), all in one statement: the
-- four lists are one rate per position (same length), zipped by unnest.
-- Parameters: bot_id, the run's time (microseconds), from currencies, to currencies,
-- rates and rate tails (decimal text), each a VARCHAR list.
INSERT OR REPLACE INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, rate_tail, source)
SELECT ?, make_timestamp(?)::TIMESTAMPTZ, from_currency, to_currency,
       CAST(rate AS DECIMAL(38,18)), CAST(rate_tail AS DECIMAL(38,18)), 'api'
FROM (
    SELECT unnest(CAST(? AS VARCHAR[])) AS from_currency,
           unnest(CAST(? AS VARCHAR[])) AS to_currency,
           unnest(CAST(? AS VARCHAR[])) AS rate,
           unnest(CAST(? AS VARCHAR[])) AS rate_tail
)
