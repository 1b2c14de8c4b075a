//! Exact money amounts: the API's decimal strings, held as an `i128` count of 1e-18 units.
//!
//! The warehouse stores money as `DECIMAL(38,18)`, which is exactly an `i128` scaled by
//! 10^18, so parsing straight into that representation is lossless and maps 1:1 onto an
//! Arrow `Decimal128(38, 18)` column. Amounts never pass through `f64`.

use std::fmt;
use std::str::FromStr;

/// Digits after the decimal point the warehouse keeps (`DECIMAL(38,18)`).
pub(crate) const SCALE: u32 = 18;
/// Total digits of `DECIMAL(38,18)`.
pub(crate) const PRECISION: u8 = 38;
const ONE: i128 = 1_000_000_000_000_000_000;

/// An exact decimal amount with 18 digits after the point.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i128);

/// Why a text is not a decimal amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a decimal number")]
    NotDecimal(String),
    #[error("`{0}` does not fit DECIMAL(38,18)")]
    Overflow(String),
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// From the raw count of 1e-18 units (the `DECIMAL(38,18)` mantissa).
    pub(crate) fn from_scaled(units: i128) -> Amount {
        Amount(units)
    }

    /// The raw count of 1e-18 units.
    pub fn scaled(self) -> i128 {
        self.0
    }

    /// Parses a decimal text exactly: `"398.60636332000007"`, `"-5"`, `"1e-3"`, `"0.5E2"`.
    /// More than 18 fractional digits are rounded half away from zero (the column's own
    /// precision); more than 20 integer digits are an overflow.
    ///
    /// ```
    /// use tgm_sync::money::Amount;
    ///
    /// let a = Amount::parse("398.60636332000007").unwrap();
    /// assert_eq!(a.scaled(), 398_606_363_320_000_070_000); // 10^-18 units, no float involved
    /// assert_eq!(a.to_string(), "398.60636332000007");
    /// assert!(Amount::parse("12,50").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        let bad = || AmountError::NotDecimal(text.to_string());
        let overflow = || AmountError::Overflow(text.to_string());
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match s.find(['e', 'E']) {
            Some(at) => {
                let exp: i32 = s[at + 1..].parse().map_err(|_| bad())?;
                (&s[..at], exp)
            }
            None => (s, 0),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        // All digits with the decimal point moved `exponent` places to the right:
        // value = digits * 10^(exponent - frac_len).
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        let point_shift = i64::from(exponent) - frac_part.len() as i64 + i64::from(SCALE);
        let value = if digits.is_empty() {
            0
        } else if point_shift >= 0 {
            let mut v: i128 = digits.parse().map_err(|_| overflow())?;
            for _ in 0..point_shift {
                v = v.checked_mul(10).ok_or_else(overflow)?;
            }
            v
        } else {
            // Drop the digits below 1e-18, rounding half away from zero.
            let drop = usize::try_from(-point_shift).map_err(|_| overflow())?;
            if drop > digits.len() {
                0
            } else {
                let (kept, dropped) = digits.split_at(digits.len() - drop);
                let mut v: i128 = if kept.is_empty() {
                    0
                } else {
                    kept.parse().map_err(|_| overflow())?
                };
                if dropped.as_bytes().first().is_some_and(|d| *d >= b'5') {
                    v = v.checked_add(1).ok_or_else(overflow)?;
                }
                v
            }
        };
        if value >= 10_i128.pow(u32::from(PRECISION)) {
            return Err(overflow());
        }
        Ok(Amount(if negative { -value } else { value }))
    }

    /// As a `rust_decimal::Decimal` (28 significant digits), for arithmetic outside SQL.
    /// `None` if the amount needs more digits than that type holds.
    pub fn to_decimal(self) -> Option<rust_decimal::Decimal> {
        // Drop trailing zeros first: 10^11 at scale 18 overflows the 96-bit mantissa,
        // at scale 0 it does not.
        let (mut mantissa, mut scale) = (self.0, SCALE);
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        rust_decimal::Decimal::try_from_i128_with_scale(mantissa, scale).ok()
    }

    /// From a `rust_decimal::Decimal`, rounded half away from zero to 18 places.
    #[cfg(test)]
    pub(crate) fn from_decimal(d: rust_decimal::Decimal) -> Option<Amount> {
        Amount::parse(&d.to_string()).ok()
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

/// Plain decimal notation with trailing zeros trimmed: `398.60636332000007`, `5`, `0`.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let int = abs / ONE.unsigned_abs();
        let frac = abs % ONE.unsigned_abs();
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let frac = format!("{frac:018}");
            write!(f, "{sign}{int}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> i128 {
        Amount::parse(s).expect(s).scaled()
    }

    #[test]
    fn parses_exactly_without_floats() {
        // 0.1 + 0.2 style artifacts survive digit for digit.
        assert_eq!(units("398.60636332000007"), 398_606_363_320_000_070_000);
        assert_eq!(units("0.000000000000000001"), 1);
        assert_eq!(units("-1.5"), -1_500_000_000_000_000_000);
        assert_eq!(units("5"), 5 * ONE);
        assert_eq!(units(".5"), ONE / 2);
        assert_eq!(units("7."), 7 * ONE);
        assert_eq!(units("1e-3"), ONE / 1000);
        assert_eq!(units("2.5E2"), 250 * ONE);
        assert_eq!(units("0"), 0);
        assert_eq!(units("-0.0"), 0);
    }

    #[test]
    fn rounds_beyond_18_places_half_away_from_zero() {
        assert_eq!(units("0.0000000000000000015"), 2);
        assert_eq!(units("0.0000000000000000014999"), 1);
        assert_eq!(units("-0.0000000000000000015"), -2);
        assert_eq!(units("1e-30"), 0);
    }

    #[test]
    fn rejects_non_numbers_and_overflow() {
        for bad in ["", "abc", "1.2.3", "1,5", "--1", "1e", "0x10", "NaN", "."] {
            assert!(
                matches!(Amount::parse(bad), Err(AmountError::NotDecimal(_))),
                "{bad:?} should be rejected"
            );
        }
        assert!(matches!(
            Amount::parse("100000000000000000000"), // 10^20 needs 21 integer digits
            Err(AmountError::Overflow(_))
        ));
        assert!(Amount::parse("99999999999999999999.999999999999999999").is_ok());
    }

    #[test]
    fn displays_trimmed_and_round_trips() {
        for s in ["398.60636332000007", "5", "0", "-12.5", "0.00012345"] {
            assert_eq!(Amount::parse(s).expect(s).to_string(), s);
        }
        assert_eq!(Amount::parse("1.2300").expect("ok").to_string(), "1.23");
    }

    #[test]
    fn converts_to_rust_decimal() {
        let a = Amount::parse("12.345").expect("ok");
        assert_eq!(a.to_decimal().map(|d| d.to_string()), Some("12.345".into()));
        let back = a.to_decimal().and_then(Amount::from_decimal);
        assert_eq!(back, Some(a));
    }
}
