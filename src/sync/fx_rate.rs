//! An exchange rate from one `/revenue` window: `revenue / native`, to the 36 places
//! `fx_rates` keeps (`sql/002_fx_rate_tail.sql`).
//!
//! The API's revenue comes rounded to 18 places, so the plain quotient is right to only
//! about 20 significant digits, and a report total that sits exactly on a rounding edge of
//! `formatted` came out a hair below it: 1708744.725 BRL was 1708744.724999999999999768,
//! `R$ 1.708.744,72` where the API says `,73` (a USD plan at 100,000 orders). The service
//! converts with a rate table of short decimals (5.9 BRL and 1.08 USD per EUR make
//! 295/54 BRL per USD), so the rate is the simplest fraction the rounded revenue allows,
//! found by continued fractions; failing that, the quotient itself, expanded exactly.

use rust_decimal::Decimal;

use crate::money::Amount;

/// Denominators past this are not tried: a rate table of short decimals has small ones
/// (1.0812 and 0.9237 per EUR make 10812/9237), and the larger the denominators tried, the
/// likelier a fraction that merely lies close is taken for the rate.
const MAX_DENOMINATOR: u128 = 100_000_000;

/// `revenue / native` as `fx_rates` stores it: the first 18 decimal places (truncated) and
/// the next 18 as a fraction, `rate = head + tail * 1e-18`. `None` unless both are
/// positive.
pub fn rate_parts(revenue: Amount, native: Amount) -> Option<(String, String)> {
    let r = u128::try_from(revenue.scaled()).ok()?;
    let n = u128::try_from(native.scaled()).ok().filter(|n| *n > 0)?;
    let (p, q) = simplest_fraction(r, n).unwrap_or((r, n));
    expand_36(p, q).or_else(|| {
        // Only for natives past 3.4e19, where the remainder would overflow.
        let rate = revenue.to_decimal()?.checked_div(native.to_decimal()?)?;
        Some(split_rate(rate))
    })
}

/// The fraction with the smallest denominator among the convergents of `r / n` that a
/// revenue rounded (or truncated) to 18 places allows: `|p·n − q·r| < q`, i.e. the exact
/// revenue `native · p/q` is within one unit of the 18th place of `r`. A denominator must
/// also be small against the window (`1000·q² ≤ n`): a real fraction is then sure to be a
/// convergent, and a value with none is matched by chance at most once in a thousand.
fn simplest_fraction(r: u128, n: u128) -> Option<(u128, u128)> {
    // Convergents h/k of the continued fraction of r/n.
    let (mut h_prev, mut h) = (1u128, r / n);
    let (mut k_prev, mut k) = (0u128, 1u128);
    let (mut num, mut den) = (n, r % n);
    loop {
        let off = h.checked_mul(n)?.abs_diff(k.checked_mul(r)?);
        if off < k {
            return Some((h, k));
        }
        if den == 0 {
            return None;
        }
        let a = num / den;
        (num, den) = (den, num % den);
        (h_prev, h) = (h, a.checked_mul(h)?.checked_add(h_prev)?);
        (k_prev, k) = (k, a.checked_mul(k)?.checked_add(k_prev)?);
        if k > MAX_DENOMINATOR || k.checked_mul(k)?.checked_mul(1000)? > n {
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
            rate_parts(revenue, amount("1000")),
            parts("5.462962962962962962", "0.962962962962962962")
        );
        // Truncated instead of rounded: the same fraction.
        let revenue = amount("5462.962962962962962962");
        assert_eq!(
            rate_parts(revenue, amount("1000")),
            parts("5.462962962962962962", "0.962962962962962962")
        );
        // 0.54 USD at 0.85/1.08 GBP per USD (the edge that made `formatted` £0.42).
        assert_eq!(
            rate_parts(amount("0.425"), amount("0.54")),
            parts("0.787037037037037037", "0.037037037037037037")
        );
        // An exact rate stays as it is.
        assert_eq!(rate_parts(amount("590"), amount("100")), parts("5.9", "0"));
        assert_eq!(rate_parts(amount("100"), amount("100")), parts("1", "0"));
    }

    #[test]
    fn a_rate_with_no_small_fraction_is_the_exact_quotient() {
        // 1234.567891234567891 / 1000: the nearest small fractions are too far off.
        assert_eq!(
            rate_parts(amount("1234.567891234567891"), amount("1000")),
            parts("1.234567891234567891", "0")
        );
        // 7 units at 1/21 make 1/3, which the API rounds to 18 places: the fraction
        // comes back.
        assert_eq!(
            rate_parts(amount("0.333333333333333333"), amount("7")),
            parts("0.047619047619047619", "0.047619047619047619")
        );
        // A tiny window (10^-15 units): 1000·q² <= 1000 allows only q = 1, so the
        // quotient 2/3 (at 36 places) is kept.
        assert_eq!(
            rate_parts(
                amount("0.000000000000000002"),
                amount("0.000000000000000003")
            ),
            parts("0.666666666666666666", "0.666666666666666666")
        );
    }

    #[test]
    fn zero_or_negative_amounts_give_no_rate() {
        assert_eq!(rate_parts(amount("5"), amount("0")), None);
        assert_eq!(rate_parts(amount("-5"), amount("1")), None);
        assert_eq!(rate_parts(amount("5"), amount("-1")), None);
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
