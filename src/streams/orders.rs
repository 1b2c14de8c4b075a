//! `/orders`: the one fact stream read incrementally. Newest first down to a lookback
//! window, then still-PENDING orders re-read one by one; a full scan now and then (the
//! fetcher and the strategy that decides which pass runs are in `sync::orders`).

use serde::Serialize;
use serde_json::Value;

use super::row::{check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, key_text};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::money::Amount;
use crate::streams::table::{Layout, TableSpec};

crate::staged_row! {
    /// An order (`/orders`, `/orders/{order_key}`). Amount and currency are native unless
    /// the request asked for a `currency`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Order {
        order_key: String => Text,
        order_type: Option<i64> => Int,
        /// UNIX seconds.
        order_date: i64 => Timestamp,
        order_status: String => Text,
        member_id: Option<i64> => Int,
        member_name: Option<String> => Text,
        member_email: Option<String> => Text,
        plan_id: Option<i64> => Int,
        plan_name: Option<String> => Text,
        project_id: Option<i64> => Int,
        /// A display name in `/orders`, a code in `/orders/{order_key}`.
        payment_gateway: Option<String> => Text,
        amount: Option<Amount> => Money,
        /// Upper-case currency code.
        currency: Option<String> => Text,
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
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

pub static ORDERS: TableSpec = TableSpec {
    name: "orders",
    keys: &["order_key"],
    columns: <Order as super::row::StagedRow>::COLUMNS,
    derived: &[],
    month_partition: Some("order_date"),
    kept_when_null: &["member_email"],
    layout: Layout::Merged,
};

pub(crate) static STREAM: StreamDef = StreamDef {
    name: StreamName::Orders,
    role: Role::Fact,
    method: Method::Orders,
    answer: Answer::Paged { limit: PAGE_LIMIT },
    key_of: |row| key_text(row, ORDERS.keys),
    table: &ORDERS,
    strategy: Strategy::NewestFirst,
    stage: stage_row::<Order>,
    check: check_row::<Order>,
};

/// Rows per `/orders` page.
pub(crate) const PAGE_LIMIT: u32 = 100;

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
    fn the_key_is_the_order_key_as_text() {
        assert_eq!(
            (STREAM.key_of)(&json!({"order_key": "AB1", "order_date": 1})),
            Some("AB1".into())
        );
        assert_eq!((STREAM.key_of)(&json!({"order_date": 1})), None);
    }
}
