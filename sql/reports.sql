-- reports.sql: the report layer. The warehouse's answer to every report endpoint of the
-- TGmembership API (docs/data-contract.md §2), as DuckDB macros and views over the synced tables.
--
-- Installed by every sync after the migrations (src/warehouse/schema.rs,
-- install_report_layer): everything here is CREATE OR REPLACE, so running it again is
-- harmless and a new binary replaces an old definition.
--
-- Read it top to bottom: reference data, FX, money formatting, the `sales` view that
-- every report counts, one table macro per endpoint, then views for BI tools.
--
-- Rules this file keeps (docs/data-contract.md §1.8):
--   * Money stays exact DECIMAL(38,18) through every step; rounding happens only in
--     `formatted`. DECIMAL(38,18) * DECIMAL(38,18) overflows in DuckDB 2.0 (scale 36), so
--     conversion goes through fx_mul / fx_mul36; DECIMAL / DECIMAL gives DOUBLE, so
--     nothing divides.
--   * Reports convert as the API does (docs/data-contract.md §2.2, "The API's arithmetic"): each sale at its
--     pair's own rate (8 decimals as captured, sql/009_api_arithmetic.sql; an imported
--     rate as imported, to 36 places with rate_tail), rounded to 8 decimals half away
--     from zero (sale_in_report_currency), and a report sums those per-sale amounts. A
--     sale already in the report currency is taken as it is. The product is exact to 18
--     places before that rounding, so the rounding is the only one for any amount of up
--     to 10 decimals at an 8-decimal rate.
--   * The binary's DuckDB has no ICU extension: nothing here calls date_trunc, strftime,
--     date arithmetic or epoch on a TIMESTAMPTZ. Times are cast to TIMESTAMP first, which
--     is UTC without ICU, and periods are UTC calendar periods. No json_* functions.
--   * Macro parameters share a namespace with unqualified column names, so inside a macro
--     every column is qualified (`s.currency`, never `currency`).
--
-- The report macros (rows per bot, `bot_id` first, then exactly the endpoint's fields):
--   revenue(from_ts, to_ts, currency, bot := NULL)                        /revenue
--   orders_count(interval_unit, interval_count, currency,
--                now_ts := now(), bot := NULL)                            /orders/count
--   plans_report(currency, now_ts := now(), bot := NULL)                  /plans/report
--   plans_report_converted(currency, now_ts := now(), bot := NULL)  the same, breakdown
--                                                   converted (not an API endpoint)
--   payment_methods_report(currency, bot := NULL)                  /paymentMethods/report
--   users_count(bot := NULL)                                              /users/count
-- `currency` is a code in any case ('eur', 'EUR'); NULL means each bot's preferred
-- currency (bot_settings), 'EUR' when it has none, as the API does. The result's
-- `currency` is upper case. `bot` limits a report to one bot_id: pass it rather than
-- filtering afterwards, because a sale with no exchange rate to the report currency is
-- an error, and another bot's missing rate must not fail this bot's report. `now_ts`
-- (TIMESTAMP or TIMESTAMPTZ) pins "the current period" for tests. `revenue` columns are
-- DECIMAL(38,18); money_text() renders one as the API's full-precision string. Results
-- come ordered as the API orders them (per bot), but a caller that needs an order should
-- still say ORDER BY.


-- ==================================================================== reference data

-- The 13 report currencies (docs/data-contract.md §2.1; src/currency.rs). Their minor units: minor_units().
CREATE OR REPLACE VIEW report_currencies AS
SELECT * FROM (VALUES
    ('USD'), ('EUR'), ('GBP'), ('CAD'), ('AUD'), ('NZD'), ('JPY'),
    ('CNY'), ('RUB'), ('BRL'), ('INR'), ('TRY'), ('BTC')
) AS t(code);

-- Every bot this warehouse has heard of: reports list each one, zero-filled.
CREATE OR REPLACE VIEW known_bots AS
SELECT bot_id FROM bot_settings
UNION SELECT bot_id FROM orders
UNION SELECT bot_id FROM plans
UNION SELECT bot_id FROM users_count_history
UNION SELECT bot_id FROM _sync_runs;

-- The currency each report is in, per bot (all bots, or only `bot` when it is not NULL):
-- the requested code, else the bot's preferred currency, else EUR. An unsupported code
-- is an error, not an empty report. A bot with no order data (no order in the warehouse
-- and its orders never synced: a legacy-API warehouse, whose API lists no orders, or a
-- bot synced without the orders stream) has nothing an order report could be computed
-- from: asked for by `bot`, that is an error ("no order data"); over all bots, it is
-- left out. Never a report of zeros for "no data".
CREATE OR REPLACE MACRO report_target(currency, bot) AS TABLE
WITH picked AS (
    SELECT b.bot_id,
           upper(trim(coalesce(CAST(currency AS VARCHAR),
                               nullif(trim(bs.preferred_currency), ''),
                               'EUR'))) AS code,
           EXISTS (SELECT 1 FROM orders AS o WHERE o.bot_id = b.bot_id)
           OR EXISTS (SELECT 1 FROM _sync_state AS st
                      WHERE st.bot_id = b.bot_id AND st.stream = 'orders') AS has_orders
    FROM known_bots AS b
    LEFT JOIN bot_settings AS bs ON bs.bot_id = b.bot_id
    WHERE CAST(bot AS BIGINT) IS NULL OR b.bot_id = CAST(bot AS BIGINT)
)
SELECT p.bot_id,
       CASE WHEN p.code IN (SELECT rc.code FROM report_currencies AS rc) THEN p.code
            ELSE error('unsupported report currency `' || p.code || '` for bot ' || p.bot_id
                       || ': expected one of usd eur gbp cad aud nzd jpy cny rub brl inr try btc')
       END AS report_currency
FROM picked AS p
WHERE CASE WHEN p.has_orders THEN true
           WHEN CAST(bot AS BIGINT) IS NULL THEN false
           ELSE error('no order data for bot ' || p.bot_id || ': its orders were never '
                      || 'synced (the legacy API lists no orders, so a legacy warehouse has '
                      || 'no money data); an order report would be all zeros')
      END;


-- ==================================================================== exchange rates

-- The rate in force per (bot_id, from_currency, to_currency): 1 unit of from_currency is
-- `rate + rate_tail * 1e-18` units of to_currency (rate_tail: digits 19 to 36, see
-- sql/002_fx_rate_tail.sql; 0 when the rate has no more than 18 places). Precedence:
--   1. from = to: the identity, rate 1 (a stored rate for such a pair is ignored);
--   2. a row with source 'import' (`tgm-sync fx import`, the operator's word) beats any
--      'api' row (captured by a sync), whatever their dates; any other source comes last;
--   3. within a source, the latest as_of wins.
-- rate_low / rate_high: the bounds of the 8-decimal rates a captured window allows
-- (sql/009_api_arithmetic.sql); equal when the rate is exact, NULL when unknown.
-- Rates are pair rates: no inverse or cross rate is derived (that would divide, and
-- DECIMAL / DECIMAL is DOUBLE). A pair with no rate has no row here, and a report that
-- needs it fails naming the pair (see sales_in).
CREATE OR REPLACE VIEW fx_effective AS
WITH normalised AS (
    SELECT f.bot_id,
           upper(trim(f.from_currency)) AS from_currency,
           upper(trim(f.to_currency)) AS to_currency,
           f.rate,
           coalesce(f.rate_tail, 0) AS rate_tail,
           lower(trim(f.source)) AS source,
           f.as_of,
           f.rate_low,
           f.rate_high
    FROM fx_rates AS f
),
ranked AS (
    SELECT n.*,
           row_number() OVER (
               PARTITION BY n.bot_id, n.from_currency, n.to_currency
               ORDER BY CASE n.source WHEN 'import' THEN 0 WHEN 'api' THEN 1 ELSE 2 END,
                        n.as_of DESC, n.rate
           ) AS precedence
    FROM normalised AS n
    WHERE n.from_currency <> n.to_currency
),
currencies AS (
    SELECT rc.code FROM report_currencies AS rc
    UNION SELECT upper(trim(o.currency)) FROM orders AS o WHERE o.currency IS NOT NULL
    UNION SELECT n.from_currency FROM normalised AS n
    UNION SELECT n.to_currency FROM normalised AS n
),
bots AS (
    SELECT kb.bot_id FROM known_bots AS kb
    UNION SELECT n.bot_id FROM normalised AS n
)
SELECT r.bot_id, r.from_currency, r.to_currency, r.rate, r.rate_tail, r.source, r.as_of,
       r.rate_low, r.rate_high
FROM ranked AS r
WHERE r.precedence = 1
UNION ALL
SELECT b.bot_id, c.code, c.code, CAST(1 AS DECIMAL(38,18)), CAST(0 AS DECIMAL(38,18)),
       'identity', CAST(NULL AS TIMESTAMPTZ), CAST(1 AS DECIMAL(38,18)),
       CAST(1 AS DECIMAL(38,18))
FROM bots AS b
CROSS JOIN currencies AS c;

-- Integer and fractional parts of a DECIMAL(38,18): x = _int_part(x) + _frac_part(x),
-- both with the sign of x, |_frac_part(x)| < 1.
CREATE OR REPLACE MACRO _int_part(x) AS trunc(CAST(x AS DECIMAL(38,18)));           -- DECIMAL(38,0)
CREATE OR REPLACE MACRO _frac_part(x) AS
    CAST(x AS DECIMAL(38,18)) - trunc(CAST(x AS DECIMAL(38,18)));                      -- DECIMAL(38,18)

-- amount * rate, exact to 18 places, without DuckDB 2.0's scale-36 overflow.
-- With A = Ai + Af and R = Ri + Rf (integer + fractional parts, same signs):
--   A*R = Ai*Ri            DECIMAL(38,0), exact
--       + Ai*Rf + Af*Ri    DECIMAL(38,18), exact (a fraction has at most 18 digits)
--       + Af*Rf            DECIMAL(38,36), exact and < 1, so it fits; then rounded to 18
--                          places, half away from zero.
-- All four terms share one sign, so the result is A*R rounded half away from zero to 18
-- places. It overflows (an error, never a wrong number) only when |A*R| >= 10^20, the
-- limit of DECIMAL(38,18) itself.
CREATE OR REPLACE MACRO fx_mul(amount, rate) AS
    CAST(_int_part(amount) * _int_part(rate) AS DECIMAL(38,18))
    + _int_part(amount) * _frac_part(rate)
    + _frac_part(amount) * _int_part(rate)
    + CAST(_frac_part(amount) * _frac_part(rate) AS DECIMAL(38,18));

-- amount * (rate + rate_tail * 1e-18): a rate to 36 places (fx_effective), with a single
-- rounding to 18 places, half away from zero. rate >= 0 holds the first 18 places,
-- 0 <= rate_tail < 1 the next 18. With A = Ai + Af, R = Ri + Rf, T = rate_tail and
-- W = Ai*T = Wi + Wf:
--   A*(R + T/1e18) = Ai*Ri + Ai*Rf + Af*Ri + Wi/1e18          exact at 18 places
--                  + Af*Rf + Wf/1e18 + (Af*T)/1e18            < 1, summed at 36 places
-- and only that sub-unit sum is rounded, once. (Af*T)/1e18 is below 1e-18 and is itself
-- taken to 36 places, an error under 1e-36 that cannot move an exact 18-place result.
-- All terms have the sign of A, so the result is A times the 36-place rate rounded half
-- away from zero to 18 places; like fx_mul it overflows (an error) at |A*R| >= 10^20.
-- x / 1e18 as DECIMAL(38,36), exact for an x of up to 18 places and |x| < 1e20.
CREATE OR REPLACE MACRO _e18(x) AS
    CAST(x AS DECIMAL(38,18)) * CAST('0.000000000000000001' AS DECIMAL(19,18));
CREATE OR REPLACE MACRO _tail(rate_tail) AS CAST(coalesce(rate_tail, 0) AS DECIMAL(38,18));
CREATE OR REPLACE MACRO fx_mul36(amount, rate, rate_tail) AS
    CAST(_int_part(amount) * _int_part(rate) AS DECIMAL(38,18))
    + _int_part(amount) * _frac_part(rate)
    + _frac_part(amount) * _int_part(rate)
    + CAST(_e18(_int_part(_int_part(amount) * _tail(rate_tail))) AS DECIMAL(38,18))
    + CAST(  CAST(_frac_part(amount) * _frac_part(rate) AS DECIMAL(38,36))
           + _e18(_frac_part(_int_part(amount) * _tail(rate_tail)))
           + _e18(CAST(_frac_part(amount) * _tail(rate_tail) AS DECIMAL(38,18)))
           AS DECIMAL(38,18));


-- ==================================================================== money as text

-- Digits after the decimal point in `formatted`: JPY 0, BTC 8, any other currency 2.
CREATE OR REPLACE MACRO minor_units(currency) AS
    CASE upper(trim(currency)) WHEN 'JPY' THEN 0 WHEN 'BTC' THEN 8 ELSE 2 END;

-- |amount| rounded half away from zero to the currency's minor unit, as plain digits
-- ('1234.56', '1235', '0.00012345'). The cast to a smaller scale is what rounds.
CREATE OR REPLACE MACRO _abs_rounded_text(amount, currency) AS
    CASE minor_units(currency)
        WHEN 0 THEN CAST(CAST(abs(CAST(amount AS DECIMAL(38,18))) AS DECIMAL(38,0)) AS VARCHAR)
        WHEN 8 THEN CAST(CAST(abs(CAST(amount AS DECIMAL(38,18))) AS DECIMAL(38,8)) AS VARCHAR)
        ELSE CAST(CAST(abs(CAST(amount AS DECIMAL(38,18))) AS DECIMAL(38,2)) AS VARCHAR)
    END;

-- Integer digits in groups of three from the right, joined by sep: ('1234567', ',') ->
-- '1,234,567'. Groups of three in every currency (INR too, as docs/data-contract.md §2.10 shows it).
CREATE OR REPLACE MACRO _group3(digits, sep) AS
    reverse(rtrim(regexp_replace(reverse(digits), '(\d{3})', '\1' || sep, 'g'), sep));

-- _abs_rounded_text split into grouped integer part and fraction, and reassembled.
CREATE OR REPLACE MACRO _money_number(amount, currency, group_sep, decimal_sep) AS
    _group3(split_part(_abs_rounded_text(amount, currency), '.', 1), group_sep)
    || CASE WHEN minor_units(currency) = 0 THEN ''
            ELSE decimal_sep || split_part(_abs_rounded_text(amount, currency), '.', 2)
       END;

-- docs/data-contract.md §2.10 `formatted`: rounded half away from zero to the minor unit, the currency's
-- symbol and separators, a leading '-' for a negative value that does not round to zero.
--   USD $1,234.56    EUR 1 234,56€    GBP £1,234.56    CAD CA$1,234.56  AUD A$1,234.56
--   NZD NZ$1,234.56  JPY ¥1,235       CNY CN¥1,234.56  RUB 1 234,56 ₽   BRL R$ 1.234,56
--   INR ₹1,234.56    TRY ₺1.234,56    BTC ₿0.00012345
-- The currency is case-insensitive. Any other code: '1,234.56 XYZ'. NULL amount: NULL.
CREATE OR REPLACE MACRO format_money(amount, currency) AS
    CASE WHEN amount IS NULL THEN NULL ELSE
        CASE WHEN CAST(amount AS DECIMAL(38,18)) < 0
                  AND regexp_matches(_abs_rounded_text(amount, currency), '[1-9]')
             THEN '-' ELSE '' END
        || CASE upper(trim(currency))
               WHEN 'USD' THEN '$'   || _money_number(amount, currency, ',', '.')
               WHEN 'EUR' THEN          _money_number(amount, currency, ' ', ',') || '€'
               WHEN 'GBP' THEN '£'   || _money_number(amount, currency, ',', '.')
               WHEN 'CAD' THEN 'CA$' || _money_number(amount, currency, ',', '.')
               WHEN 'AUD' THEN 'A$'  || _money_number(amount, currency, ',', '.')
               WHEN 'NZD' THEN 'NZ$' || _money_number(amount, currency, ',', '.')
               WHEN 'JPY' THEN '¥'   || _money_number(amount, currency, ',', '.')
               WHEN 'CNY' THEN 'CN¥' || _money_number(amount, currency, ',', '.')
               WHEN 'RUB' THEN          _money_number(amount, currency, ' ', ',') || ' ₽'
               WHEN 'BRL' THEN 'R$ ' || _money_number(amount, currency, '.', ',')
               WHEN 'INR' THEN '₹'   || _money_number(amount, currency, ',', '.')
               WHEN 'TRY' THEN '₺'   || _money_number(amount, currency, '.', ',')
               WHEN 'BTC' THEN '₿'   || _money_number(amount, currency, ',', '.')
               ELSE _money_number(amount, currency, ',', '.') || ' ' || upper(trim(currency))
           END
    END;

-- A decimal as the API writes `revenue`: full precision, no trailing zeros
-- ('398.60636332', '5', '0').
CREATE OR REPLACE MACRO money_text(amount) AS
    CASE WHEN amount IS NULL THEN NULL ELSE
        regexp_replace(regexp_replace(CAST(CAST(amount AS DECIMAL(38,18)) AS VARCHAR),
                                      '0+$', ''),
                       '\.$', '')
    END;


-- ==================================================================== sales

-- Gateway code <-> display name, one row per (bot_id, alias): an order's
-- payment_gateway (lower-cased) is looked up in `alias`. A code matches itself first,
-- then display names of installed gateways, then of uninstalled ones; payment_methods
-- backs up the gateways table.
CREATE OR REPLACE VIEW gateway_names AS
WITH aliases AS (
    SELECT g.bot_id, lower(trim(g.code)) AS alias, g.code, g.display_name, 0 AS priority
    FROM gateways AS g
    UNION ALL
    SELECT g.bot_id, lower(trim(g.display_name)), g.code, g.display_name,
           CASE WHEN g.installed THEN 1 ELSE 2 END
    FROM gateways AS g
    UNION ALL
    SELECT pm.bot_id, lower(trim(pm.name)), pm.name, pm.display_name, 3
    FROM payment_methods AS pm
    UNION ALL
    SELECT pm.bot_id, lower(trim(pm.display_name)), pm.name, pm.display_name, 4
    FROM payment_methods AS pm
    WHERE pm.display_name IS NOT NULL
)
SELECT a.bot_id, a.alias, a.code, a.display_name
FROM aliases AS a
WHERE a.alias IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY a.bot_id, a.alias ORDER BY a.priority, a.code) = 1;

-- What every report counts: completed orders still returned by the API, with the
-- gateway code resolved (unknown display names fall back to their lower-case text),
-- the native currency upper-cased and the order time in UTC as a TIMESTAMP.
CREATE OR REPLACE VIEW sales AS
SELECT o.bot_id,
       o.order_key,
       o.order_date,
       CAST(o.order_date AS TIMESTAMP) AS order_date_utc,
       o.member_id,
       o.plan_id,
       o.plan_name,
       o.project_id,
       o.payment_gateway,
       coalesce(g.code, lower(trim(o.payment_gateway))) AS gateway_code,
       g.display_name AS gateway_display_name,
       o.amount,
       upper(trim(o.currency)) AS currency
FROM orders AS o
LEFT JOIN gateway_names AS g
       ON g.bot_id = o.bot_id AND g.alias = lower(trim(o.payment_gateway))
WHERE upper(trim(o.order_status)) = 'COMPLETED'
  AND o._deleted_at IS NULL;

-- One sale converted as the API converts it (docs/data-contract.md §2.2): at the pair's rate, rounded to 8
-- decimals half away from zero (the cast to scale 8 rounds so); a sale in the report
-- currency itself is its amount.
CREATE OR REPLACE MACRO sale_in_report_currency(amount, currency, report_currency, rate, rate_tail) AS
    CASE WHEN currency = report_currency THEN CAST(amount AS DECIMAL(38,18))
         ELSE CAST(CAST(fx_mul36(amount, rate, rate_tail) AS DECIMAL(38,8)) AS DECIMAL(38,18))
    END;

-- Sales of `bot` (NULL: every bot) with order_date_utc in [from_utc, to_utc) (TIMESTAMP,
-- NULL = unbounded), each with the rate in force from its currency to the bot's report
-- currency (see report_target): fx_rate + fx_rate_tail * 1e-18, and revenue_amount =
-- the sale converted as the API converts it (sale_in_report_currency). Every report
-- sums revenue_amount, per sale, as the API does. A sale
-- whose currency has no rate to the report currency stops the query with an error
-- naming the pair as soon as fx_rate is read: a report never silently leaves a sale out.
-- The WHERE runs before the conversion, so only the sales a report counts need a rate.
CREATE OR REPLACE MACRO sales_in(currency, from_utc, to_utc, bot) AS TABLE
WITH rated AS (
    SELECT s.*,
           t.report_currency,
           CASE WHEN s.amount IS NULL THEN NULL
                WHEN fx.rate IS NULL THEN error(
                    'no exchange rate for bot ' || s.bot_id || ' from '
                    || coalesce(s.currency, '(no currency)') || ' to ' || t.report_currency
                    || ' (order ' || s.order_key || '): sync again, or add one with '
                    || '`tgm-sync fx import`')
                ELSE fx.rate
           END AS fx_rate,
           CASE WHEN s.amount IS NULL THEN NULL ELSE fx.rate_tail END AS fx_rate_tail
    FROM sales AS s
    JOIN report_target(currency, bot) AS t ON t.bot_id = s.bot_id
    LEFT JOIN fx_effective AS fx
           ON fx.bot_id = s.bot_id
          AND fx.from_currency = s.currency
          AND fx.to_currency = t.report_currency
    WHERE (CAST(from_utc AS TIMESTAMP) IS NULL OR s.order_date_utc >= CAST(from_utc AS TIMESTAMP))
      AND (CAST(to_utc AS TIMESTAMP) IS NULL OR s.order_date_utc < CAST(to_utc AS TIMESTAMP))
)
SELECT r.*,
       sale_in_report_currency(r.amount, r.currency, r.report_currency, r.fx_rate,
                               r.fx_rate_tail) AS revenue_amount
FROM rated AS r;


-- ==================================================================== periods (UTC)

-- UNIX seconds -> TIMESTAMP (UTC). NULL stays NULL.
CREATE OR REPLACE MACRO unix_to_utc(seconds) AS make_timestamp(CAST(seconds AS BIGINT) * 1000000);

-- 'day' | 'month' | 'year' in any case; anything else is an error.
CREATE OR REPLACE MACRO _period_unit(interval_unit) AS
    CASE WHEN lower(trim(interval_unit)) IN ('day', 'month', 'year') THEN lower(trim(interval_unit))
         ELSE error('interval_unit must be day, month or year, not `'
                    || coalesce(CAST(interval_unit AS VARCHAR), 'NULL') || '`')
    END;

-- Start of the UTC period holding ts (TIMESTAMP or TIMESTAMPTZ), shifted by k periods.
CREATE OR REPLACE MACRO period_start(unit, ts, k) AS
    date_trunc(unit, CAST(ts AS TIMESTAMP))
    + CASE unit WHEN 'day' THEN to_days(CAST(k AS INTEGER))
                WHEN 'month' THEN to_months(CAST(k AS INTEGER))
                ELSE to_years(CAST(k AS INTEGER)) END;

-- A period's label as the API writes it: 'YYYY-MM-DD', 'YYYY-MM' or 'YYYY'.
CREATE OR REPLACE MACRO period_label(unit, start_utc) AS
    CASE unit WHEN 'day' THEN strftime(CAST(start_utc AS TIMESTAMP), '%Y-%m-%d')
              WHEN 'month' THEN strftime(CAST(start_utc AS TIMESTAMP), '%Y-%m')
              ELSE strftime(CAST(start_utc AS TIMESTAMP), '%Y') END;


-- ==================================================================== report macros

-- Every report below groups sales twice: first by its own key plus the sale currency
-- (per_currency: native sums for the breakdown, and the per-sale converted amounts
-- summed), then by its own key alone, adding up the converted sums.

-- /revenue: sales with from_ts <= order_date < to_ts (UNIX seconds; NULL = unbounded).
-- Columns: bot_id, from, to, revenue, currency, formatted, sales.
CREATE OR REPLACE MACRO revenue(from_ts, to_ts, currency, bot := NULL) AS TABLE
WITH per_currency AS (
    SELECT x.bot_id, x.fx_rate, x.fx_rate_tail, sum(x.amount) AS native,
           sum(x.revenue_amount) AS converted, count(*) AS sales
    FROM sales_in(currency, unix_to_utc(from_ts), unix_to_utc(to_ts), bot) AS x
    GROUP BY x.bot_id, x.currency, x.fx_rate, x.fx_rate_tail
),
totals AS (
    SELECT c.bot_id,
           sum(c.converted) AS revenue,
           sum(c.sales) AS sales
    FROM per_currency AS c
    GROUP BY c.bot_id
)
SELECT t.bot_id,
       CAST(from_ts AS BIGINT) AS "from",
       CAST(to_ts AS BIGINT) AS "to",
       CAST(coalesce(tot.revenue, 0) AS DECIMAL(38,18)) AS revenue,
       t.report_currency AS currency,
       format_money(coalesce(tot.revenue, 0), t.report_currency) AS formatted,
       CAST(coalesce(tot.sales, 0) AS BIGINT) AS sales
FROM report_target(currency, bot) AS t
LEFT JOIN totals AS tot ON tot.bot_id = t.bot_id
ORDER BY t.bot_id;

-- /orders/count's defaults (the API text): interval_unit 'month', interval_count 1.
CREATE OR REPLACE MACRO _unit_or_month(interval_unit) AS
    coalesce(CAST(interval_unit AS VARCHAR), 'month');
CREATE OR REPLACE MACRO _count_or_one(interval_count) AS
    coalesce(CAST(interval_count AS BIGINT), 1);

-- /orders/count: the last interval_count UTC periods up to and including the one holding
-- now_ts, newest first, every period present (zero-filled). NULL interval_unit or
-- interval_count take the API's defaults: 'month' and 1.
-- Columns: bot_id, period, revenue, currency, formatted, sales.
CREATE OR REPLACE MACRO orders_count(interval_unit, interval_count, currency, now_ts := now(), bot := NULL) AS TABLE
WITH periods AS (
    SELECT k.i AS age,
           period_start(_period_unit(_unit_or_month(interval_unit)), now_ts, -k.i) AS start_utc
    FROM (SELECT unnest(range(
              CASE WHEN _count_or_one(interval_count) >= 1 THEN _count_or_one(interval_count)
                   ELSE error('interval_count must be at least 1, not '
                              || CAST(_count_or_one(interval_count) AS VARCHAR))
              END)) AS i) AS k
),
per_currency AS (
    SELECT x.bot_id,
           date_trunc(_period_unit(_unit_or_month(interval_unit)), x.order_date_utc) AS start_utc,
           x.fx_rate, x.fx_rate_tail,
           sum(x.amount) AS native,
           sum(x.revenue_amount) AS converted,
           count(*) AS sales
    FROM sales_in(currency,
                  period_start(_period_unit(_unit_or_month(interval_unit)), now_ts,
                               1 - _count_or_one(interval_count)),
                  period_start(_period_unit(_unit_or_month(interval_unit)), now_ts, 1),
                  bot) AS x
    GROUP BY x.bot_id, date_trunc(_period_unit(_unit_or_month(interval_unit)), x.order_date_utc),
             x.currency, x.fx_rate, x.fx_rate_tail
),
per_period AS (
    SELECT c.bot_id, c.start_utc,
           sum(c.converted) AS revenue,
           sum(c.sales) AS sales
    FROM per_currency AS c
    GROUP BY c.bot_id, c.start_utc
)
SELECT t.bot_id,
       period_label(_period_unit(_unit_or_month(interval_unit)), p.start_utc) AS period,
       CAST(coalesce(pp.revenue, 0) AS DECIMAL(38,18)) AS revenue,
       t.report_currency AS currency,
       format_money(coalesce(pp.revenue, 0), t.report_currency) AS formatted,
       CAST(coalesce(pp.sales, 0) AS BIGINT) AS sales
FROM report_target(currency, bot) AS t
CROSS JOIN periods AS p
LEFT JOIN per_period AS pp ON pp.bot_id = t.bot_id AND pp.start_utc = p.start_utc
ORDER BY t.bot_id, p.age;

-- plans_report() and plans_report_converted() below: `converted_breakdown` picks the
-- breakdown.
CREATE OR REPLACE MACRO _plans_report(currency, now_ts, bot, converted_breakdown) AS TABLE
WITH per_currency AS (
    SELECT x.bot_id,
           x.plan_id,
           date_trunc('month', x.order_date_utc) AS month_utc,
           x.currency, x.fx_rate, x.fx_rate_tail,
           any_value(x.report_currency) AS report_currency,
           sum(x.amount) AS native,
           sum(x.revenue_amount) AS converted,
           count(*) AS sales,
           max_by(x.plan_name, x.order_date_utc) AS order_plan_name,
           max(x.order_date_utc) AS last_sale_utc
    FROM sales_in(currency,
                  period_start('month', now_ts, -5),
                  period_start('month', now_ts, 1),
                  bot) AS x
    GROUP BY x.bot_id, x.plan_id, date_trunc('month', x.order_date_utc),
             x.currency, x.fx_rate, x.fx_rate_tail
),
-- The API's entries: one per (month, order currency), the native sum.
native_entries AS (
    SELECT c.bot_id,
           c.plan_id,
           c.month_utc,
           c.currency AS order_currency,
           any_value(c.report_currency) AS report_currency,
           CAST(coalesce(sum(c.native), 0) AS DECIMAL(38,18)) AS revenue,
           CAST(sum(c.sales) AS BIGINT) AS sales
    FROM per_currency AS c
    WHERE NOT CAST(converted_breakdown AS BOOLEAN)
    GROUP BY c.bot_id, c.plan_id, c.month_utc, c.currency
),
-- The converted entries: one per month, every currency converted.
converted_entries AS (
    SELECT c.bot_id,
           c.plan_id,
           c.month_utc,
           '' AS order_currency,
           any_value(c.report_currency) AS report_currency,
           CAST(coalesce(sum(c.converted), 0) AS DECIMAL(38,18)) AS revenue,
           CAST(sum(c.sales) AS BIGINT) AS sales
    FROM per_currency AS c
    WHERE CAST(converted_breakdown AS BOOLEAN)
    GROUP BY c.bot_id, c.plan_id, c.month_utc
),
entries AS (
    SELECT * FROM native_entries
    UNION ALL
    SELECT * FROM converted_entries
),
plan_currency AS (
    SELECT c.bot_id, c.plan_id, c.fx_rate, c.fx_rate_tail,
           any_value(c.report_currency) AS report_currency,
           sum(c.native) AS native,
           sum(c.converted) AS converted,
           sum(c.sales) AS sales,
           max_by(c.order_plan_name, c.last_sale_utc) AS order_plan_name,
           max(c.last_sale_utc) AS last_sale_utc
    FROM per_currency AS c
    GROUP BY c.bot_id, c.plan_id, c.currency, c.fx_rate, c.fx_rate_tail
),
per_plan AS (
    SELECT pc.bot_id,
           pc.plan_id,
           any_value(pc.report_currency) AS report_currency,
           CAST(coalesce(sum(pc.converted), 0) AS DECIMAL(38,18)) AS revenue,
           CAST(sum(pc.sales) AS BIGINT) AS sales,
           max_by(pc.order_plan_name, pc.last_sale_utc) AS order_plan_name
    FROM plan_currency AS pc
    GROUP BY pc.bot_id, pc.plan_id
),
breakdowns AS (
    SELECT e.bot_id,
           e.plan_id,
           list({'period': period_label('month', e.month_utc),
                 'revenue': e.revenue,
                 'currency': e.report_currency,
                 'formatted': format_money(e.revenue, e.report_currency),
                 'sales': e.sales}
                ORDER BY e.month_utc DESC, e.order_currency) AS breakdown
    FROM entries AS e
    GROUP BY e.bot_id, e.plan_id
)
SELECT p.bot_id,
       p.plan_id,
       coalesce(pl.plan_name, p.order_plan_name) AS plan_name,
       p.revenue,
       p.report_currency AS currency,
       format_money(p.revenue, p.report_currency) AS formatted,
       p.sales,
       b.breakdown
FROM per_plan AS p
JOIN breakdowns AS b ON b.bot_id = p.bot_id AND b.plan_id = p.plan_id
LEFT JOIN plans AS pl ON pl.bot_id = p.bot_id AND pl.plan_id = p.plan_id
ORDER BY p.bot_id, p.revenue DESC, p.plan_id;

-- /plans/report: each plan with a sale in the UTC month holding now_ts or the 5 before
-- it; revenue and sales over those months, and `breakdown`. Plans by revenue descending
-- (then plan_id). A plan's total is the sum of its sales, each converted and rounded to
-- 8 decimals, as the API computes it.
--
-- `breakdown` is what the API returns (docs/data-contract.md §2.5, corrected 2026-11-29; the API text's
-- sample is the proof): one entry per month AND per order currency, months newest first
-- (within a month by currency code; the API leaves that order open), each holding that
-- currency's NATIVE sum, not converted, while `currency` and `formatted` carry the
-- report's currency. Plan 38 of the sample: total 31.05438 EUR from 3,000 RUB, breakdown
-- "2000" / "2 000,00€" and "1000" / "1 000,00€". So a breakdown entry's revenue is only
-- a money amount when the order currency is the report currency; the correctly converted
-- monthly figures are plans_report_converted() (same columns, one entry per month).
-- plan_name: from the plans table, else the name on the plan's latest order.
-- Columns: bot_id, plan_id, plan_name, revenue, currency, formatted, sales,
--          breakdown LIST(STRUCT(period, revenue, currency, formatted, sales)).
CREATE OR REPLACE MACRO plans_report(currency, now_ts := now(), bot := NULL) AS TABLE
SELECT * FROM _plans_report(currency, now_ts, bot, false);

-- plans_report() with a breakdown that means what it says: one entry per month, the
-- month's sales in every currency converted to the report currency (each sale converted
-- and rounded to 8 decimals, as the totals), `formatted` from that. Totals are plans_report()'s.
-- Not an API endpoint: the API's own breakdown is the native one above.
CREATE OR REPLACE MACRO plans_report_converted(currency, now_ts := now(), bot := NULL) AS TABLE
SELECT * FROM _plans_report(currency, now_ts, bot, true);

-- /paymentMethods/report: each gateway code with sales, all time, by revenue descending
-- (then name). display_name from gateways/payment_methods, else the order's own text.
-- Columns: bot_id, name, display_name, revenue, currency, formatted, sales.
CREATE OR REPLACE MACRO payment_methods_report(currency, bot := NULL) AS TABLE
WITH per_currency AS (
    SELECT x.bot_id,
           x.gateway_code,
           x.fx_rate, x.fx_rate_tail,
           any_value(x.gateway_display_name) AS gateway_display_name,
           max_by(x.payment_gateway, x.order_date_utc) AS order_gateway_name,
           max(x.order_date_utc) AS last_sale_utc,
           any_value(x.report_currency) AS report_currency,
           sum(x.amount) AS native,
           sum(x.revenue_amount) AS converted,
           count(*) AS sales
    FROM sales_in(currency, NULL, NULL, bot) AS x
    GROUP BY x.bot_id, x.gateway_code, x.currency, x.fx_rate, x.fx_rate_tail
),
per_gateway AS (
    SELECT c.bot_id,
           c.gateway_code,
           coalesce(any_value(c.gateway_display_name),
                    max_by(c.order_gateway_name, c.last_sale_utc)) AS display_name,
           any_value(c.report_currency) AS report_currency,
           CAST(coalesce(sum(c.converted), 0) AS DECIMAL(38,18)) AS revenue,
           CAST(sum(c.sales) AS BIGINT) AS sales
    FROM per_currency AS c
    GROUP BY c.bot_id, c.gateway_code
)
SELECT g.bot_id,
       g.gateway_code AS name,
       g.display_name,
       g.revenue,
       g.report_currency AS currency,
       format_money(g.revenue, g.report_currency) AS formatted,
       g.sales
FROM per_gateway AS g
ORDER BY g.bot_id, g.revenue DESC, g.gateway_code;

-- /users/count: the latest snapshot per bot (users and leads cannot be derived, docs/data-contract.md §2.7).
-- Columns: bot_id, users, leads, churned, members.
CREATE OR REPLACE MACRO users_count(bot := NULL) AS TABLE
SELECT h.bot_id, h.users, h.leads, h.churned, h.members
FROM users_count_history AS h
WHERE CAST(bot AS BIGINT) IS NULL OR h.bot_id = CAST(bot AS BIGINT)
QUALIFY row_number() OVER (PARTITION BY h.bot_id ORDER BY h.captured_at DESC, h.run_id DESC) = 1
ORDER BY h.bot_id;


-- ==================================================================== views for BI tools
-- The reports in each bot's preferred currency, so a BI tool sees them as tables.

CREATE OR REPLACE VIEW report_revenue_all_time AS
SELECT * FROM revenue(NULL, NULL, NULL);

CREATE OR REPLACE VIEW report_orders_count_monthly AS
SELECT * FROM orders_count('month', 12, NULL);

CREATE OR REPLACE VIEW report_plans AS
SELECT * FROM plans_report(NULL);

-- The same plans with the monthly breakdown converted (see plans_report_converted).
CREATE OR REPLACE VIEW report_plans_converted AS
SELECT * FROM plans_report_converted(NULL);

CREATE OR REPLACE VIEW report_payment_methods AS
SELECT * FROM payment_methods_report(NULL);

CREATE OR REPLACE VIEW report_users_count AS
SELECT * FROM users_count();

-- One row per (coupon, plan) the coupon applies to, for coupons still listed.
CREATE OR REPLACE VIEW coupon_plans AS
SELECT c.bot_id,
       c.coupon_name,
       c.plan_id,
       p.plan_name,
       c.enabled
FROM (
    SELECT cp.bot_id, cp.name AS coupon_name, unnest(cp.plans) AS plan_id, cp.enabled
    FROM coupons AS cp
    WHERE cp._deleted_at IS NULL
) AS c
LEFT JOIN plans AS p ON p.bot_id = c.bot_id AND p.plan_id = c.plan_id;
