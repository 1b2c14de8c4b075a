//! How the simulator writes money: full-precision `revenue` strings and the rounded,
//! currency-styled `formatted` strings of docs/data-contract.md §2.10 (`1 234,56€`, `R$ 1.234,56`, ...).

use rust_decimal::{Decimal, RoundingStrategy};

use crate::currency::Currency;

/// A decimal in plain notation at full precision, trailing zeros trimmed:
/// `398.60636332`, `5`, `0`.
pub(crate) fn decimal_string(amount: Decimal) -> String {
    if amount.is_zero() {
        return "0".to_string();
    }
    amount.normalize().to_string()
}

/// How one currency writes an amount.
struct Style {
    prefix: &'static str,
    suffix: &'static str,
    group: char,
    point: char,
}

fn style(currency: Currency) -> Style {
    let (prefix, suffix, group, point) = match currency {
        Currency::Usd => ("$", "", ',', '.'),
        Currency::Eur => ("", "€", ' ', ','),
        Currency::Gbp => ("£", "", ',', '.'),
        Currency::Cad => ("CA$", "", ',', '.'),
        Currency::Aud => ("A$", "", ',', '.'),
        Currency::Nzd => ("NZ$", "", ',', '.'),
        Currency::Jpy => ("¥", "", ',', '.'),
        Currency::Cny => ("CN¥", "", ',', '.'),
        Currency::Rub => ("", " ₽", ' ', ','),
        Currency::Brl => ("R$ ", "", '.', ','),
        Currency::Inr => ("₹", "", ',', '.'),
        Currency::Try => ("₺", "", '.', ','),
        Currency::Btc => ("₿", "", ',', '.'),
    };
    Style {
        prefix,
        suffix,
        group,
        point,
    }
}

/// The `formatted` field: rounded half away from zero to the currency's minor unit and
/// written in its style (USD `$1,234.56`, EUR `1 234,56€`, JPY `¥1,235`, BTC `₿0.00012345`).
pub fn formatted(amount: Decimal, currency: Currency) -> String {
    let places = currency.minor_units();
    let rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let digits = rounded.abs().to_string();
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits.as_str(), ""),
    };
    let s = style(currency);
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    out.push_str(s.prefix);
    push_grouped(&mut out, int_part, s.group);
    if places > 0 {
        out.push(s.point);
        out.push_str(frac_part);
        for _ in frac_part.len()..places as usize {
            out.push('0');
        }
    }
    out.push_str(s.suffix);
    out
}

/// Appends `digits` with `sep` between groups of three, counted from the right.
fn push_grouped(out: &mut String, digits: &str, sep: char) {
    let len = digits.len();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn every_currency_formats_like_the_spec() {
        let cases = [
            (Currency::Usd, "1234.56", "$1,234.56"),
            (Currency::Eur, "1234.56", "1 234,56€"),
            (Currency::Gbp, "1234.56", "£1,234.56"),
            (Currency::Cad, "1234.56", "CA$1,234.56"),
            (Currency::Aud, "1234.56", "A$1,234.56"),
            (Currency::Nzd, "1234.56", "NZ$1,234.56"),
            (Currency::Jpy, "1234.56", "¥1,235"),
            (Currency::Cny, "1234.56", "CN¥1,234.56"),
            (Currency::Rub, "1234.56", "1 234,56 ₽"),
            (Currency::Brl, "1234.56", "R$ 1.234,56"),
            (Currency::Inr, "1234.56", "₹1,234.56"),
            (Currency::Try, "1234.56", "₺1.234,56"),
            (Currency::Btc, "0.00012345", "₿0.00012345"),
        ];
        for (currency, amount, want) in cases {
            assert_eq!(formatted(d(amount), currency), want, "{currency} {amount}");
        }
    }

    #[test]
    fn rounds_half_away_from_zero_at_the_minor_unit() {
        assert_eq!(formatted(d("1.005"), Currency::Usd), "$1.01");
        assert_eq!(formatted(d("1.004999"), Currency::Usd), "$1.00");
        assert_eq!(formatted(d("2.125"), Currency::Eur), "2,13€");
        assert_eq!(formatted(d("0.995"), Currency::Gbp), "£1.00");
        assert_eq!(formatted(d("999.995"), Currency::Eur), "1 000,00€");
        assert_eq!(formatted(d("0.5"), Currency::Jpy), "¥1");
        assert_eq!(formatted(d("2.5"), Currency::Jpy), "¥3");
        assert_eq!(formatted(d("0.000000005"), Currency::Btc), "₿0.00000001");
        assert_eq!(formatted(d("0.0000000049"), Currency::Btc), "₿0.00000000");
        assert_eq!(formatted(d("-1.005"), Currency::Usd), "-$1.01");
    }

    #[test]
    fn zero_and_small_values() {
        assert_eq!(formatted(Decimal::ZERO, Currency::Usd), "$0.00");
        assert_eq!(formatted(Decimal::ZERO, Currency::Eur), "0,00€");
        assert_eq!(formatted(Decimal::ZERO, Currency::Jpy), "¥0");
        assert_eq!(formatted(Decimal::ZERO, Currency::Btc), "₿0.00000000");
        assert_eq!(formatted(Decimal::ZERO, Currency::Rub), "0,00 ₽");
        assert_eq!(formatted(d("5"), Currency::Eur), "5,00€");
        assert_eq!(formatted(d("762.5000805"), Currency::Eur), "762,50€");
        assert_eq!(formatted(d("-0.001"), Currency::Usd), "$0.00");
    }

    #[test]
    fn large_values_group_by_three() {
        assert_eq!(
            formatted(d("1234567890.125"), Currency::Usd),
            "$1,234,567,890.13"
        );
        assert_eq!(formatted(d("1000000"), Currency::Eur), "1 000 000,00€");
        assert_eq!(
            formatted(d("1234567.891"), Currency::Brl),
            "R$ 1.234.567,89"
        );
        assert_eq!(formatted(d("100000"), Currency::Try), "₺100.000,00");
        assert_eq!(formatted(d("12345678"), Currency::Rub), "12 345 678,00 ₽");
        assert_eq!(formatted(d("123456.5"), Currency::Jpy), "¥123,457");
        assert_eq!(formatted(d("1234.5"), Currency::Btc), "₿1,234.50000000");
        assert_eq!(formatted(d("100"), Currency::Inr), "₹100.00");
        assert_eq!(formatted(d("999"), Currency::Cny), "CN¥999.00");
    }

    #[test]
    fn decimal_strings_are_plain_and_trimmed() {
        assert_eq!(decimal_string(d("398.606363320")), "398.60636332");
        assert_eq!(decimal_string(d("5.000")), "5");
        assert_eq!(decimal_string(d("0.000")), "0");
        assert_eq!(decimal_string(d("-0")), "0");
        assert_eq!(decimal_string(d("0.00012345")), "0.00012345");
        assert_eq!(decimal_string(d("1500")), "1500");
        assert_eq!(decimal_string(d("1E-10")), "0.0000000001");
    }
}
