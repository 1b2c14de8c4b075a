//! `/members`: one row per membership (a member may hold several, one per plan and
//! project), read whole every run.

use serde::Serialize;
use serde_json::Value;

use super::row::{StagedRow, check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, key_text};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::load::table::{Layout, TableSpec};

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

pub static MEMBERS: TableSpec = TableSpec {
    name: "members",
    keys: &["member_id", "plan_id", "project_id"],
    columns: Membership::COLUMNS,
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
    layout: Layout::Merged,
};

pub static STREAM: StreamDef = StreamDef {
    name: StreamName::Members,
    role: Role::Fact,
    method: Method::Members,
    answer: Answer::Paged { limit: 1000 },
    key_of: |row| key_text(row, MEMBERS.keys),
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
        let missing = Membership::from_json(json!({"member_id": 1, "plan_id": 2}));
        assert_eq!(
            missing.map_err(|e| e.to_string()),
            Err("field `project_id`: missing".into())
        );
    }

    #[test]
    fn the_key_joins_the_three_ids() {
        assert_eq!(
            (STREAM.key_of)(&json!({"member_id": "7", "plan_id": 18, "project_id": 3})),
            Some("7/18/3".into())
        );
        assert_eq!(
            (STREAM.key_of)(&json!({"member_id": 7, "plan_id": 18})),
            None
        );
    }
}
