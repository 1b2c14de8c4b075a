//! Turns simulator values into the API's JSON rows, applying the wire quirks (ids as
//! strings, money as numbers, unknown extra fields) in one place.

use rust_decimal::Decimal;
use serde_json::{Map, Number, Value, json};

use crate::currency::Currency;

use super::Quirks;
use super::format::{decimal_string, formatted};
use super::model::{Coupon, Gateway, Membership, Order, Plan, Project};
use super::rates::convert_order;
use super::reports::{GatewayReportRow, PeriodRow, PlanReportRow, RevenueReport, UserCounts};

/// Writes rows under one set of quirks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Render {
    pub quirks: Quirks,
}

impl Render {
    /// An id: a JSON number, or a numeric string under `ids_as_strings`.
    pub(super) fn id(&self, id: u64) -> Value {
        if self.quirks.ids_as_strings {
            Value::String(id.to_string())
        } else {
            Value::from(id)
        }
    }

    /// Money: a plain decimal string, or a JSON number with the same digits under
    /// `money_as_numbers`.
    pub(super) fn money(&self, amount: Decimal) -> Value {
        self.money_text(decimal_string(amount))
    }

    /// A money text as [`Render::money`] sends it.
    fn money_text(&self, text: String) -> Value {
        if self.quirks.money_as_numbers
            && let Ok(number) = serde_json::from_str::<Number>(&text)
        {
            return Value::Number(number);
        }
        Value::String(text)
    }

    /// Finishes a row object: adds unknown fields under `extra_fields`.
    fn row(&self, mut map: Map<String, Value>) -> Value {
        if self.quirks.extra_fields {
            map.insert("sim_extra".to_string(), Value::from("unknown field"));
            map.insert(
                "sim_meta".to_string(),
                json!({"version": 2, "tags": ["a", "b"]}),
            );
        }
        Value::Object(map)
    }

    /// A `/orders` row: native amount, or converted to `target`.
    pub(super) fn order(&self, order: &Order, plan_name: &str, target: Option<Currency>) -> Value {
        let currency = target.unwrap_or(order.currency);
        let amount = convert_order(
            order.amount,
            order.currency,
            currency,
            self.quirks.arithmetic(),
        );
        let mut m = Map::new();
        m.insert("order_key".into(), Value::from(order.order_key.as_str()));
        m.insert("order_type".into(), Value::from(order.order_type));
        m.insert("order_date".into(), Value::from(order.order_date));
        m.insert(
            "order_status".into(),
            Value::from(order.order_status.as_str()),
        );
        m.insert("member_id".into(), self.id(order.member_id));
        m.insert("member_name".into(), Value::from(order.member_name));
        m.insert("plan_id".into(), self.id(order.plan_id));
        m.insert("plan_name".into(), Value::from(plan_name));
        m.insert("project_id".into(), self.id(order.project_id));
        m.insert(
            "payment_gateway".into(),
            Value::from(order.gateway.display_name),
        );
        m.insert("amount".into(), self.money(amount));
        m.insert("currency".into(), Value::from(currency.code()));
        m.insert("formatted".into(), Value::from(formatted(amount, currency)));
        self.row(m)
    }

    /// A `/orders/{order_key}` object, as the docs show it (gateway as a code).
    pub(super) fn order_detail(&self, order: &Order) -> Value {
        let mut m = Map::new();
        m.insert("order_key".into(), Value::from(order.order_key.as_str()));
        m.insert("member_id".into(), self.id(order.member_id));
        m.insert("member_name".into(), Value::from(order.member_name));
        m.insert("member_email".into(), Value::from(order.member_email()));
        m.insert("payment_gateway".into(), Value::from(order.gateway.code));
        m.insert(
            "order_status".into(),
            Value::from(order.order_status.as_str()),
        );
        m.insert("order_date".into(), Value::from(order.order_date));
        m.insert("plan_id".into(), self.id(order.plan_id));
        m.insert("project_id".into(), self.id(order.project_id));
        self.row(m)
    }

    pub(super) fn membership(&self, ms: &Membership) -> Value {
        let mut m = Map::new();
        m.insert("member_id".into(), self.id(ms.member_id));
        m.insert("plan_id".into(), self.id(ms.plan_id));
        m.insert("project_id".into(), self.id(ms.project_id));
        m.insert(
            "membership".into(),
            json!({"start": ms.start, "end": ms.end}),
        );
        self.row(m)
    }

    pub(super) fn plan(&self, plan: &Plan) -> Value {
        let o = &plan.options;
        let mut m = Map::new();
        m.insert("plan_id".into(), self.id(plan.plan_id));
        m.insert("plan_name".into(), Value::from(plan.plan_name.as_str()));
        m.insert("duration".into(), Value::from(plan.duration.as_str()));
        m.insert("price".into(), self.money(plan.price));
        m.insert("currency".into(), Value::from(plan.currency.code()));
        m.insert(
            "options".into(),
            json!({
                "recurring": o.recurring,
                "newcomers": o.newcomers,
                "singleuse": o.singleuse,
                "token_only": o.token_only,
                "credit_only": o.credit_only,
                "invitee_only": o.invitee_only,
                "is_hidden": o.is_hidden,
            }),
        );
        m.insert("max_customers".into(), Value::from(plan.max_customers));
        m.insert("sort_order".into(), Value::from(plan.sort_order));
        m.insert("enabled".into(), Value::from(plan.enabled));
        self.row(m)
    }

    pub(super) fn project(&self, project: &Project) -> Value {
        let mut options = Map::new();
        if let Some(sort_order) = project.sort_order {
            options.insert("sort_order".into(), Value::from(sort_order));
        }
        options.insert("is_hidden".into(), Value::from(project.is_hidden));
        let mut m = Map::new();
        m.insert("project_id".into(), self.id(project.project_id));
        m.insert(
            "project_name".into(),
            Value::from(project.project_name.as_str()),
        );
        m.insert("options".into(), Value::Object(options));
        self.row(m)
    }

    pub(super) fn coupon(&self, coupon: &Coupon) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(coupon.name.as_str()));
        m.insert("amount".into(), self.money(coupon.amount));
        m.insert("percent".into(), self.money(coupon.percent));
        m.insert("min_amount".into(), self.money(coupon.min_amount));
        m.insert("max_amount".into(), self.money(coupon.max_amount));
        m.insert("uses".into(), Value::from(coupon.uses));
        m.insert("used".into(), Value::from(coupon.used));
        if let Some(gateways) = &coupon.payment_gateways {
            m.insert("payment_gateways".into(), json!(gateways));
        }
        m.insert(
            "plans".into(),
            Value::Array(coupon.plans.iter().map(|p| self.id(*p)).collect()),
        );
        if let Some(rule) = &coupon.revenue {
            let mut r = Map::new();
            r.insert("direction".into(), Value::from(rule.direction.as_str()));
            r.insert("amount".into(), self.money(rule.amount));
            r.insert("currency".into(), Value::from(rule.currency.code()));
            m.insert("revenue".into(), Value::Object(r));
        }
        m.insert("newcomers".into(), Value::from(coupon.newcomers));
        m.insert("singleuse".into(), Value::from(coupon.singleuse));
        m.insert("invitee_only".into(), Value::from(coupon.invitee_only));
        m.insert("auto_apply".into(), Value::from(coupon.auto_apply));
        m.insert("enabled".into(), Value::from(coupon.enabled));
        self.row(m)
    }

    /// A `/paymentMethods` row.
    pub(super) fn gateway(&self, gateway: &Gateway) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(gateway.code));
        m.insert("display_name".into(), Value::from(gateway.display_name));
        m.insert(
            "supports_recurring".into(),
            Value::from(gateway.supports_recurring),
        );
        m.insert("requires_email".into(), Value::from(gateway.requires_email));
        if !gateway.tokens.is_empty() {
            let tokens: Vec<Value> = gateway
                .tokens
                .iter()
                .map(|(token, name)| json!({"token": token, "display_name": name}))
                .collect();
            m.insert("tokens".into(), Value::Array(tokens));
        }
        self.row(m)
    }

    /// `revenue`, `currency`, `formatted` of a report entry. Under `float_revenue`,
    /// `revenue` is the float sum's shortest round-trip decimal (Rust's `Display` of an
    /// f64 prints exactly that, without an exponent); `formatted` is the exact sum's.
    fn money_fields(
        &self,
        m: &mut Map<String, Value>,
        revenue: Decimal,
        revenue_f64: f64,
        currency: Currency,
    ) {
        let wire = if self.quirks.float_revenue && revenue_f64.is_finite() {
            self.money_text(revenue_f64.to_string())
        } else {
            self.money(revenue)
        };
        m.insert("revenue".into(), wire);
        m.insert("currency".into(), Value::from(currency.code()));
        m.insert(
            "formatted".into(),
            Value::from(formatted(revenue, currency)),
        );
    }

    pub(super) fn revenue(&self, r: &RevenueReport, currency: Currency) -> Value {
        let mut m = Map::new();
        m.insert("from".into(), Value::from(r.from));
        m.insert("to".into(), Value::from(r.to));
        self.money_fields(&mut m, r.revenue, r.revenue_f64, currency);
        m.insert("sales".into(), Value::from(r.sales));
        self.row(m)
    }

    pub(super) fn period(&self, p: &PeriodRow, currency: Currency) -> Value {
        let mut m = Map::new();
        m.insert("period".into(), Value::from(p.period.as_str()));
        self.money_fields(&mut m, p.revenue, p.revenue_f64, currency);
        m.insert("sales".into(), Value::from(p.sales));
        self.row(m)
    }

    pub(super) fn plan_report(&self, r: &PlanReportRow, currency: Currency) -> Value {
        let mut m = Map::new();
        m.insert("plan_id".into(), self.id(r.plan_id));
        m.insert("plan_name".into(), Value::from(r.plan_name.as_str()));
        self.money_fields(&mut m, r.revenue, r.revenue_f64, currency);
        m.insert("sales".into(), Value::from(r.sales));
        let breakdown = r
            .breakdown
            .iter()
            .map(|p| self.period(p, currency))
            .collect();
        m.insert("breakdown".into(), Value::Array(breakdown));
        self.row(m)
    }

    pub(super) fn gateway_report(&self, r: &GatewayReportRow, currency: Currency) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(r.name));
        m.insert("display_name".into(), Value::from(r.display_name));
        self.money_fields(&mut m, r.revenue, r.revenue_f64, currency);
        m.insert("sales".into(), Value::from(r.sales));
        self.row(m)
    }

    pub(super) fn users(&self, u: &UserCounts) -> Value {
        let mut m = Map::new();
        m.insert("users".into(), Value::from(u.users));
        m.insert("leads".into(), Value::from(u.leads));
        m.insert("churned".into(), Value::from(u.churned));
        m.insert("members".into(), Value::from(u.members));
        self.row(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::{GATEWAYS, OrderStatus};

    fn order() -> Order {
        Order {
            order_key: "cs_test_abcd123".to_string(),
            order_type: 1,
            order_date: 1_721_196_809,
            order_status: OrderStatus::Completed,
            member_id: 4_444_444_444,
            member_name: "Jane Doe",
            plan_id: 20,
            project_id: 0,
            gateway: &GATEWAYS[4],
            amount: "1.245".parse().unwrap(),
            currency: Currency::Eur,
        }
    }

    #[test]
    fn order_rows_match_the_docs() {
        let r = Render {
            quirks: Quirks::default(),
        };
        let v = r.order(&order(), "EUR Demo Plan", None);
        assert_eq!(
            v,
            json!({
                "order_key": "cs_test_abcd123", "order_type": 1, "order_date": 1721196809,
                "order_status": "COMPLETED", "member_id": 4444444444u64, "member_name": "Jane Doe",
                "plan_id": 20, "plan_name": "EUR Demo Plan", "project_id": 0,
                "payment_gateway": "Credit / Debit card (Stripe)", "amount": "1.245",
                "currency": "EUR", "formatted": "1,25€"
            })
        );
        let usd = r.order(&order(), "EUR Demo Plan", Some(Currency::Usd));
        assert_eq!(usd["amount"], json!("1.3446"));
        assert_eq!(usd["currency"], json!("USD"));
        assert_eq!(usd["formatted"], json!("$1.34"));
        let detail = r.order_detail(&order());
        assert_eq!(detail["payment_gateway"], json!("stripe"));
        assert_eq!(detail["member_email"], json!("jane.doe@example.com"));
    }

    #[test]
    fn quirks_change_the_wire_types() {
        let r = Render {
            quirks: Quirks {
                ids_as_strings: true,
                money_as_numbers: true,
                omit_ok: false,
                extra_fields: true,
                float_revenue: true,
                exact_rates: false,
                payment_methods_snake: false,
                rates_moved: false,
            },
        };
        let v = r.order(&order(), "x", None);
        assert_eq!(v["member_id"], json!("4444444444"));
        assert!(v["amount"].is_number());
        assert_eq!(serde_json::to_string(&v["amount"]).unwrap(), "1.245");
        assert_eq!(v["sim_extra"], json!("unknown field"));
        let precise = r.money("398.60636332000007".parse().unwrap());
        assert_eq!(
            serde_json::to_string(&precise).unwrap(),
            "398.60636332000007"
        );
    }
}
