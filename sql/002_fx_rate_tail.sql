-- Exchange rates to 36 decimal places: `rate` keeps the first 18 (truncated toward
-- zero), `rate_tail` the next 18 as a fraction, so the rate is
--     rate + rate_tail * 1e-18        (0 <= rate_tail < 1)
-- An 18-place rate is not enough to reproduce the API's `formatted` on rounding edges:
-- 0.54 USD at 0.787037037037037037 GBP/USD is 0.42499999999999999998, not the 0.425 the
-- API rounds to £0.43 (and small rates such as JPY->BTC keep only ~11 digits at 18
-- places). Rates without a tail (imported ones, older captures) have rate_tail 0.
ALTER TABLE fx_rates ADD COLUMN rate_tail DECIMAL(38,18) DEFAULT 0;
