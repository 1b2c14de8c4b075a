//! One Delta commit per table per run: the new files of the owed partitions are added
//! and every file the table holds for those partitions is removed, in the same commit.
//!
//! Optimistic concurrency: the commit is written with put-if-absent (conditional write
//! on S3). When another writer took the version first, the log is read again and the
//! files to remove are recomputed from the new version, so two processes syncing
//! disjoint bots both land and neither overwrites the other. delta-rs' own retry is
//! turned off (`max_retries(0)`): its conflict checker decides by operation kind, while
//! ours knows the partitions are ours.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, Add, MetadataExt, Remove, StructField, StructType};
use deltalake::logstore::LogStoreRef;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::table::state::DeltaTableState;
use deltalake::{DeltaTable, DeltaTableError};
use tracing::{info, warn};

use super::error::{LakeError, describe, is_refusal};
use super::location::LakeUrl;
use super::owed::Owed;
use super::table::{partition_columns, store_error};
use crate::streams::table::TableSpec;

/// Attempts at one commit before the run gives up (the marks stay: the next run retries).
pub(crate) const MAX_COMMIT_ATTEMPTS: u32 = 12;

/// A data file uploaded for this run, with the slice of the table it replaces.
#[derive(Debug, Clone)]
pub(crate) struct NewFile {
    pub add: Add,
}

/// Whether a file of the table (by its partition values) belongs to what `owed` replaces.
fn replaced_by(owed: &[Owed], spec: &TableSpec, values: &HashMap<String, Option<String>>) -> bool {
    let Some(Some(bot)) = values.get("bot_id") else {
        return false;
    };
    let month = values.get("order_month").cloned().flatten();
    owed.iter().any(|o| {
        o.bot_id.to_string() == *bot
            && (o.whole
                || o.partitions.iter().any(|p| {
                    spec.month_partition.is_none() || month.as_deref() == Some(p.as_str())
                }))
    })
}

/// The `replaceWhere`-style predicate recorded in the commit's history entry.
fn predicate(owed: &[Owed], spec: &TableSpec) -> String {
    owed.iter()
        .map(|o| {
            if o.whole || spec.month_partition.is_none() {
                format!("bot_id = {}", o.bot_id)
            } else {
                let months: Vec<String> = o.partitions.iter().map(|p| format!("'{p}'")).collect();
                format!(
                    "(bot_id = {} AND order_month IN ({}))",
                    o.bot_id,
                    months.join(", ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The table's schema once this commit lands, when it must change: the columns the table
/// has, then those of `wanted` it lacks (a later migration added them; files written
/// before read them as null). A column the table has and we no longer write stays (our
/// files read it as null), so an older tgm-sync sharing the lake keeps working. A column
/// whose type differs is an error: Delta cannot change a column's type in place.
pub(crate) fn widened_schema(
    lake: &LakeUrl,
    table: &'static str,
    current: &StructType,
    wanted: &[StructField],
) -> Result<Option<StructType>, LakeError> {
    let mut added = Vec::new();
    for field in wanted {
        match current.field(field.name()) {
            Some(have) if have.data_type() == field.data_type() => {}
            Some(have) => {
                return Err(LakeError::SchemaConflict {
                    table,
                    column: field.name().clone(),
                    in_lake: have.data_type().to_string(),
                    in_warehouse: field.data_type().to_string(),
                });
            }
            None => added.push(field.clone()),
        }
    }
    if added.is_empty() {
        return Ok(None);
    }
    let fields = current.fields().cloned().chain(added);
    StructType::try_new(fields)
        .map(Some)
        .map_err(|e| LakeError::Table {
            table,
            url: lake.shown(),
            detail: format!("widening the schema: {e}"),
        })
}

/// A Delta version as the warehouse stores it (BIGINT).
fn as_i64(version: deltalake::kernel::Version) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub version: i64,
    pub added: usize,
    pub removed: usize,
    /// Commits lost to other writers before this one landed.
    pub retries: u32,
}

/// Commits `files` replacing the owed partitions; retried on a newer version.
pub(crate) async fn commit(
    lake: &LakeUrl,
    delta: &mut DeltaTable,
    spec: &'static TableSpec,
    owed: &[Owed],
    files: &[NewFile],
    columns: &[StructField],
    run_id: i64,
) -> Result<Committed, LakeError> {
    let table = TableCommit {
        lake,
        spec,
        owed,
        files,
        columns,
        run_id,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let snapshot = delta
            .snapshot()
            .map_err(|e| store_error(lake, spec.name, e))?;
        // A commit whose answer was lost (a dropped connection) may have landed: then
        // our files are in the table already and there is nothing left to do.
        if attempt > 1 && table.landed(snapshot) {
            return Ok(Committed {
                version: as_i64(snapshot.version()),
                added: files.len(),
                removed: 0,
                retries: attempt - 2,
            });
        }
        let removes = table.removes(snapshot);
        let removed = removes.len();
        if files.is_empty() && removed == 0 {
            // Nothing in the lake to replace and nothing new: no empty commit.
            return Ok(Committed {
                version: as_i64(snapshot.version()),
                added: 0,
                removed: 0,
                retries: attempt - 1,
            });
        }
        let actions = table.actions(snapshot, removes)?;
        match table.try_commit(snapshot, delta.log_store(), actions).await {
            Ok(version) => {
                return Ok(Committed {
                    version,
                    added: files.len(),
                    removed,
                    retries: attempt - 1,
                });
            }
            Err(e) => table.after_lost_attempt(delta, attempt, &e).await?,
        }
    }
}

/// One table's commit: what it replaces and what it adds.
struct TableCommit<'a> {
    lake: &'a LakeUrl,
    spec: &'static TableSpec,
    owed: &'a [Owed],
    files: &'a [NewFile],
    columns: &'a [StructField],
    run_id: i64,
}

impl TableCommit<'_> {
    /// Whether one of our files is in the table already.
    fn landed(&self, snapshot: &DeltaTableState) -> bool {
        let new_paths: HashSet<&str> = self.files.iter().map(|f| f.add.path.as_str()).collect();
        snapshot
            .log_data()
            .iter()
            .any(|f| new_paths.contains(f.path().as_ref()))
    }

    /// A remove action, stamped now, for each file of the owed partitions.
    fn removes(&self, snapshot: &DeltaTableState) -> Vec<Remove> {
        let deletion_timestamp = chrono::Utc::now().timestamp_millis();
        snapshot
            .log_data()
            .iter()
            .filter(|f| replaced_by(self.owed, self.spec, &f.partition_values_map()))
            .map(|f| {
                let mut remove = f.remove_action(true);
                remove.deletion_timestamp = Some(deletion_timestamp);
                remove
            })
            .collect()
    }

    /// The commit's actions: the widened schema if the table lacks columns, the adds,
    /// the removes.
    fn actions(
        &self,
        snapshot: &DeltaTableState,
        removes: Vec<Remove>,
    ) -> Result<Vec<Action>, LakeError> {
        let spec = self.spec;
        let mut actions: Vec<Action> = Vec::new();
        // Checked on every attempt: another writer may have widened the schema meanwhile.
        if let Some(schema) =
            widened_schema(self.lake, spec.name, &snapshot.schema(), self.columns)?
        {
            info!(
                table = spec.name,
                "adding the warehouse's new columns to the Delta schema"
            );
            let metadata = snapshot
                .metadata()
                .clone()
                .with_schema(&schema)
                .map_err(|e| LakeError::Table {
                    table: spec.name,
                    url: self.lake.shown(),
                    detail: format!("widening the schema: {}", describe(&e)),
                })?;
            actions.push(Action::Metadata(metadata));
        }
        actions.extend(self.files.iter().map(|f| Action::Add(f.add.clone())));
        actions.extend(removes.into_iter().map(Action::Remove));
        Ok(actions)
    }

    /// One put-if-absent commit of `actions` on top of `snapshot`: the version it took.
    async fn try_commit(
        &self,
        snapshot: &DeltaTableState,
        log_store: LogStoreRef,
        actions: Vec<Action>,
    ) -> Result<i64, DeltaTableError> {
        let operation = DeltaOperation::Write {
            mode: SaveMode::Overwrite,
            partition_by: Some(
                partition_columns(self.spec)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ),
            predicate: Some(predicate(self.owed, self.spec)),
        };
        let properties = CommitProperties::default()
            .with_max_retries(0)
            .with_metadata([
                ("engineInfo".to_string(), serde_json::json!("tgm-sync")),
                ("tgmSyncRunId".to_string(), serde_json::json!(self.run_id)),
            ]);
        let done = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot as &dyn TableReference), log_store, operation)
            .await?;
        Ok(as_i64(done.version()))
    }

    /// After a failed attempt: a refusal or the last attempt ends the commit, else a
    /// pause and the log read again.
    async fn after_lost_attempt(
        &self,
        delta: &mut DeltaTable,
        attempt: u32,
        e: &DeltaTableError,
    ) -> Result<(), LakeError> {
        let spec = self.spec;
        let detail = describe(e);
        if is_refusal(e) {
            return Err(LakeError::Refused {
                url: self.lake.shown(),
                detail,
            });
        }
        if attempt >= MAX_COMMIT_ATTEMPTS {
            warn!(table = spec.name, error = %detail, "giving up on the Delta commit");
            return Err(LakeError::Contended {
                table: spec.name,
                attempts: attempt,
            });
        }
        info!(
            table = spec.name,
            attempt,
            reason = %detail,
            "Delta commit lost to another writer or failed; reading the log again"
        );
        // A little jitter so that two writers in lockstep fall apart.
        let pause = 50 * u64::from(attempt.min(10)) + fastrand::u64(0..100);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        delta
            .update_state()
            .await
            .map_err(|e| store_error(self.lake, spec.name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot_id::BotId;
    use crate::streams::orders::ORDERS;
    use crate::streams::plans::PLANS;

    fn values(bot: &str, month: Option<&str>) -> HashMap<String, Option<String>> {
        let mut v = HashMap::new();
        v.insert("bot_id".to_string(), Some(bot.to_string()));
        if let Some(m) = month {
            v.insert("order_month".to_string(), Some(m.to_string()));
        }
        v
    }

    #[test]
    fn only_the_owed_partitions_of_the_owed_bots_are_replaced() {
        let owed = [Owed {
            bot_id: BotId::constant(7),
            whole: false,
            partitions: vec!["2025-03".into()],
            marks: vec!["2025-03".into()],
        }];
        assert!(replaced_by(&owed, &ORDERS, &values("7", Some("2025-03"))));
        assert!(!replaced_by(&owed, &ORDERS, &values("7", Some("2025-04"))));
        assert!(!replaced_by(&owed, &ORDERS, &values("8", Some("2025-03"))));
        let whole = [Owed {
            bot_id: BotId::constant(7),
            whole: true,
            partitions: vec![],
            marks: vec![],
        }];
        assert!(replaced_by(&whole, &ORDERS, &values("7", Some("2019-01"))));
        let plans = [Owed {
            bot_id: BotId::constant(7),
            whole: false,
            partitions: vec![String::new()],
            marks: vec![String::new()],
        }];
        assert!(replaced_by(&plans, &PLANS, &values("7", None)));
        assert!(!replaced_by(&plans, &PLANS, &values("70", None)));
        assert_eq!(
            predicate(&owed, &ORDERS),
            "(bot_id = 7 AND order_month IN ('2025-03'))"
        );
    }

    fn lake() -> LakeUrl {
        LakeUrl::parse("file:///tmp/lake").expect("a lake URL")
    }

    fn field(name: &str, data_type: deltalake::kernel::DataType) -> StructField {
        StructField::new(name, data_type, true)
    }

    #[test]
    fn new_columns_are_appended_and_old_ones_kept() {
        use deltalake::kernel::DataType;
        let current = StructType::try_new([
            field("bot_id", DataType::LONG),
            field("gone", DataType::STRING),
            field("amount", DataType::STRING),
        ])
        .expect("schema");
        let same = [
            field("bot_id", DataType::LONG),
            field("amount", DataType::STRING),
        ];
        assert!(
            widened_schema(&lake(), "orders", &current, &same)
                .expect("fits")
                .is_none()
        );

        let wanted = [
            field("bot_id", DataType::LONG),
            field("new_one", DataType::LONG),
            field("amount", DataType::STRING),
        ];
        let widened = widened_schema(&lake(), "orders", &current, &wanted)
            .expect("fits")
            .expect("changes");
        let names: Vec<&str> = widened.fields().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["bot_id", "gone", "amount", "new_one"]);
    }

    #[test]
    fn a_changed_column_type_is_named() {
        use deltalake::kernel::DataType;
        let current = StructType::try_new([field("amount", DataType::STRING)]).expect("schema");
        let err = widened_schema(
            &lake(),
            "orders",
            &current,
            &[field("amount", DataType::LONG)],
        )
        .expect_err("a type change");
        let text = err.to_string();
        assert!(
            text.contains("orders") && text.contains("`amount`"),
            "{text}"
        );
        assert!(text.contains("string") && text.contains("long"), "{text}");
    }
}
