//! The simulator's fixed exchange-rate table and the one conversion rule every report
//! and converted `/orders` page uses, so tests can recompute expected values exactly.
//!
//! By default the simulator converts as the API text's samples show (docs/data-contract.md §2.2, "The API's
//! arithmetic"): each pair's rate is its exact rate (from the table below) quoted to 8
//! decimals, and each converted order amount is rounded to 8 decimals
//! ([`Arithmetic::Quoted`]). [`Arithmetic::Exact`] keeps the exact rates and no rounding.

use rust_decimal::Decimal;

use crate::currency::Currency;
use crate::quoted::{self, Rounding};

/// How the simulator converts money between currencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Arithmetic {
    /// The API's: 8-decimal pair rates ([`pair_rate`]), each order rounded to 8 decimals.
    #[default]
    Quoted,
    /// Exact rates, no rounding ([`convert`]).
    Exact,
    /// The API's arithmetic after the service moved its rates table: one EUR buys 1.09
    /// USD instead of 1.08, so every pair with USD on one side has another rate
    /// ([`pair_rate_in`]).
    QuotedMoved,
}

impl Arithmetic {
    /// Whether each pair is quoted to 8 decimals and each order rounded to 8 decimals.
    pub(crate) fn is_quoted(self) -> bool {
        self != Arithmetic::Exact
    }
}

/// The pair `from` → `to` quoted to 8 decimals (half away from zero) from the exact
/// rates per EUR: RUB → EUR `0.01015228` (1 / 98.5), JPY → BTC `0.00000010`. The identity
/// is 1.
pub fn pair_rate(from: Currency, to: Currency) -> Decimal {
    pair_rate_in(from, to, Arithmetic::Quoted)
}

/// [`pair_rate`] from the rates table `arithmetic` quotes from (the moved one for
/// [`Arithmetic::QuotedMoved`]).
pub fn pair_rate_in(from: Currency, to: Currency, arithmetic: Arithmetic) -> Decimal {
    if from == to {
        return Decimal::ONE;
    }
    let moved = arithmetic == Arithmetic::QuotedMoved;
    let (m_to, s_to) = units_per_eur_in(to, moved);
    let (m_from, s_from) = units_per_eur_in(from, moved);
    // (m_to / 10^s_to) / (m_from / 10^s_from) = m_to·10^s_from / (m_from·10^s_to)
    let num = i128::from(m_to) * 10_i128.pow(s_from);
    let den = i128::from(m_from) * 10_i128.pow(s_to);
    quoted::quote(num, den)
        .and_then(|units| i64::try_from(units).ok())
        .map(|units| Decimal::new(units, quoted::PLACES))
        .unwrap_or(Decimal::ZERO)
}

/// `amount` converted at `rate` (8 decimals) and rounded to 8 decimals half away from
/// zero, exactly (integers, no 28-digit rounding in between).
pub fn convert_at(amount: Decimal, rate: Decimal) -> Decimal {
    let rate = rate.round_dp(quoted::PLACES);
    let rate_units = rate.mantissa() * 10_i128.pow(quoted::PLACES - rate.scale());
    quoted::convert_units(
        amount.mantissa(),
        amount.scale(),
        rate_units,
        Rounding::HalfAwayFromZero,
    )
    .and_then(|units| Decimal::try_from_i128_with_scale(units, quoted::PLACES).ok())
    .map(|d| d.normalize())
    .unwrap_or(Decimal::MAX)
}

/// One order's `amount` converted as `arithmetic` says: exactly ([`convert`]), or at the
/// 8-decimal pair rate and rounded to 8 decimals (the same currency: the amount itself).
pub fn convert_order(
    amount: Decimal,
    from: Currency,
    to: Currency,
    arithmetic: Arithmetic,
) -> Decimal {
    match arithmetic {
        Arithmetic::Exact => convert(amount, from, to),
        _ if from == to => amount,
        Arithmetic::Quoted | Arithmetic::QuotedMoved => {
            convert_at(amount, pair_rate_in(from, to, arithmetic))
        }
    }
}

/// [`units_per_eur`], or after the move of [`Arithmetic::QuotedMoved`] (USD 1.09).
const fn units_per_eur_in(currency: Currency, moved: bool) -> (i64, u32) {
    match currency {
        Currency::Usd if moved => (109, 2),
        _ => units_per_eur(currency),
    }
}

/// Units of `currency` per 1 EUR, as `(mantissa, scale)`: USD 1.08 is `(108, 2)`.
const fn units_per_eur(currency: Currency) -> (i64, u32) {
    match currency {
        Currency::Usd => (108, 2),
        Currency::Eur => (1, 0),
        Currency::Gbp => (85, 2),
        Currency::Cad => (147, 2),
        Currency::Aud => (162, 2),
        Currency::Nzd => (178, 2),
        Currency::Jpy => (1615, 1),
        Currency::Cny => (78, 1),
        Currency::Rub => (985, 1),
        Currency::Brl => (59, 1),
        Currency::Inr => (905, 1),
        Currency::Try => (355, 1),
        Currency::Btc => (165, 7),
    }
}

/// How many units of `currency` one EUR buys in the simulator (USD `1.08`, BTC `0.0000165`).
pub(crate) fn rate_per_eur(currency: Currency) -> Decimal {
    let (mantissa, scale) = units_per_eur(currency);
    Decimal::new(mantissa, scale)
}

/// Converts `amount` from one currency to another: `amount * rate[to] / rate[from]`, at
/// rust_decimal's full 28-digit precision. The same currency returns `amount` unchanged.
/// Saturates at `Decimal::MAX` on overflow, which no simulated amount comes near.
///
/// Multiplying first keeps the one rounding (in the division) last: whenever the exact
/// value fits 28 digits it comes out exact. Dividing first rounded the intermediate
/// (491.75 USD / 1.08 = 455.3240740…) and turned an exact 737.625 AUD into
/// 737.62499999999999999999999999, which `formatted` then rounded the wrong way
/// (A$737.62 instead of A$737.63).
pub fn convert(amount: Decimal, from: Currency, to: Currency) -> Decimal {
    if from == to {
        return amount;
    }
    amount
        .checked_mul(rate_per_eur(to))
        .and_then(|scaled| scaled.checked_div(rate_per_eur(from)))
        .unwrap_or(Decimal::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn converts_through_eur() {
        assert_eq!(convert(d("9.99"), Currency::Usd, Currency::Eur), d("9.25"));
        assert_eq!(convert(d("10"), Currency::Eur, Currency::Gbp), d("8.5"));
        assert_eq!(convert(d("1000"), Currency::Rub, Currency::Rub), d("1000"));
        assert_eq!(
            convert(d("1"), Currency::Eur, Currency::Btc),
            d("0.0000165")
        );
        assert_eq!(
            convert(d("0.0000165"), Currency::Btc, Currency::Usd),
            d("1.08")
        );
    }

    #[test]
    fn keeps_full_precision() {
        let v = convert(d("1"), Currency::Usd, Currency::Eur);
        assert_eq!(v.to_string(), "0.9259259259259259259259259259");
    }

    #[test]
    fn an_exact_result_stays_exact() {
        // 491.75 / 1.08 * 1.62 is 737.625 exactly; dividing first lost it.
        assert_eq!(
            convert(d("491.75"), Currency::Usd, Currency::Aud),
            d("737.625")
        );
        assert_eq!(convert(d("0.54"), Currency::Usd, Currency::Gbp), d("0.425"));
    }

    #[test]
    fn a_moved_table_moves_the_usd_pairs_only() {
        let moved = Arithmetic::QuotedMoved;
        // 1 / 1.09 and 1.62 / 1.09, quoted.
        assert_eq!(
            pair_rate_in(Currency::Usd, Currency::Eur, moved),
            d("0.91743119")
        );
        assert_eq!(
            pair_rate_in(Currency::Usd, Currency::Aud, moved),
            d("1.48623853")
        );
        assert_eq!(
            pair_rate_in(Currency::Gbp, Currency::Aud, moved),
            pair_rate(Currency::Gbp, Currency::Aud)
        );
        // 10.9 × 0.91743119, rounded to 8 places: the quoted rate, not the exact 1 / 1.09.
        assert_eq!(
            convert_order(d("10.9"), Currency::Usd, Currency::Eur, moved),
            d("9.99999997")
        );
    }

    #[test]
    fn pair_rates_are_quoted_to_eight_places() {
        assert_eq!(pair_rate(Currency::Rub, Currency::Eur), d("0.01015228"));
        assert_eq!(pair_rate(Currency::Usd, Currency::Eur), d("0.92592593"));
        assert_eq!(pair_rate(Currency::Jpy, Currency::Btc), d("0.0000001"));
        assert_eq!(
            pair_rate(Currency::Btc, Currency::Jpy),
            d("9787878.78787879")
        );
        assert_eq!(pair_rate(Currency::Eur, Currency::Eur), d("1"));
        // Not the product of two legs through EUR: JPY → EUR → BTC is 0.00000010… too,
        // but USD → EUR → BRL (0.92592593 × 5.9) is 5.46296299, not 5.46296296.
        assert_eq!(pair_rate(Currency::Usd, Currency::Brl), d("5.46296296"));
        for from in Currency::ALL {
            for to in Currency::ALL {
                assert!(pair_rate(from, to) > Decimal::ZERO, "{from} {to}");
            }
        }
    }

    #[test]
    fn each_order_is_rounded_to_eight_places() {
        // The API text's plan 34: 438.56721835 RUB at 0.01035146 is 4.5398110180…
        assert_eq!(
            convert_at(d("438.56721835"), d("0.01035146")),
            d("4.53981102")
        );
        assert_eq!(convert_at(d("3000"), d("0.01035146")), d("31.05438"));
        let q = Arithmetic::Quoted;
        assert_eq!(
            convert_order(d("9.99"), Currency::Usd, Currency::Eur, q),
            d("9.25000004")
        );
        assert_eq!(
            convert_order(d("9.99"), Currency::Usd, Currency::Eur, Arithmetic::Exact),
            d("9.25")
        );
        assert_eq!(
            convert_order(d("7"), Currency::Try, Currency::Try, q),
            d("7")
        );
    }

    #[test]
    fn every_rate_is_positive() {
        for c in Currency::ALL {
            assert!(rate_per_eur(c) > Decimal::ZERO, "{c}");
        }
    }
}
