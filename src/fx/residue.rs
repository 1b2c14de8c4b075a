//! How far a `/revenue` figure may lie from the exact sum it stands for.
//!
//! The API may print its revenue as a binary floating-point sum, the shortest decimal
//! that reads back as the f64 (the API text's own `"398.60636332000007"`): right to only
//! 15-17 significant digits. [`revenue_slack`] bounds the distance, so that the rate
//! solver ([`super::pair_rate`]), the reconciliation and `verify` accept the float's
//! residue and nothing more.

use crate::money::Amount;

/// Significant digits an f64 prints with at most (its shortest round-trip decimal).
const F64_DIGITS: u32 = 17;

/// How far (in 1e-18 units) the exact sum may lie from `revenue`, a figure the API summed
/// from `sales` sales. A figure of more than 17 significant digits is an exact decimal
/// rounded (or truncated) to 18 places: 1 unit. A shorter one may be an f64 sum, printed
/// as its shortest round-trip decimal: each sale's conversion costs a few roundings
/// (amount, rate, product, quotient) and each addition one, each at most 2^-53 of the
/// running total, so `(sales + 8) * 2^-52` of it (twice that) plus the unit bounds both
/// readings. An exact short decimal (`"590"`) gets the same allowance: its text does not
/// say which it is.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(text: &str) -> Amount {
        Amount::parse(text).expect("test amount")
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
}
