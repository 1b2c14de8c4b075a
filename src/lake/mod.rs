//! The lake output: each synced table as a Delta Lake table under `lake_url` (S3 or a
//! file system), written after the warehouse and the Parquet mirror.
//!
//! Per table and run: the partitions the warehouse owes the lake (`owed`) are exported
//! by our arrow-60 Parquet writer (`datafile`, `stats`), uploaded under unique names as
//! soon as their bot has synced (`staging`), and committed in one Delta commit per table
//! that also removes the files they replace (`commit`); only then are the marks cleared. delta-rs (without DataFusion) keeps the log: table
//! creation (`table`), commits, checkpoints and `vacuum`.

pub(crate) mod commit;
pub(crate) mod credentials;
pub mod datafile;
pub(crate) mod durable;
pub(crate) mod error;
pub(crate) mod location;
pub(crate) mod owed;
pub(crate) mod staging;
pub(crate) mod stats;
pub mod table;
pub(crate) mod upload;
pub(crate) mod vacuum;

use std::collections::HashMap;

use object_store::ObjectStore;

pub use error::LakeError;
pub use location::LakeUrl;
pub use staging::LakeRun;

use crate::bot_id::BotId;
use crate::streams::table::TableSpec;
use commit::Committed;

/// Test hook: when set, the run stops after uploading a table's files and before its
/// commit. `abort` aborts the process there; any other value is a file path that is
/// written (with the table's name) before the process sleeps, so a test can SIGKILL it.
pub const HALT_BEFORE_COMMIT_VAR: &str = "TGM_LAKE_HALT_BEFORE_COMMIT";

/// Where and how the lake output is written (`lake_url`, `lake_retention_days`); built
/// by `config` from the checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeSettings {
    pub url: LakeUrl,
    /// How old an unreferenced file must be before `lake vacuum` deletes it.
    pub retention: std::time::Duration,
}

/// Data-file uploads a table's publication keeps in flight.
const UPLOADS_IN_FLIGHT: usize = 4;

/// What one table's publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePublished {
    pub table: &'static str,
    pub committed: Committed,
    pub partitions: usize,
    pub rows: u64,
}

/// What the lake output did in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeOutcome {
    pub tables: Vec<TablePublished>,
}

/// Checks that the lake answers and accepts the credentials, before anything is synced:
/// one listing of the lake's root on S3 (nothing is written), the directory on a file
/// system.
pub(crate) async fn preflight(lake: &LakeSettings) -> Result<(), LakeError> {
    credentials::register_credentials();
    if let Some(root) = lake.url.local_root() {
        return std::fs::create_dir_all(&root).map_err(|e| LakeError::Table {
            table: "(all)",
            url: lake.url.shown(),
            detail: format!("cannot create {}: {e}", root.display()),
        });
    }
    let fail = |e: deltalake::DeltaTableError| table::store_error(&lake.url, "(all)", e);
    let delta = deltalake::DeltaTableBuilder::from_url(lake.url.root().clone())
        .and_then(|b| b.with_storage_options(location::storage_options()).build())
        .map_err(fail)?;
    let store = delta.log_store().object_store(None);
    store
        .list_with_delimiter(None)
        .await
        .map(|_| ())
        .map_err(|e| fail(deltalake::DeltaTableError::from(e)))
}

/// The partition values of a file, as the Delta log records them (strings).
fn partition_values(
    spec: &TableSpec,
    bot_id: BotId,
    partition: &str,
) -> HashMap<String, Option<String>> {
    let mut values = HashMap::new();
    values.insert("bot_id".to_string(), Some(bot_id.to_string()));
    if spec.month_partition.is_some() {
        values.insert("order_month".to_string(), Some(partition.to_string()));
    }
    values
}

/// `bot_id=7/order_month=2025-03/part-r12-<uuid>.zstd.parquet`: Hive-style directories
/// for people browsing the bucket, and a name no other run or process can pick.
fn file_path(values: &HashMap<String, Option<String>>, run_id: i64) -> String {
    let mut dirs = String::new();
    for column in ["bot_id", "order_month"] {
        if let Some(Some(value)) = values.get(column) {
            dirs.push_str(&format!("{column}={value}/"));
        }
    }
    format!(
        "{dirs}part-r{run_id}-{}.zstd.parquet",
        uuid::Uuid::new_v4().simple()
    )
}

/// The test hook of [`HALT_BEFORE_COMMIT_VAR`].
fn halt_before_commit(table: &str) {
    let Ok(value) = std::env::var(HALT_BEFORE_COMMIT_VAR) else {
        return;
    };
    if value == "abort" {
        std::process::abort();
    }
    let _ = std::fs::write(&value, table);
    // Bounded: a test that forgets to kill the process still ends.
    std::thread::sleep(std::time::Duration::from_secs(120));
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::orders::ORDERS;
    use crate::streams::plans::PLANS;

    #[test]
    fn file_paths_are_hive_style_and_unique() {
        let values = partition_values(&ORDERS, BotId::constant(7), "2025-03");
        let a = file_path(&values, 12);
        let b = file_path(&values, 12);
        assert!(
            a.starts_with("bot_id=7/order_month=2025-03/part-r12-"),
            "{a}"
        );
        assert!(a.ends_with(".zstd.parquet"), "{a}");
        assert_ne!(a, b);
        let plans = file_path(&partition_values(&PLANS, BotId::constant(7), ""), 3);
        assert!(plans.starts_with("bot_id=7/part-r3-"), "{plans}");
    }
}
