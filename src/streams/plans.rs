//! `/plans`: a dimension, read whole every run; options flattened into columns.

use serde::Serialize;
use serde_json::Value;

use super::row::{StagedRow, check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, key_text};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::money::Amount;
use crate::streams::table::{Derived, Layout, TableSpec};

crate::staged_row! {
    /// A plan (`/plans`), its options flattened.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Plan {
        plan_id: i64 => Int,
        plan_name: Option<String> => Text,
        duration: Option<String> => Text,
        price: Option<Amount> => Money,
        currency: Option<String> => Text,
        recurring: Option<bool> => Bool,
        newcomers: Option<i64> => Int,
        singleuse: Option<i64> => Int,
        token_only: Option<bool> => Bool,
        credit_only: Option<bool> => Bool,
        invitee_only: Option<i64> => Int,
        is_hidden: Option<bool> => Bool,
        max_customers: Option<i64> => Int,
        sort_order: Option<i64> => Int,
        enabled: Option<bool> => Bool,
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
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

pub static PLANS: TableSpec = TableSpec {
    name: "plans",
    keys: &["plan_id"],
    columns: Plan::COLUMNS,
    derived: &[Derived {
        name: "duration_interval",
        sql_type: "INTERVAL",
        expr: "TRY_CAST(s.duration AS INTERVAL)",
    }],
    month_partition: None,
    kept_when_null: &[],
    layout: Layout::Merged,
};

pub(crate) static STREAM: StreamDef = StreamDef {
    name: StreamName::Plans,
    role: Role::Dimension,
    method: Method::Plans,
    answer: Answer::Paged { limit: 100 },
    key_of: |row| key_text(row, PLANS.keys),
    table: &PLANS,
    strategy: Strategy::FullScan,
    stage: stage_row::<Plan>,
    check: check_row::<Plan>,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
