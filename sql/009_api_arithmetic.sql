-- 009 (two changes from the API text's arithmetic and flags).
--
-- Exchange rates as the API applies them (docs/data-contract.md §2.2, "The API's arithmetic"): each
-- currency pair's own rate, quoted to 8 decimals, read off /revenue over a window whose
-- sales are all in the pair's `from` currency (src/fx/pair_rate.rs). A window whose
-- sales are small (0.0005 BTC) may leave several 8-decimal rates that reproduce its
-- revenue: rate_low and rate_high bound them (inclusive), and `rate` is the one reports
-- use. rate_low = rate_high: the rate is exact. NULL bounds: a rate from before this
-- migration (composed through a pivot currency) or an imported one (the operator's word).
ALTER TABLE fx_rates ADD COLUMN IF NOT EXISTS rate_low DECIMAL(38,18);
ALTER TABLE fx_rates ADD COLUMN IF NOT EXISTS rate_high DECIMAL(38,18);

-- Coupon flags take the integers 0-3 the API uses for the same flags on plans (booleans
-- read as 0 and 1): BOOLEAN columns become BIGINT, true as 1 and false as 0.
ALTER TABLE coupons ALTER newcomers SET DATA TYPE BIGINT USING CAST(newcomers AS BIGINT);
ALTER TABLE coupons ALTER singleuse SET DATA TYPE BIGINT USING CAST(singleuse AS BIGINT);
ALTER TABLE coupons ALTER invitee_only SET DATA TYPE BIGINT USING CAST(invitee_only AS BIGINT);
