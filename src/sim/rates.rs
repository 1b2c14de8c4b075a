//! The simulator's fixed exchange-rate table and the one conversion rule every report
//! and converted `/orders` page uses, so tests can recompute expected values exactly.

use rust_decimal::Decimal;

use crate::currency::Currency;

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
pub fn rate_per_eur(currency: Currency) -> Decimal {
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
    fn every_rate_is_positive() {
        for c in Currency::ALL {
            assert!(rate_per_eur(c) > Decimal::ZERO, "{c}");
        }
    }
}
