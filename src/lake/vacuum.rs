//! `tgm-sync lake vacuum`: deletes the files no Delta version still needs once they are
//! older than the retention (`lake_retention_days`), table by table.
//!
//! delta-rs' full mode: files removed from the table (tombstones) and files never
//! committed (left by a run killed between upload and commit) alike. Ages are the
//! storage's own times against the wall clock, never `TGM_NOW`: files are stamped by the
//! store, so a pinned clock would make them look new or old by accident.

use std::time::Duration;

use deltalake::operations::vacuum::VacuumMode;

use super::LakeSettings;
use super::credentials::register_credentials;
use super::error::LakeError;
use super::table::{open, store_error};
use crate::streams::mirrored_tables;

/// The shortest retention `lake vacuum` uses unless told otherwise: Delta's own default
/// (`delta.deletedFileRetentionDuration`, 7 days), which readers of older versions and
/// writers between upload and commit count on.
pub(crate) const RETENTION_FLOOR: Duration = Duration::from_secs(7 * 86_400);

/// A retention below [`RETENTION_FLOOR`], refused without `--allow-short-retention`.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "lake_retention_days is {days}, below Delta's floor of 7 days: files that readers of \
     recent versions (or a writer between upload and commit) still need would be deleted; \
     nothing was deleted (--allow-short-retention vacuums anyway)"
)]
pub(crate) struct ShortRetention {
    pub days: f64,
}

/// Refuses a retention below the floor unless `allow_short` says otherwise.
pub(crate) fn check_retention(
    retention: Duration,
    allow_short: bool,
) -> Result<(), ShortRetention> {
    if retention < RETENTION_FLOOR && !allow_short {
        return Err(ShortRetention {
            days: retention.as_secs_f64() / 86_400.0,
        });
    }
    Ok(())
}

/// One table's vacuum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vacuumed {
    pub table: &'static str,
    /// Deleted (or, in a dry run, to be deleted), relative to the table's root.
    pub files: Vec<String>,
}

/// Vacuums every synced table that exists in the lake.
pub(crate) async fn vacuum(lake: &LakeSettings, dry_run: bool) -> Result<Vec<Vacuumed>, LakeError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retention_below_seven_days_needs_the_flag() {
        let day = Duration::from_secs(86_400);
        assert_eq!(
            check_retention(day / 2, false),
            Err(ShortRetention { days: 0.5 })
        );
        assert_eq!(check_retention(Duration::ZERO, true), Ok(()));
        assert_eq!(check_retention(7 * day, false), Ok(()));
        assert_eq!(check_retention(30 * day, false), Ok(()));
    }
}
