//! Typed answers of the v1 API's report endpoints (`/revenue`, `/orders/count`,
//! `/plans/report`, `/paymentMethods/report`). The synced streams' rows are declared
//! with their streams (`crate::streams`).
//!
//! Each model is read from JSON by a `from_json` that uses [`RowReader`], so ids may be
//! numbers or strings, money is exact, and a bad row yields a [`RowError`] naming the
//! field. Models serialize back to the API's own shapes (money as decimal strings).

use serde::Serialize;
use serde_json::Value;

use super::row::{RowError, RowReader};
use crate::money::Amount;

/// Revenue and sales for one period or group, as every report endpoint states them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub revenue: Amount,
    pub currency: String,
    pub formatted: Option<String>,
    pub sales: i64,
}

impl Figures {
    fn read(r: &mut RowReader) -> Result<Figures, RowError> {
        Ok(Figures {
            revenue: r.key_money("revenue")?,
            currency: r.key_str("currency")?.to_ascii_uppercase(),
            formatted: r.opt_str("formatted")?,
            sales: r.key_id("sales")?,
        })
    }
}

/// `/revenue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevenueReport {
    pub from: Option<i64>,
    pub to: Option<i64>,
    #[serde(flatten)]
    pub figures: Figures,
}

impl RevenueReport {
    pub fn from_json(row: Value) -> Result<RevenueReport, RowError> {
        let mut r = RowReader::new(row)?;
        Ok(RevenueReport {
            // Echoes of the query's bounds, read nowhere: an echo that is no integer (an
            // ISO date, say) is dropped, never a reason to refuse the whole answer.
            from: r.opt_id("from").ok().flatten(),
            to: r.opt_id("to").ok().flatten(),
            figures: Figures::read(&mut r)?,
        })
    }
}

/// One period of `/orders/count`, or one month of a plan's `breakdown`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodFigures {
    pub period: String,
    #[serde(flatten)]
    pub figures: Figures,
}

impl PeriodFigures {
    pub fn from_json(row: Value) -> Result<PeriodFigures, RowError> {
        let mut r = RowReader::new(row)?;
        Ok(PeriodFigures {
            period: r.key_str("period")?,
            figures: Figures::read(&mut r)?,
        })
    }
}

/// One plan of `/plans/report`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub plan_id: i64,
    pub plan_name: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
    pub breakdown: Vec<PeriodFigures>,
}

impl PlanReport {
    pub fn from_json(row: Value) -> Result<PlanReport, RowError> {
        let mut r = RowReader::new(row)?;
        let plan_id = r.key_id("plan_id")?;
        let plan_name = r.opt_str("plan_name")?;
        let figures = Figures::read(&mut r)?;
        let breakdown = match r.opt_json("breakdown") {
            None => Vec::new(),
            Some(text) => {
                let items: Vec<Value> = serde_json::from_str(&text).map_err(|_| RowError {
                    field: "breakdown".into(),
                    reason: "expected a list".into(),
                })?;
                items
                    .into_iter()
                    .map(PeriodFigures::from_json)
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(PlanReport {
            plan_id,
            plan_name,
            figures,
            breakdown,
        })
    }
}

/// One gateway of `/paymentMethods/report`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentMethodReport {
    pub name: String,
    pub display_name: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

impl PaymentMethodReport {
    pub fn from_json(row: Value) -> Result<PaymentMethodReport, RowError> {
        let mut r = RowReader::new(row)?;
        Ok(PaymentMethodReport {
            name: r.key_str("name")?,
            display_name: r.opt_str("display_name")?,
            figures: Figures::read(&mut r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_revenue_answer_reads_whatever_its_echoed_bounds_look_like() {
        let numbers = RevenueReport::from_json(json!({"from": 1717200000, "to": "1719792000",
            "revenue": "398.60636332000007", "currency": "eur", "formatted": "398,61€",
            "sales": 12}))
        .expect("integer echoes");
        assert_eq!(
            (numbers.from, numbers.to),
            (Some(1_717_200_000), Some(1_719_792_000))
        );
        let dates = RevenueReport::from_json(json!({"from": "2024-06-01T00:00:00Z",
            "to": "2024-07-01", "revenue": "398.60636332000007", "currency": "EUR",
            "formatted": "398,61€", "sales": 12}))
        .expect("date echoes are no reason to refuse the answer");
        assert_eq!((dates.from, dates.to), (None, None));
        assert_eq!(dates.figures, numbers.figures);
        assert_eq!(dates.figures.revenue.to_string(), "398.60636332000007");
    }

    #[test]
    fn plan_report_with_breakdown() {
        let p = PlanReport::from_json(json!({"plan_id": 19, "plan_name": "USD Demo Plan",
            "revenue": "551.23244979", "currency": "EUR", "formatted": "551,23€", "sales": 7,
            "breakdown": [{"period": "2024-06", "revenue": "89.8184", "currency": "EUR",
            "formatted": "89,82€", "sales": 1}]}))
        .expect("valid");
        assert_eq!(p.breakdown.len(), 1);
        assert_eq!(p.breakdown[0].figures.revenue.to_string(), "89.8184");
    }
}
