//! Typed rows and reports of every GET endpoint of the v1 API.
//!
//! Each model is read from JSON by a `from_json` that uses [`RowReader`], so ids may be
//! numbers or strings, money is exact, unknown fields land in `extra` (the `_extra`
//! column), and a bad row yields a [`RowError`] naming the field. Models serialize back
//! to the API's own shapes (money as decimal strings).

use serde::Serialize;
use serde_json::Value;

use super::row::{RowError, RowReader};
use crate::money::Amount;

/// An order (`/orders`, `/orders/{order_key}`). Amount and currency are native unless the
/// request asked for a `currency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub order_key: String,
    pub order_type: Option<i64>,
    /// UNIX seconds.
    pub order_date: i64,
    pub order_status: String,
    pub member_id: Option<i64>,
    pub member_name: Option<String>,
    pub member_email: Option<String>,
    pub plan_id: Option<i64>,
    pub plan_name: Option<String>,
    pub project_id: Option<i64>,
    /// A display name in `/orders`, a code in `/orders/{order_key}`.
    pub payment_gateway: Option<String>,
    pub amount: Option<Amount>,
    /// Upper-case currency code.
    pub currency: Option<String>,
    #[serde(skip)]
    pub extra: Option<String>,
}

impl Order {
    pub fn from_json(row: Value) -> Result<Order, RowError> {
        let mut r = RowReader::new(row)?;
        let order = Order {
            order_key: r.key_str("order_key")?,
            order_type: r.opt_id("order_type")?,
            order_date: r.key_timestamp("order_date")?,
            order_status: r.key_str("order_status")?.to_ascii_uppercase(),
            member_id: r.opt_id("member_id")?,
            member_name: r.opt_str("member_name")?,
            member_email: r.opt_str("member_email")?,
            plan_id: r.opt_id("plan_id")?,
            plan_name: r.opt_str("plan_name")?,
            project_id: r.opt_id("project_id")?,
            payment_gateway: r.opt_str("payment_gateway")?,
            amount: r.opt_money("amount")?,
            currency: r.opt_str("currency")?.map(|c| c.to_ascii_uppercase()),
            extra: None,
        };
        // `formatted` is derived from amount and currency: not kept.
        r.opt_str("formatted")?;
        Ok(Order {
            extra: r.finish(),
            ..order
        })
    }
}

/// One membership (`/members`): a member may hold several, one per plan and project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Membership {
    pub member_id: i64,
    pub plan_id: i64,
    pub project_id: i64,
    pub start: Option<i64>,
    pub end: Option<i64>,
    #[serde(skip)]
    pub extra: Option<String>,
}

impl Membership {
    pub fn from_json(row: Value) -> Result<Membership, RowError> {
        let mut r = RowReader::new(row)?;
        let member_id = r.key_id("member_id")?;
        let plan_id = r.key_id("plan_id")?;
        let project_id = r.key_id("project_id")?;
        let (start, end) = match r.opt_object("membership")? {
            Some(mut m) => {
                let span = (m.opt_timestamp("start")?, m.opt_timestamp("end")?);
                r.put_back("membership", m);
                span
            }
            // Tolerate the times at the top level too.
            None => (r.opt_timestamp("start")?, r.opt_timestamp("end")?),
        };
        Ok(Membership {
            member_id,
            plan_id,
            project_id,
            start,
            end,
            extra: r.finish(),
        })
    }
}

/// A plan (`/plans`), its options flattened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub plan_id: i64,
    pub plan_name: Option<String>,
    pub duration: Option<String>,
    pub price: Option<Amount>,
    pub currency: Option<String>,
    pub recurring: Option<bool>,
    pub newcomers: Option<i64>,
    pub singleuse: Option<i64>,
    pub token_only: Option<bool>,
    pub credit_only: Option<bool>,
    pub invitee_only: Option<i64>,
    pub is_hidden: Option<bool>,
    pub max_customers: Option<i64>,
    pub sort_order: Option<i64>,
    pub enabled: Option<bool>,
    #[serde(skip)]
    pub extra: Option<String>,
}

impl Plan {
    pub fn from_json(row: Value) -> Result<Plan, RowError> {
        let mut r = RowReader::new(row)?;
        let plan_id = r.key_id("plan_id")?;
        let plan_name = r.opt_str("plan_name")?;
        let duration = r.opt_str("duration")?;
        let price = r.opt_money("price")?;
        let currency = r.opt_str("currency")?.map(|c| c.to_ascii_uppercase());
        let mut plan = Plan {
            plan_id,
            plan_name,
            duration,
            price,
            currency,
            recurring: None,
            newcomers: None,
            singleuse: None,
            token_only: None,
            credit_only: None,
            invitee_only: None,
            is_hidden: None,
            max_customers: r.opt_id("max_customers")?,
            sort_order: r.opt_id("sort_order")?,
            enabled: r.opt_bool("enabled")?,
            extra: None,
        };
        if let Some(mut o) = r.opt_object("options")? {
            plan.recurring = o.opt_bool("recurring")?;
            plan.newcomers = o.opt_int_or_bool("newcomers")?;
            plan.singleuse = o.opt_int_or_bool("singleuse")?;
            plan.token_only = o.opt_bool("token_only")?;
            plan.credit_only = o.opt_bool("credit_only")?;
            plan.invitee_only = o.opt_int_or_bool("invitee_only")?;
            plan.is_hidden = o.opt_bool("is_hidden")?;
            r.put_back("options", o);
        }
        plan.extra = r.finish();
        Ok(plan)
    }
}

/// A project (`/projects`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub project_id: i64,
    pub project_name: Option<String>,
    pub sort_order: Option<i64>,
    pub is_hidden: Option<bool>,
    #[serde(skip)]
    pub extra: Option<String>,
}

impl Project {
    pub fn from_json(row: Value) -> Result<Project, RowError> {
        let mut r = RowReader::new(row)?;
        let project_id = r.key_id("project_id")?;
        let project_name = r.opt_str("project_name")?;
        let (mut sort_order, mut is_hidden) = (None, None);
        if let Some(mut o) = r.opt_object("options")? {
            sort_order = o.opt_id("sort_order")?;
            is_hidden = o.opt_bool("is_hidden")?;
            r.put_back("options", o);
        }
        Ok(Project {
            project_id,
            project_name,
            sort_order,
            is_hidden,
            extra: r.finish(),
        })
    }
}

/// A coupon (`/coupons`), keyed by `name`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coupon {
    pub name: String,
    pub amount: Option<Amount>,
    pub percent: Option<Amount>,
    pub min_amount: Option<Amount>,
    pub max_amount: Option<Amount>,
    pub uses: Option<i64>,
    pub used: Option<i64>,
    pub plans: Option<Vec<i64>>,
    pub payment_gateways: Option<Vec<String>>,
    pub revenue_direction: Option<String>,
    pub revenue_amount: Option<Amount>,
    pub revenue_currency: Option<String>,
    pub newcomers: Option<bool>,
    pub singleuse: Option<bool>,
    pub invitee_only: Option<bool>,
    pub auto_apply: Option<bool>,
    pub enabled: Option<bool>,
    #[serde(skip)]
    pub extra: Option<String>,
}

impl Coupon {
    pub fn from_json(row: Value) -> Result<Coupon, RowError> {
        let mut r = RowReader::new(row)?;
        let mut coupon = Coupon {
            name: r.key_str("name")?,
            amount: r.opt_money("amount")?,
            percent: r.opt_money("percent")?,
            min_amount: r.opt_money("min_amount")?,
            max_amount: r.opt_money("max_amount")?,
            uses: r.opt_id("uses")?,
            used: r.opt_id("used")?,
            plans: r.opt_id_list("plans")?,
            payment_gateways: r.opt_str_list("payment_gateways")?,
            revenue_direction: None,
            revenue_amount: None,
            revenue_currency: None,
            newcomers: r.opt_bool("newcomers")?,
            singleuse: r.opt_bool("singleuse")?,
            invitee_only: r.opt_bool("invitee_only")?,
            auto_apply: r.opt_bool("auto_apply")?,
            enabled: r.opt_bool("enabled")?,
            extra: None,
        };
        if let Some(mut rev) = r.opt_object("revenue")? {
            coupon.revenue_direction = rev.opt_str("direction")?;
            coupon.revenue_amount = rev.opt_money("amount")?;
            coupon.revenue_currency = rev.opt_str("currency")?.map(|c| c.to_ascii_uppercase());
            r.put_back("revenue", rev);
        }
        coupon.extra = r.finish();
        Ok(coupon)
    }
}

/// An installed payment method (`/paymentMethods`), keyed by its code `name`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentMethod {
    pub name: String,
    pub display_name: Option<String>,
    pub supports_recurring: Option<bool>,
    pub requires_email: Option<bool>,
    /// JSON text of the `tokens` list.
    pub tokens: Option<String>,
    #[serde(skip)]
    pub extra: Option<String>,
}

impl PaymentMethod {
    pub fn from_json(row: Value) -> Result<PaymentMethod, RowError> {
        let mut r = RowReader::new(row)?;
        Ok(PaymentMethod {
            name: r.key_str("name")?,
            display_name: r.opt_str("display_name")?,
            supports_recurring: r.opt_bool("supports_recurring")?,
            requires_email: r.opt_bool("requires_email")?,
            tokens: r.opt_json("tokens"),
            extra: r.finish(),
        })
    }
}

/// `/users/count`: one snapshot, its unknown fields kept like every other stream's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsersCount {
    pub users: Option<i64>,
    pub leads: Option<i64>,
    pub churned: Option<i64>,
    pub members: Option<i64>,
    #[serde(skip)]
    pub extra: Option<String>,
}

impl UsersCount {
    pub fn from_json(row: Value) -> Result<UsersCount, RowError> {
        let mut r = RowReader::new(row)?;
        Ok(UsersCount {
            users: r.opt_id("users")?,
            leads: r.opt_id("leads")?,
            churned: r.opt_id("churned")?,
            members: r.opt_id("members")?,
            extra: r.finish(),
        })
    }
}

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
            from: r.opt_timestamp("from")?,
            to: r.opt_timestamp("to")?,
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
    fn reads_the_documented_order() {
        let order = Order::from_json(json!({
            "order_key": "66804997RC5418150", "order_type": 1, "order_date": 1721285697,
            "order_status": "PENDING", "member_id": 1111111111, "member_name": "John Doe",
            "plan_id": 20, "plan_name": "EUR Demo Plan", "project_id": 0,
            "payment_gateway": "PayPal", "amount": "1.344882", "currency": "USD",
            "formatted": "$1.34"
        }))
        .expect("valid order");
        assert_eq!(order.order_key, "66804997RC5418150");
        assert_eq!(order.order_date, 1721285697);
        assert_eq!(order.amount.map(|a| a.to_string()), Some("1.344882".into()));
        assert_eq!(order.extra, None);
    }

    #[test]
    fn reads_the_documented_single_order_without_amount() {
        let order = Order::from_json(json!({
            "order_key": "ABCD123", "member_id": 0, "member_name": "John Doe",
            "member_email": "john@doe.com", "payment_gateway": "stripe",
            "order_status": "PENDING", "order_date": 1721159920, "plan_id": 11, "project_id": 1
        }))
        .expect("valid order");
        assert_eq!(order.amount, None);
        assert_eq!(order.member_email.as_deref(), Some("john@doe.com"));
    }

    #[test]
    fn membership_keys_and_times() {
        let m = Membership::from_json(
            json!({"member_id": "1111111111", "plan_id": 18, "project_id": 3,
            "membership": {"start": 1721137382, "end": 1721310182}}),
        )
        .expect("valid");
        assert_eq!((m.member_id, m.plan_id, m.project_id), (1111111111, 18, 3));
        assert_eq!((m.start, m.end), (Some(1721137382), Some(1721310182)));
        let missing = Membership::from_json(json!({"member_id": 1, "plan_id": 2}));
        assert_eq!(
            missing.map_err(|e| e.to_string()),
            Err("field `project_id`: missing".into())
        );
    }

    #[test]
    fn plan_options_flatten_and_unknown_options_are_kept() {
        let p = Plan::from_json(json!({"plan_id": 20, "plan_name": "EUR Demo Plan", "duration": "2 days",
            "price": "1.23", "currency": "EUR", "options": {"recurring": false, "newcomers": 0,
            "singleuse": 0, "token_only": false, "credit_only": false, "invitee_only": 0,
            "is_hidden": false, "brand_new": 1}, "max_customers": 0, "sort_order": 100, "enabled": true}))
        .expect("valid");
        assert_eq!(p.newcomers, Some(0));
        assert_eq!(p.sort_order, Some(100));
        assert_eq!(p.extra.as_deref(), Some(r#"{"options":{"brand_new":1}}"#));
    }

    #[test]
    fn coupon_with_revenue_rule() {
        let c = Coupon::from_json(json!({"name": "HJTPS3", "amount": "0", "percent": "11",
            "payment_gateways": ["paypal"], "plans": [11, 14, 18],
            "revenue": {"direction": "above", "amount": "10", "currency": "USD"}, "enabled": true}))
        .expect("valid");
        assert_eq!(c.plans, Some(vec![11, 14, 18]));
        assert_eq!(c.revenue_amount.map(|a| a.to_string()), Some("10".into()));
        assert_eq!(c.extra, None);
    }

    #[test]
    fn users_count_keeps_unknown_fields() {
        let u = UsersCount::from_json(json!({"users": 6405, "leads": 5651, "churned": 6,
            "members": 864, "trialing": 12}))
        .expect("valid");
        assert_eq!(
            (u.users, u.leads, u.churned, u.members),
            (Some(6405), Some(5651), Some(6), Some(864))
        );
        assert_eq!(u.extra.as_deref(), Some(r#"{"trialing":12}"#));
        let plain = UsersCount::from_json(json!({"users": 1})).expect("valid");
        assert_eq!(plain.extra, None);
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
