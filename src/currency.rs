//! The 13 currencies the TGmembership report endpoints accept, and their minor units.
//!
//! One enum so that the client, the simulator and the report layer agree on the list
//! and on how each is spelled (lowercase in query strings, uppercase in results).

use std::fmt;
use std::str::FromStr;

/// A report currency, as listed in the API docs (`usd eur gbp ... btc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Usd,
    Eur,
    Gbp,
    Cad,
    Aud,
    Nzd,
    Jpy,
    Cny,
    Rub,
    Brl,
    Inr,
    Try,
    Btc,
}

impl Currency {
    /// Every report currency, in the order the API docs list them.
    pub const ALL: [Currency; 13] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Cad,
        Currency::Aud,
        Currency::Nzd,
        Currency::Jpy,
        Currency::Cny,
        Currency::Rub,
        Currency::Brl,
        Currency::Inr,
        Currency::Try,
        Currency::Btc,
    ];

    /// Upper-case ISO-style code, as the API writes it in results (`"EUR"`).
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Cad => "CAD",
            Currency::Aud => "AUD",
            Currency::Nzd => "NZD",
            Currency::Jpy => "JPY",
            Currency::Cny => "CNY",
            Currency::Rub => "RUB",
            Currency::Brl => "BRL",
            Currency::Inr => "INR",
            Currency::Try => "TRY",
            Currency::Btc => "BTC",
        }
    }

    /// Lower-case spelling used in query strings (`currency=eur`).
    pub fn query_value(self) -> String {
        self.code().to_ascii_lowercase()
    }

    /// Digits after the decimal point in `formatted` strings: 0 for JPY, 8 for BTC, else 2.
    pub fn minor_units(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            Currency::Btc => 8,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A currency name that is not one of the 13 the API accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported currency `{0}`: expected one of usd eur gbp cad aud nzd jpy cny rub brl inr try btc"
)]
pub struct UnknownCurrency(pub String);

impl FromStr for Currency {
    type Err = UnknownCurrency;

    /// Case-insensitive, as the API is.
    ///
    /// ```
    /// use tgm_sync::currency::Currency;
    ///
    /// assert_eq!("eur".parse::<Currency>().unwrap(), Currency::Eur);
    /// assert_eq!(Currency::Btc.minor_units(), 8);
    /// assert!("xyz".parse::<Currency>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownCurrency(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_rejects_unknown() {
        assert_eq!("eur".parse::<Currency>(), Ok(Currency::Eur));
        assert_eq!("BTC".parse::<Currency>(), Ok(Currency::Btc));
        assert_eq!("Try".parse::<Currency>(), Ok(Currency::Try));
        assert_eq!(
            "xyz".parse::<Currency>(),
            Err(UnknownCurrency("xyz".to_string()))
        );
    }

    #[test]
    fn all_codes_round_trip() {
        for c in Currency::ALL {
            assert_eq!(c.query_value().parse::<Currency>(), Ok(c));
        }
    }
}
