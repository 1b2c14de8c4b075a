//! `/coupons`: a dimension keyed by `name`, read whole every run.

use serde::Serialize;
use serde_json::Value;

use super::row::{StagedRow, check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, key_text};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::money::Amount;
use crate::streams::table::{Layout, TableSpec};

crate::staged_row! {
    /// A coupon (`/coupons`), its revenue rule flattened.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Coupon {
        name: String => Text,
        amount: Option<Amount> => Money,
        percent: Option<Amount> => Money,
        min_amount: Option<Amount> => Money,
        max_amount: Option<Amount> => Money,
        uses: Option<i64> => Int,
        used: Option<i64> => Int,
        plans: Option<Vec<i64>> => IntList,
        payment_gateways: Option<Vec<String>> => TextList,
        revenue_direction: Option<String> => Text,
        revenue_amount: Option<Amount> => Money,
        revenue_currency: Option<String> => Text,
        /// The integers 0–3 plans use for the same flags (the API text; docs/guide.md, streams); a boolean
        /// reads as 0 or 1.
        newcomers: Option<i64> => Int,
        singleuse: Option<i64> => Int,
        invitee_only: Option<i64> => Int,
        auto_apply: Option<bool> => Bool,
        enabled: Option<bool> => Bool,
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
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
            newcomers: r.opt_int_or_bool("newcomers")?,
            singleuse: r.opt_int_or_bool("singleuse")?,
            invitee_only: r.opt_int_or_bool("invitee_only")?,
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

pub static COUPONS: TableSpec = TableSpec {
    name: "coupons",
    keys: &["name"],
    columns: Coupon::COLUMNS,
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
    layout: Layout::Merged,
};

/// `/coupons` documents no query parameters: it is asked once, with none (only
/// documented parameters are sent), and its answer is the whole list.
pub(crate) static STREAM: StreamDef = StreamDef {
    name: StreamName::Coupons,
    role: Role::Dimension,
    method: Method::Coupons,
    answer: Answer::List,
    key_of: |row| key_text(row, COUPONS.keys),
    table: &COUPONS,
    strategy: Strategy::FullScan,
    stage: stage_row::<Coupon>,
    check: check_row::<Coupon>,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coupon_flags_take_the_plans_integers_and_booleans() {
        let c = Coupon::from_json(json!({"name": "A", "newcomers": 3, "singleuse": 2,
            "invitee_only": "1"}))
        .expect("integers 0-3");
        assert_eq!(
            (c.newcomers, c.singleuse, c.invitee_only),
            (Some(3), Some(2), Some(1))
        );
        let c = Coupon::from_json(json!({"name": "B", "newcomers": true, "singleuse": false}))
            .expect("booleans");
        assert_eq!(
            (c.newcomers, c.singleuse, c.invitee_only),
            (Some(1), Some(0), None)
        );
        assert!(Coupon::from_json(json!({"name": "C", "newcomers": "often"})).is_err());
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
}
