//! One currency pair's 8-decimal rate, solved from one `/revenue` answer over a window
//! whose sales are all in the pair's `from` currency (see [`super::windows`]).
//!
//! The API answers `S = Σ round8(a_i × r)` with `r` a multiple of 1e-8 (docs/data-contract.md §2.2). The sum
//! never decreases as `r` grows, so the rates that reproduce `S` (within the residue of
//! a float sum, [`super::residue::revenue_slack`]) form one interval of 1e-8 steps, found
//! by binary search with every sale's own rounding checked exactly. One candidate: the
//! rate is exact. Several (a window of small amounts: 0.0005 BTC pins a BTC → JPY rate to
//! about 2,000 steps only): all of them are kept as bounds, never one taken for the rate.

use crate::money::{Amount, SCALE};
use crate::quoted::{PLACES, Rounding, convert_units, quote};

/// The rates that reproduce a window's revenue, in 1e-8 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairRate {
    /// The smallest and largest candidate, inclusive.
    pub low: i128,
    pub high: i128,
    /// The candidate nearest the plain quotient `revenue / native`: the rate when `low ==
    /// high`, the one reports use otherwise.
    pub best: i128,
    /// The rounding that reproduced the revenue (half away from zero is tried first).
    pub rounding: Rounding,
}

impl PairRate {
    /// Whether exactly one rate reproduces the revenue.
    pub(crate) fn is_exact(&self) -> bool {
        self.low == self.high
    }
}

/// Largest rate tried, in 1e-8 units (10^12 units of the target per unit).
const MAX_UNITS: i128 = 100_000_000_000_000_000_000;

/// Solves `revenue = Σ round8(amounts[i] × r)` for `r`, within `slack` (in 1e-18 units);
/// `None` when no 8-decimal rate reproduces it under either rounding (the API does not
/// compute as docs/data-contract.md §2.2 says, or the window's sales changed).
pub(crate) fn solve(amounts: &[Amount], revenue: Amount, slack: u128) -> Option<PairRate> {
    [Rounding::HalfAwayFromZero, Rounding::HalfEven]
        .into_iter()
        .find_map(|rounding| solve_with(amounts, revenue, slack, rounding))
}

/// `Σ round8(a_i × k·1e-8)` in 1e-18 units; `None` on overflow.
fn window_sum(amounts: &[Amount], k: i128, rounding: Rounding) -> Option<i128> {
    let to_18 = 10_i128.pow(SCALE - PLACES);
    amounts.iter().try_fold(0_i128, |acc, a| {
        let units = convert_units(a.scaled(), SCALE, k, rounding)?;
        acc.checked_add(units.checked_mul(to_18)?)
    })
}

fn solve_with(
    amounts: &[Amount],
    revenue: Amount,
    slack: u128,
    rounding: Rounding,
) -> Option<PairRate> {
    let target = revenue.scaled();
    if target <= 0 || amounts.is_empty() || amounts.iter().any(|a| *a <= Amount::ZERO) {
        return None;
    }
    let slack = i128::try_from(slack).ok()?;
    let (lowest, highest) = (target.checked_sub(slack)?, target.checked_add(slack)?);
    // Both tests are monotone in k: false then true.
    let reaches = |k: i128| window_sum(amounts, k, rounding).is_none_or(|s| s >= lowest);
    let passes = |k: i128| window_sum(amounts, k, rounding).is_none_or(|s| s > highest);
    let mut top = 1_i128;
    while !passes(top) {
        top = top.checked_mul(2)?;
        if top > MAX_UNITS {
            return None;
        }
    }
    let low = first_true(0, top, reaches);
    let high = first_true(0, top, passes) - 1;
    if low > high {
        return None;
    }
    let native: i128 = amounts.iter().map(|a| a.scaled()).sum();
    let best = quote(target, native).unwrap_or(low).clamp(low, high);
    Some(PairRate {
        low,
        high,
        best,
        rounding,
    })
}

/// The first k in `lo..=hi` for which `test` holds (`test(hi)` does), by bisection.
fn first_true(mut lo: i128, mut hi: i128, test: impl Fn(i128) -> bool) -> i128 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if test(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    hi
}

/// A rate in 1e-8 units as decimal text: `1035146` → `"0.01035146"`.
pub(crate) fn units_text(units: i128) -> String {
    let whole = units / 100_000_000;
    let frac = (units % 100_000_000).abs();
    let text = format!("{whole}.{frac:08}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amounts(list: &[&str]) -> Vec<Amount> {
        list.iter()
            .map(|a| Amount::parse(a).expect("test amount"))
            .collect()
    }

    fn amount(text: &str) -> Amount {
        Amount::parse(text).expect("test amount")
    }

    #[test]
    fn one_large_sale_pins_the_rate() {
        // The API text's plan 38: 3000 RUB → 31.05438 EUR.
        let got = solve(&amounts(&["3000"]), amount("31.05438"), 1).expect("a rate");
        assert_eq!(
            (got.low, got.high, got.best),
            (1_035_146, 1_035_146, 1_035_146)
        );
        assert!(got.is_exact());
        assert_eq!(units_text(got.best), "0.01035146");
        // Plan 34: one sale of 438.56721835 RUB → 4.53981102 EUR, per-order rounded.
        let got = solve(&amounts(&["438.56721835"]), amount("4.53981102"), 1).expect("a rate");
        assert_eq!((got.low, got.high), (1_035_146, 1_035_146));
    }

    #[test]
    fn small_sales_leave_an_interval_named_as_such() {
        // 0.0005 BTC at 9787878.78787879 JPY/BTC: 4893.93939394 JPY; every rate within
        // ±1000 units (±0.00001) rounds to the same figure.
        let got = solve(&amounts(&["0.0005"]), amount("4893.93939394"), 1).expect("rates");
        assert!(!got.is_exact());
        assert!(got.low <= 978_787_878_787_879 && 978_787_878_787_879 <= got.high);
        assert_eq!(got.high - got.low + 1, 2000, "{got:?}");
        // A second sale of another amount narrows it: the rounding of each sale counts.
        let sales = amounts(&["0.0005", "0.00123457"]);
        let r = 978_787_878_787_879_i128;
        let sum: i128 = sales
            .iter()
            .map(|a| convert_units(a.scaled(), 18, r, Rounding::HalfAwayFromZero).unwrap())
            .sum();
        let revenue = Amount::from_scaled(sum * 10_000_000_000);
        let got = solve(&sales, revenue, 1).expect("rates");
        assert!(got.low <= r && r <= got.high);
        assert!(got.high - got.low < 1000, "{got:?}");
    }

    #[test]
    fn a_float_revenue_is_solved_within_its_residue() {
        // Two sales of 9.99 USD at 0.92592593: 9.25000004 each, 18.50000008 exactly; as an
        // f64 sum printed shortest it may carry residue.
        let f = 9.25000004_f64 + 9.25000004_f64;
        let revenue = amount(&f.to_string());
        let slack = super::super::residue::revenue_slack(revenue, 2);
        let got = solve(&amounts(&["9.99", "9.99"]), revenue, slack).expect("a rate");
        assert_eq!((got.low, got.high), (92_592_593, 92_592_593));
    }

    #[test]
    fn no_rate_reproduces_an_impossible_sum() {
        // 1 unit at any 8-decimal rate is that rate: 0.000000015 is no multiple of 1e-8.
        assert_eq!(solve(&amounts(&["1"]), amount("0.000000015"), 1), None);
        assert_eq!(solve(&amounts(&["1"]), Amount::ZERO, 1), None);
        assert_eq!(solve(&[], amount("1"), 1), None);
    }

    #[test]
    fn half_even_is_tolerated() {
        // 0.5 at 0.00000003 is 0.000000015: half away gives 2e-8, half even 2e-8 too;
        // 0.5 at 0.00000005 is 0.000000025: half away 3e-8, half even 2e-8.
        let got = solve(&amounts(&["0.5", "10"]), amount("0.00000052"), 1).expect("a rate");
        assert_eq!(got.rounding, Rounding::HalfEven);
        assert_eq!((got.low, got.high), (5, 5));
    }
}
