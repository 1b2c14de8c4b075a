-- The latest exchange rate read off /revenue (source 'api') of each pair of one bot, with
-- its bounds; a rate from before the bounds were kept (NULL bounds) is left out.
-- Parameters: $1 bot_id.
SELECT from_currency, to_currency, rate::VARCHAR, rate_low::VARCHAR, rate_high::VARCHAR
FROM fx_rates
WHERE bot_id = $1 AND source = 'api'
QUALIFY row_number() OVER (PARTITION BY from_currency, to_currency ORDER BY as_of DESC) = 1
    AND rate_low IS NOT NULL AND rate_high IS NOT NULL;
