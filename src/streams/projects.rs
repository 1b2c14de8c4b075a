//! `/projects`: a dimension, read whole every run.

use serde::Serialize;
use serde_json::Value;

use super::row::{StagedRow, check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, key_text};
use crate::api::Method;
use crate::api::row::{RowError, RowReader};
use crate::streams::table::{Layout, TableSpec};

crate::staged_row! {
    /// A project (`/projects`), its options flattened.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Project {
        project_id: i64 => Int,
        project_name: Option<String> => Text,
        sort_order: Option<i64> => Int,
        is_hidden: Option<bool> => Bool,
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
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

pub static PROJECTS: TableSpec = TableSpec {
    name: "projects",
    keys: &["project_id"],
    columns: Project::COLUMNS,
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
    layout: Layout::Merged,
};

pub(crate) static STREAM: StreamDef = StreamDef {
    name: StreamName::Projects,
    role: Role::Dimension,
    method: Method::Projects,
    answer: Answer::Paged { limit: 100 },
    key_of: |row| key_text(row, PROJECTS.keys),
    table: &PROJECTS,
    strategy: Strategy::FullScan,
    stage: stage_row::<Project>,
    check: check_row::<Project>,
};
