//! An exchange rate from one `/revenue` window: `revenue / native`, to the 36 places
//! `fx_rates` keeps (`sql/002_fx_rate_tail.sql`).
//!
//! The API's revenue comes rounded to 18 places, so the plain quotient is right to only
//! about 20 significant digits, and a report total that sits exactly on a rounding edge of
//! `formatted` came out a hair below it: 1708744.725 BRL was 1708744.724999999999999768,
//! `R$ 1.708.744,72` where the API says `,73` (a USD plan at 100,000 orders). The service
//! converts with a rate table of short decimals (5.9 BRL and 1.08 USD per EUR make
//! 295/54 BRL per USD), so the rate is the simplest fraction the revenue allows, found by
//! continued fractions; failing that, the quotient itself, expanded exactly.
//!
//! The revenue may also be a binary floating-point sum, printed as its shortest
//! round-trip decimal (the API text's own `"398.60636332000007"`): right to only 15-17
//! significant digits. [`revenue_slack`] says how far such a figure can be from the exact
//! one, and the search accepts any fraction within it, so the exact rate comes back from
//! a float revenue too, and report totals on a half-cent edge stay on it.

use rust_decimal::Decimal;

use crate::money::Amount;

/// Denominators past this are not tried: a rate table of short decimals has small ones
/// (1.0812 and 0.9237 per EUR make 10812/9237), and the larger the denominators tried, the
/// likelier a fraction that merely lies close is taken for the rate.
const MAX_DENOMINATOR: u128 = 100_000_000;

/// `revenue / native` as `fx_rates` stores it: the first 18 decimal places (truncated) and
/// the next 18 as a fraction, `rate = head + tail * 1e-18`. `sales` is the number of sales
/// the API summed into `revenue` (it bounds a float sum's error: [`revenue_slack`]).
/// `None` unless both amounts are positive.
pub fn rate_parts(revenue: Amount, native: Amount, sales: i64) -> Option<(String, String)> {
    let r = u128::try_from(revenue.scaled()).ok()?;
    let n = u128::try_from(native.scaled()).ok().filter(|n| *n > 0)?;
    let slack = revenue_slack(revenue, sales);
    let (p, q) = simplest_fraction(r, n, slack).unwrap_or((r, n));
    expand_36(p, q).or_else(|| {
        // Only for natives past 3.4e19, where the remainder would overflow.
        let rate = revenue.to_decimal()?.checked_div(native.to_decimal()?)?;
        Some(split_rate(rate))
    })
}

/// Significant digits an f64 prints with at most (its shortest round-trip decimal).
const F64_DIGITS: u32 = 17;

/// How far (in 1e-18 units) the exact sum may lie from `revenue`, a figure the API summed
/// from `sales` sales. A figure of more than 17 significant digits is an exact decimal
/// rounded (or truncated) to 18 places: 1 unit. A shorter one may be an f64 sum, printed
/// as its shortest round-trip decimal: each sale's conversion costs a few roundings
/// (amount, rate, product, quotient) and each addition one, each at most 2^-53 of the
/// running total, so `(sales + 8) * 2^-52` of it (twice that) plus the unit bounds both
/// readings. An exact short decimal (`"590"`) only gets a wider search, in which its own
/// fraction is still the simplest.
pub fn revenue_slack(revenue: Amount, sales: i64) -> u128 {
    let r = revenue.scaled().unsigned_abs();
    if significant_digits(r) > F64_DIGITS {
        return 1;
    }
    let terms = u128::try_from(sales.max(0)).unwrap_or(0).saturating_add(8);
    // ceil(r * terms / 2^52), without overflowing for large r.
    let whole = (r >> 52).saturating_mul(terms);
    let part = ((r & ((1 << 52) - 1)).saturating_mul(terms) >> 52) + 1;
    whole.saturating_add(part).saturating_add(1)
}

/// Digits of `units` without its trailing zeros: 17 for `398.60636332000007`.
fn significant_digits(mut units: u128) -> u32 {
    if units == 0 {
        return 0;
    }
    while units.is_multiple_of(10) {
        units /= 10;
    }
    units.ilog10() + 1
}

/// The fraction with the smallest denominator among the convergents of `r / n` that a
/// revenue off by less than `slack` units allows: `|p·n − q·r| < q·slack`, i.e. the exact
/// revenue `native · p/q` is within `slack` units of `r` (1 for a decimal rounded or
/// truncated to 18 places). A denominator must also be small against the window
/// (`1000·q²·slack ≤ n`): a real fraction is then sure to be a convergent, and a value with
/// none is matched by chance at most once in a thousand.
fn simplest_fraction(r: u128, n: u128, slack: u128) -> Option<(u128, u128)> {
    let slack = slack.max(1);
    // Convergents h/k of the continued fraction of r/n.
    let (mut h_prev, mut h) = (1u128, r / n);
    let (mut k_prev, mut k) = (0u128, 1u128);
    let (mut num, mut den) = (n, r % n);
    loop {
        let off = h.checked_mul(n)?.abs_diff(k.checked_mul(r)?);
        if off < k.checked_mul(slack)? {
            return Some((h, k));
        }
        if den == 0 {
            return None;
        }
        let a = num / den;
        (num, den) = (den, num % den);
        (h_prev, h) = (h, a.checked_mul(h)?.checked_add(h_prev)?);
        (k_prev, k) = (k, a.checked_mul(k)?.checked_add(k_prev)?);
        let guard = k.checked_mul(k)?.checked_mul(1000)?.checked_mul(slack)?;
        if k > MAX_DENOMINATOR || guard > n {
            return None;
        }
    }
}

/// `p / q` truncated to 36 places, split as [`rate_parts`] returns it; `None` if the
/// long division would overflow.
fn expand_36(p: u128, q: u128) -> Option<(String, String)> {
    let mut rem = p % q;
    let mut digits = String::with_capacity(36);
    for _ in 0..36 {
        rem = rem.checked_mul(10)?;
        digits.push(char::from(b'0' + (rem / q) as u8));
        rem %= q;
    }
    let (head, tail) = digits.split_at(18);
    Some((
        trim_decimal(format!("{}.{head}", p / q)),
        trim_decimal(format!("0.{tail}")),
    ))
}

/// `"5.900"` → `"5.9"`, `"1.000"` → `"1"`.
fn trim_decimal(text: String) -> String {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The same split of a `rust_decimal` rate (28 significant digits).
pub fn split_rate(rate: Decimal) -> (String, String) {
    let head = rate.trunc_with_scale(18);
    let tail = (rate - head)
        .checked_mul(Decimal::from(1_000_000_000_000_000_000_i64))
        .map(|t| t.trunc_with_scale(18))
        .unwrap_or_default();
    (head.normalize().to_string(), tail.normalize().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn amount(text: &str) -> Amount {
        Amount::parse(text).expect("test amount")
    }

    fn parts(head: &str, tail: &str) -> Option<(String, String)> {
        Some((head.to_string(), tail.to_string()))
    }

    #[test]
    fn a_ratio_of_short_decimals_comes_out_exact_to_36_places() {
        // 1000 USD at 5.9/1.08 = 295/54 BRL per USD is 5462.962962962962962962962...,
        // which the API writes rounded to 18 places.
        let revenue = amount("5462.962962962962962963");
        assert_eq!(
            rate_parts(revenue, amount("1000"), 1),
            parts("5.462962962962962962", "0.962962962962962962")
        );
        // Truncated instead of rounded: the same fraction.
        let revenue = amount("5462.962962962962962962");
        assert_eq!(
            rate_parts(revenue, amount("1000"), 1),
            parts("5.462962962962962962", "0.962962962962962962")
        );
        // 0.54 USD at 0.85/1.08 GBP per USD (the edge that made `formatted` £0.42).
        assert_eq!(
            rate_parts(amount("0.425"), amount("0.54"), 1),
            parts("0.787037037037037037", "0.037037037037037037")
        );
        // An exact rate stays as it is.
        assert_eq!(
            rate_parts(amount("590"), amount("100"), 1),
            parts("5.9", "0")
        );
        assert_eq!(rate_parts(amount("100"), amount("100"), 1), parts("1", "0"));
    }

    #[test]
    fn a_rate_with_no_small_fraction_is_the_exact_quotient() {
        // 1234.567891234567891 / 1000: the nearest small fractions are too far off.
        assert_eq!(
            rate_parts(amount("1234.567891234567891"), amount("1000"), 1),
            parts("1.234567891234567891", "0")
        );
        // 7 units at 1/21 make 1/3, which the API rounds to 18 places: the fraction
        // comes back.
        assert_eq!(
            rate_parts(amount("0.333333333333333333"), amount("7"), 1),
            parts("0.047619047619047619", "0.047619047619047619")
        );
        // A tiny window (10^-15 units): 1000·q² <= 1000 allows only q = 1, so the
        // quotient 2/3 (at 36 places) is kept.
        assert_eq!(
            rate_parts(
                amount("0.000000000000000002"),
                amount("0.000000000000000003"),
                1
            ),
            parts("0.666666666666666666", "0.666666666666666666")
        );
    }

    /// `sales` sales of `amount` each, converted by `rate` and summed in f64 one by one,
    /// printed as the shortest decimal that reads back (what the real API sends).
    fn float_sum(amount: f64, rate: f64, sales: usize) -> Amount {
        let mut sum = 0.0_f64;
        for _ in 0..sales {
            sum += amount * rate;
        }
        amount_of(&sum.to_string())
    }

    fn amount_of(text: &str) -> Amount {
        Amount::parse(text).expect("a float prints as a decimal")
    }

    #[test]
    fn a_float_summed_revenue_gives_the_exact_rate_back() {
        // 37 sales of 9.99 USD at 5.9/1.08 BRL per USD: 2019.275 BRL exactly, which an
        // f64 sum prints as 2019.2750000000012.
        let revenue = float_sum(9.99, 5.9 / 1.08, 37);
        assert_eq!(
            revenue.to_string(),
            "2019.2750000000012",
            "the residue is there"
        );
        assert_eq!(
            rate_parts(revenue, amount("369.63"), 37),
            parts("5.462962962962962962", "0.962962962962962962")
        );
        // 41 sales of 1234 JPY at 0.85/161.5 GBP per JPY (17/3230).
        let revenue = float_sum(1234.0, 0.85 / 161.5, 41);
        assert_eq!(
            rate_parts(revenue, amount("50594"), 41),
            parts("0.005263157894736842", "0.105263157894736842")
        );
        // 25 sales of 12.31 EUR at 0.0000165 BTC per EUR: each on a half-satoshi edge.
        let revenue = float_sum(12.31, 0.0000165, 25);
        assert_eq!(revenue.to_string(), "0.005077875000000003");
        assert_eq!(
            rate_parts(revenue, amount("307.75"), 25),
            parts("0.0000165", "0")
        );
    }

    #[test]
    fn a_half_cent_edge_stays_on_the_edge_under_float_residue() {
        // 0.54 USD at 0.85/1.08 GBP per USD is 0.425 GBP: `formatted` £0.43. With the
        // rate exact (85/108), the warehouse's 0.54 * rate is 0.425 again. Summed as 54
        // sales of 0.01 USD the float is a hair below the edge, and so was the quotient:
        // 0.54 times it made £0.42.
        let revenue = float_sum(0.01, 0.85 / 1.08, 54);
        assert_eq!(revenue.to_string(), "0.42499999999999966");
        assert_eq!(
            rate_parts(revenue, amount("0.54"), 54),
            parts("0.787037037037037037", "0.037037037037037037")
        );
    }

    #[test]
    fn slack_is_one_unit_for_exact_decimals_and_grows_with_sales_for_floats() {
        // 22 significant digits: no f64 prints that; rounded to 18 places.
        assert_eq!(revenue_slack(amount("5462.962962962962962963"), 1000), 1);
        // 17 digits: possibly an f64 sum; 2019.275 * 45 / 2^52 = 2.02e-11, in 1e-18 units.
        let slack = revenue_slack(amount("2019.2750000000012"), 37);
        assert!((20_000_000..20_300_000).contains(&slack), "{slack}");
        assert!(revenue_slack(amount("2019.2750000000012"), 3700) > 80 * slack);
        assert_eq!(revenue_slack(Amount::ZERO, 5), 2);
    }

    #[test]
    fn a_float_revenue_with_no_small_fraction_is_the_quotient() {
        // 1.2345678901234567 per unit has no fraction of a small denominator near it:
        // the quotient is kept, to the digits the float has.
        assert_eq!(
            rate_parts(amount("1234.5678901234567"), amount("1000"), 1),
            parts("1.2345678901234567", "0")
        );
    }

    #[test]
    fn zero_or_negative_amounts_give_no_rate() {
        assert_eq!(rate_parts(amount("5"), amount("0"), 1), None);
        assert_eq!(rate_parts(amount("-5"), amount("1"), 1), None);
        assert_eq!(rate_parts(amount("5"), amount("-1"), 1), None);
    }

    #[test]
    fn rust_decimal_rates_split_into_two_18_place_parts() {
        let r = Decimal::from_str("0.7870370370370370370370370370").unwrap_or_default();
        assert_eq!(
            split_rate(r),
            ("0.787037037037037037".into(), "0.037037037".into())
        );
        assert_eq!(split_rate(Decimal::new(15, 1)), ("1.5".into(), "0".into()));
    }
}
