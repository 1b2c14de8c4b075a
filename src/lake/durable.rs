//! A `file://` lake on disk for good: the data files are synced (with their directories)
//! before the commit that references them, and the commit before the warehouse clears
//! its marks, so a power cut never leaves a commit pointing at lost files, nor marks
//! cleared for a commit that did not survive. object_store's local store and delta-rs
//! write without syncing; a store such as S3 is durable when it answers.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::commit::NewFile;
use super::error::LakeError;

/// Syncs each new data file of a table, then every directory that holds one.
pub(crate) fn sync_data_files(
    table: &'static str,
    table_dir: &Path,
    files: &[NewFile],
) -> Result<usize, LakeError> {
    let mut dirs = BTreeSet::new();
    for file in files {
        let path = table_dir.join(&file.add.path);
        sync(table, &path)?;
        dirs.extend(path.parent().map(Path::to_path_buf));
    }
    let synced = files.len();
    sync_dirs(table, table_dir, dirs)?;
    Ok(synced)
}

/// Syncs the commit file of `version` and the `_delta_log` directory that names it.
pub(crate) fn sync_commit(
    table: &'static str,
    table_dir: &Path,
    version: i64,
) -> Result<(), LakeError> {
    let log = table_dir.join("_delta_log");
    sync(table, &log.join(format!("{version:020}.json")))?;
    sync(table, &log)
}

/// The directories from each of `dirs` up to `table_dir`, synced once each.
fn sync_dirs(
    table: &'static str,
    table_dir: &Path,
    dirs: BTreeSet<PathBuf>,
) -> Result<(), LakeError> {
    let mut all = BTreeSet::new();
    for dir in dirs {
        let mut at = Some(dir.as_path());
        while let Some(d) = at.filter(|d| d.starts_with(table_dir)) {
            all.insert(d.to_path_buf());
            at = d.parent();
        }
    }
    all.iter().try_for_each(|d| sync(table, d))
}

/// `fsync` of one file or directory.
fn sync(table: &'static str, path: &Path) -> Result<(), LakeError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| LakeError::Table {
            table,
            url: format!("file://{}", path.display()),
            detail: format!("cannot sync {} to disk: {e}", path.display()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::kernel::Add;

    #[test]
    fn data_files_and_their_directories_up_to_the_table_are_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table_dir = dir.path().join("orders");
        let rel = "bot_id=7/order_month=2025-03/part-r1-x.zstd.parquet";
        std::fs::create_dir_all(table_dir.join("bot_id=7/order_month=2025-03")).expect("dirs");
        std::fs::write(table_dir.join(rel), b"PAR1").expect("file");
        let files = vec![NewFile {
            add: Add {
                path: rel.to_string(),
                ..Default::default()
            },
        }];
        assert_eq!(
            sync_data_files("orders", &table_dir, &files).expect("synced"),
            1
        );
        // A file the commit would name but that is not there: an error naming it.
        let missing = vec![NewFile {
            add: Add {
                path: "bot_id=7/gone.parquet".to_string(),
                ..Default::default()
            },
        }];
        let err = sync_data_files("orders", &table_dir, &missing).expect_err("missing");
        assert!(err.to_string().contains("gone.parquet"), "{err}");
    }
}
