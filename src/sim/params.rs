//! Query-parameter validation with the API's rules (limit ranges, positive ids, known
//! currencies): each failure is a 400 naming the parameter.

use axum::http::StatusCode;

use crate::currency::Currency;

use super::model::OrderStatus;
use super::periods::IntervalUnit;

/// An error answer: HTTP status and the envelope's `description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub description: String,
}

impl ApiError {
    pub(super) fn bad_request(description: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            description: format!("Bad Request: {}", description.into()),
        }
    }

    pub(super) fn not_found(description: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            description: format!("Not Found: {}", description.into()),
        }
    }
}

/// Largest `interval_count` accepted (the docs give no bound; this keeps answers small).
pub(super) const MAX_INTERVAL_COUNT: u32 = 10_000;

/// A request's query parameters, names lower-cased; an empty value counts as absent.
pub(super) struct Params<'a>(pub &'a [(String, String)]);

impl Params<'_> {
    /// The last non-empty value of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    fn integer(&self, name: &str, rule: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("parameter `{name}` {rule}, got `{text}`"))
            }),
        }
    }

    fn in_range(
        &self,
        name: &str,
        min: i64,
        max: i64,
        rule: &str,
    ) -> Result<Option<i64>, ApiError> {
        match self.integer(name, rule)? {
            Some(v) if v < min || v > max => Err(ApiError::bad_request(format!(
                "parameter `{name}` {rule}, got `{v}`"
            ))),
            other => Ok(other),
        }
    }

    /// `limit`: 1..=max, default 100.
    pub(super) fn limit(&self, max: i64) -> Result<usize, ApiError> {
        let rule = format!("must be an integer between 1 and {max}");
        Ok(self.in_range("limit", 1, max, &rule)?.unwrap_or(100) as usize)
    }

    /// `offset`: >= 0, default 0.
    pub(super) fn offset(&self) -> Result<usize, ApiError> {
        let rule = "must be an integer greater than or equal to 0";
        let v = self.in_range("offset", 0, i64::MAX, rule)?.unwrap_or(0);
        Ok(usize::try_from(v).unwrap_or(usize::MAX))
    }

    /// `plan_id` / `project_id`: a positive number.
    pub(super) fn positive_id(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let v = self.in_range(name, 1, i64::MAX, "must be a positive number")?;
        Ok(v.map(|v| v as u64))
    }

    /// `member_id`: a non-negative number (0 selects orders without a member).
    pub(super) fn member_id(&self) -> Result<Option<u64>, ApiError> {
        let v = self.in_range("member_id", 0, i64::MAX, "must be a non-negative integer")?;
        Ok(v.map(|v| v as u64))
    }

    /// A required UNIX timestamp.
    pub(super) fn timestamp(&self, name: &str) -> Result<i64, ApiError> {
        self.integer(name, "must be a UNIX timestamp")?
            .ok_or_else(|| ApiError::bad_request(format!("parameter `{name}` is required")))
    }

    /// `currency`, case-insensitive, one of the 13.
    pub(super) fn currency(&self) -> Result<Option<Currency>, ApiError> {
        self.get("currency")
            .map(|text| {
                text.parse::<Currency>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "parameter `currency` must be one of usd, eur, gbp, cad, aud, nzd, jpy, cny, rub, brl, inr, try, btc, got `{text}`"
                    ))
                })
            })
            .transpose()
    }

    pub(super) fn order_status(&self) -> Result<Option<OrderStatus>, ApiError> {
        self.get("order_status")
            .map(|text| {
                OrderStatus::parse(text).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "parameter `order_status` must be one of COMPLETED, PENDING, REFUNDED, CANCELED, got `{text}`"
                    ))
                })
            })
            .transpose()
    }

    pub(super) fn interval_unit(&self) -> Result<IntervalUnit, ApiError> {
        match self.get("interval_unit") {
            None => Ok(IntervalUnit::Month),
            Some(text) => IntervalUnit::parse(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "parameter `interval_unit` must be one of day, month, year, got `{text}`"
                ))
            }),
        }
    }

    pub(super) fn interval_count(&self) -> Result<u32, ApiError> {
        let rule = format!("must be an integer between 1 and {MAX_INTERVAL_COUNT}");
        let v = self.in_range("interval_count", 1, i64::from(MAX_INTERVAL_COUNT), &rule)?;
        Ok(v.unwrap_or(1) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limits_and_offsets() {
        let empty = q(&[]);
        assert_eq!(Params(&empty).limit(100), Ok(100));
        assert_eq!(Params(&empty).offset(), Ok(0));
        let ok = q(&[("limit", "1000"), ("offset", "5")]);
        assert_eq!(Params(&ok).limit(1000), Ok(1000));
        assert_eq!(Params(&ok).offset(), Ok(5));
        let err = Params(&ok).limit(100).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.description.contains("`limit`"), "{}", err.description);
        for bad in ["0", "-1", "abc", "1.5"] {
            let v = q(&[("limit", bad)]);
            assert!(Params(&v).limit(100).is_err(), "{bad}");
        }
        let neg = q(&[("offset", "-1")]);
        assert!(
            Params(&neg)
                .offset()
                .unwrap_err()
                .description
                .contains("`offset`")
        );
    }

    #[test]
    fn currencies_statuses_and_ids() {
        let v = q(&[
            ("currency", "UsD"),
            ("order_status", "pending"),
            ("plan_id", "0"),
        ]);
        let p = Params(&v);
        assert_eq!(p.currency(), Ok(Some(Currency::Usd)));
        assert_eq!(p.order_status(), Ok(Some(OrderStatus::Pending)));
        assert!(p.positive_id("plan_id").is_err());
        let bad = q(&[("currency", "xyz")]);
        assert!(
            Params(&bad)
                .currency()
                .unwrap_err()
                .description
                .contains("`currency`")
        );
        let missing = q(&[("to", "5")]);
        assert!(
            Params(&missing)
                .timestamp("from")
                .unwrap_err()
                .description
                .contains("`from`")
        );
    }

    #[test]
    fn the_last_value_wins() {
        let v = q(&[("limit", "5"), ("limit", "7")]);
        assert_eq!(Params(&v).limit(100), Ok(7));
    }
}
