//! `/users/count`: one snapshot a run, appended to `users_count_history` (it cannot be
//! derived from the other endpoints), its unknown fields kept like every other stream's.

use serde::Serialize;
use serde_json::Value;

use super::row::{StagedRow, check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::streams::table::{Layout, TableSpec};

crate::staged_row! {
    /// `/users/count`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    pub struct UsersCount {
        users: Option<i64> => Int,
        leads: Option<i64> => Int,
        churned: Option<i64> => Int,
        members: Option<i64> => Int,
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
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

/// One row per run: `run_id` and `captured_at` come from the run, not the row.
pub(crate) static USERS_COUNT_HISTORY: TableSpec = TableSpec {
    name: "users_count_history",
    keys: &[],
    columns: UsersCount::COLUMNS,
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
    layout: Layout::Snapshot,
};

pub(crate) static STREAM: StreamDef = StreamDef {
    name: StreamName::UsersCount,
    role: Role::Fact,
    method: Method::UsersCount,
    answer: Answer::Object,
    key_of: |_| None,
    table: &USERS_COUNT_HISTORY,
    strategy: Strategy::Snapshot,
    stage: stage_row::<UsersCount>,
    check: check_row::<UsersCount>,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
