//! `tgm-sync lake vacuum`: deletes the files no Delta version still needs once they are
//! older than the retention (`lake_retention_days`), table by table.
//!
//! delta-rs' full mode: files removed from the table (tombstones) and files never
//! committed (left by a run killed between upload and commit) alike. Ages are the
//! storage's own times against the wall clock, never `TGM_NOW`: files are stamped by the
//! store, so a pinned clock would make them look new or old by accident.

use deltalake::operations::vacuum::VacuumMode;

use super::error::LakeError;
use super::location::register_credentials;
use super::table::{open, store_error};
use crate::config::LakeSettings;
use crate::streams::mirrored_tables;

/// One table's vacuum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacuumed {
    pub table: &'static str,
    /// Deleted (or, in a dry run, to be deleted), relative to the table's root.
    pub files: Vec<String>,
}

/// Vacuums every synced table that exists in the lake.
pub async fn vacuum(lake: &LakeSettings, dry_run: bool) -> Result<Vec<Vacuumed>, LakeError> {
    register_credentials();
    let retention = chrono::Duration::from_std(lake.retention).map_err(|e| LakeError::Table {
        table: "(all)",
        url: lake.url.shown(),
        detail: format!("retention out of range: {e}"),
    })?;
    let mut done = Vec::new();
    for spec in mirrored_tables() {
        // On a file system, a table never created is skipped before `open`, which would
        // create its directory.
        if let Some(root) = lake.url.local_root()
            && !root.join(spec.name).join("_delta_log").is_dir()
        {
            continue;
        }
        let delta = open(&lake.url, spec.name).await?;
        if delta.version().is_none() {
            continue;
        }
        let (_, metrics) = delta
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(retention)
            // The retention is ours (`lake_retention_days`), not the table's default.
            .with_enforce_retention_duration(false)
            .with_dry_run(dry_run)
            .await
            .map_err(|e| store_error(&lake.url, spec.name, e))?;
        let mut files = metrics.files_deleted;
        files.sort();
        done.push(Vacuumed {
            table: spec.name,
            files,
        });
    }
    Ok(done)
}
