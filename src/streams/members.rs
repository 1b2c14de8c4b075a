//! `/members`: one row per membership (a member may hold several, one per plan and
//! project), read whole every run.
//!
//! A membership without `project_id` (the API text does not promise one) is kept, with
//! project [`NO_PROJECT`] (0; the API's ids are positive): the key (member, plan,
//! project) stays NOT NULL, so the merge and the Parquet and lake keys need no NULL-safe
//! comparison, and a later answer that names the project is a different membership.

use serde::Serialize;
use serde_json::Value;

use super::row::{StagedRow, check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, text_of};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::streams::table::{Layout, TableSpec};

crate::staged_row! {
    /// One membership (`/members`).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Membership {
        member_id: i64 => Int,
        plan_id: i64 => Int,
        project_id: i64 => Int,
        start: Option<i64> => Timestamp as "membership_start",
        end: Option<i64> => Timestamp as "membership_end",
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
}

impl Membership {
    pub fn from_json(row: Value) -> Result<Membership, RowError> {
        let mut r = RowReader::new(row)?;
        let member_id = r.key_id("member_id")?;
        let plan_id = r.key_id("plan_id")?;
        let project_id = r.opt_id("project_id")?.unwrap_or(NO_PROJECT);
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

/// The project of a membership the API lists without one.
pub const NO_PROJECT: i64 = 0;

/// A membership's key: its three ids, `/`-separated, a missing or null `project_id` as
/// [`NO_PROJECT`] (as [`Membership::from_json`] stores it).
fn membership_key(row: &Value) -> Option<String> {
    let project = match row.get("project_id") {
        None | Some(Value::Null) => NO_PROJECT.to_string(),
        Some(_) => text_of(row, "project_id")?,
    };
    Some(format!(
        "{}/{}/{project}",
        text_of(row, "member_id")?,
        text_of(row, "plan_id")?
    ))
}

pub static MEMBERS: TableSpec = TableSpec {
    name: "members",
    keys: &["member_id", "plan_id", "project_id"],
    columns: Membership::COLUMNS,
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
    layout: Layout::Merged,
};

pub(crate) static STREAM: StreamDef = StreamDef {
    name: StreamName::Members,
    role: Role::Fact,
    method: Method::Members,
    answer: Answer::Paged { limit: 1000 },
    key_of: membership_key,
    table: &MEMBERS,
    strategy: Strategy::FullScan,
    stage: stage_row::<Membership>,
    check: check_row::<Membership>,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn membership_keys_and_times() {
        let m = Membership::from_json(
            json!({"member_id": "1111111111", "plan_id": 18, "project_id": 3,
            "membership": {"start": 1721137382, "end": 1721310182}}),
        )
        .expect("valid");
        assert_eq!((m.member_id, m.plan_id, m.project_id), (1111111111, 18, 3));
        assert_eq!((m.start, m.end), (Some(1721137382), Some(1721310182)));
        // No project: kept, under the sentinel project 0.
        let missing = Membership::from_json(json!({"member_id": 1, "plan_id": 2}));
        assert_eq!(missing.map(|m| m.project_id), Ok(NO_PROJECT));
        let null = Membership::from_json(json!({"member_id": 1, "plan_id": 2, "project_id": null}));
        assert_eq!(null.map(|m| m.project_id), Ok(NO_PROJECT));
        let missing_plan = Membership::from_json(json!({"member_id": 1, "project_id": 2}));
        assert!(missing_plan.is_err());
    }

    #[test]
    fn the_key_joins_the_three_ids() {
        assert_eq!(
            (STREAM.key_of)(&json!({"member_id": "7", "plan_id": 18, "project_id": 3})),
            Some("7/18/3".into())
        );
        assert_eq!(
            (STREAM.key_of)(&json!({"member_id": 7, "plan_id": 18})),
            Some("7/18/0".into())
        );
        assert_eq!(
            (STREAM.key_of)(&json!({"member_id": 7, "plan_id": 18, "project_id": null})),
            Some("7/18/0".into())
        );
        assert_eq!(
            (STREAM.key_of)(&json!({"member_id": 7, "project_id": 3})),
            None
        );
    }
}
