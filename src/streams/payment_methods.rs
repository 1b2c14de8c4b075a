//! `/paymentMethods`: the installed gateways, a dimension keyed by its code `name`, read
//! in one request every run.

use serde::Serialize;
use serde_json::Value;

use super::row::{StagedRow, check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, key_text};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::streams::table::{Layout, TableSpec};

crate::staged_row! {
    /// An installed payment method (`/paymentMethods`).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct PaymentMethod {
        name: String => Text,
        display_name: Option<String> => Text,
        supports_recurring: Option<bool> => Bool,
        requires_email: Option<bool> => Bool,
        /// JSON text of the `tokens` list.
        tokens: Option<String> => Text,
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
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

pub static PAYMENT_METHODS: TableSpec = TableSpec {
    name: "payment_methods",
    keys: &["name"],
    columns: PaymentMethod::COLUMNS,
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
    layout: Layout::Merged,
};

pub(crate) static STREAM: StreamDef = StreamDef {
    name: StreamName::PaymentMethods,
    role: Role::Dimension,
    method: Method::PaymentMethods,
    answer: Answer::List,
    key_of: |row| key_text(row, PAYMENT_METHODS.keys),
    table: &PAYMENT_METHODS,
    strategy: Strategy::FullScan,
    stage: stage_row::<PaymentMethod>,
    check: check_row::<PaymentMethod>,
};
