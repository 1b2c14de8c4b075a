//! The API's arithmetic (docs/data-contract.md §2.2): a currency pair's rate is quoted to 8 decimals, and each
//! converted order amount is rounded to 8 decimals before a report sums them. Shared by
//! the simulator (which computes so) and the exchange-rate capture (which solves for the
//! rate from such sums), in integers, so both round the same way.

/// Decimal places of a quoted pair rate and of each converted order amount.
pub const PLACES: u32 = 8;

/// One unit of [`PLACES`] decimals per whole: a rate of `1.08` is `108_000_000` units.
pub(crate) const UNITS: i128 = 100_000_000;

/// How a converted amount is rounded to [`PLACES`] decimals. The API text does not say;
/// half away from zero is the likely one, half even is tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    HalfAwayFromZero,
    HalfEven,
}

/// `mantissa × 10^-scale` converted at a rate of `rate_units × 10^-8`, rounded to 8
/// decimals: the result in 10^-8 units. Exact (integer arithmetic); `None` on overflow.
///
/// ```
/// use tgm_sync::quoted::{convert_units, Rounding};
///
/// // 438.56721835 RUB at 0.01035146 EUR/RUB is 4.5398110180…: 4.53981102 EUR.
/// let eur = convert_units(43_856_721_835, 8, 1_035_146, Rounding::HalfAwayFromZero);
/// assert_eq!(eur, Some(453_981_102));
/// ```
pub fn convert_units(
    mantissa: i128,
    scale: u32,
    rate_units: i128,
    rounding: Rounding,
) -> Option<i128> {
    let (mut m, mut s) = (mantissa, scale);
    // Fewer digits, less risk of overflow: 5.000000000000000000 is 5.
    while s > 0 && m % 10 == 0 {
        m /= 10;
        s -= 1;
    }
    let product = m.checked_mul(rate_units)?;
    if s == 0 {
        return Some(product);
    }
    let divisor = 10_i128.checked_pow(s)?;
    Some(divide_rounded(product, divisor, rounding))
}

/// `n / d` (d > 0) rounded to an integer by `rounding`.
fn divide_rounded(n: i128, d: i128, rounding: Rounding) -> i128 {
    let (q, r) = (n / d, n % d);
    let away = if n < 0 { -1 } else { 1 };
    let twice = r.unsigned_abs().saturating_mul(2);
    match twice.cmp(&d.unsigned_abs()) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + away,
        std::cmp::Ordering::Equal => match rounding {
            Rounding::HalfAwayFromZero => q + away,
            Rounding::HalfEven if q % 2 == 0 => q,
            Rounding::HalfEven => q + away,
        },
    }
}

/// An exact rate `numerator / denominator` (both positive) quoted to 8 decimals, half away
/// from zero, in 10^-8 units; `None` on overflow or a zero denominator.
pub fn quote(numerator: i128, denominator: i128) -> Option<i128> {
    if denominator <= 0 {
        return None;
    }
    Some(divide_rounded(
        numerator.checked_mul(UNITS)?,
        denominator,
        Rounding::HalfAwayFromZero,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_each_order_half_away_or_half_even() {
        let away = Rounding::HalfAwayFromZero;
        let even = Rounding::HalfEven;
        // 3000 RUB at 0.01035146: 31.05438 exactly.
        assert_eq!(convert_units(3000, 0, 1_035_146, away), Some(3_105_438_000));
        // 0.5 at 0.00000001 is 0.000000005: a tie.
        assert_eq!(convert_units(5, 1, 1, away), Some(1));
        assert_eq!(convert_units(5, 1, 1, even), Some(0));
        assert_eq!(convert_units(15, 1, 1, even), Some(2));
        assert_eq!(convert_units(-5, 1, 1, away), Some(-1));
        // Trailing zeros of an 18-place amount cost nothing.
        let five = 5 * 10_i128.pow(18);
        assert_eq!(
            convert_units(five, 18, 118_965_476, away),
            Some(594_827_380)
        );
        assert_eq!(convert_units(i128::MAX, 0, 2, away), None);
    }

    #[test]
    fn quotes_a_rate_to_eight_places() {
        // 1 / 98.5 = 0.010152284263…
        assert_eq!(quote(10, 985), Some(1_015_228));
        // 0.0000165 / 161.5 = 0.000000102167…: few significant digits left.
        assert_eq!(quote(165, 1_615_000_000), Some(10));
        assert_eq!(quote(1, 0), None);
    }
}
