-- `tgm-sync status`, section "Exchange rates":
-- Per bot, the rates reports convert with (fx_effective): the pairs, those that are the
-- API's 8-decimal rate pinned down exactly, the pairs whose windows leave more than one
-- 8-decimal rate (rate_low..rate_high, migration 009), those captured before per-pair
-- capture (no bounds: re-run sync), and imported ones.
SELECT fx.bot_id,
       count(*) AS pairs,
       count(*) FILTER (WHERE fx.source = 'api' AND fx.rate_low = fx.rate_high) AS exact,
       coalesce(string_agg(fx.from_currency || '→' || fx.to_currency, ', '
                           ORDER BY fx.from_currency, fx.to_currency)
                FILTER (WHERE fx.source = 'api' AND fx.rate_low <> fx.rate_high), '')
           AS not_pinned_down,
       count(*) FILTER (WHERE fx.source = 'api' AND fx.rate_low IS NULL) AS before_per_pair,
       count(*) FILTER (WHERE fx.source = 'import') AS imported
FROM fx_effective AS fx
WHERE fx.source <> 'identity'
GROUP BY fx.bot_id
ORDER BY fx.bot_id;
