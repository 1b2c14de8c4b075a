//! The Parquet mirror: `<root>/<table>/bot_id=<id>/[order_month=YYYY-MM/]part-0.parquet`.
//!
//! Only partitions marked in `_parquet_dirty` are rewritten. Each file is written to a
//! temporary name in its directory, synced, and renamed over the old one, so a reader
//! (a BI tool, `read_parquet(..., hive_partitioning = true)`) never sees half a file; the
//! mark is cleared only after the rename. Partition columns are in the path, not the file.
//! The history tables the reports read (exchange rates, `/users/count` snapshots) are
//! mirrored whole per bot, see [`HISTORY_TABLES`].

use std::fs::File;
use std::path::{Path, PathBuf};

use duckdb::{ArrowStream, Connection, params};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::bot_id::BotId;
use crate::sql_files::sql_file;
use crate::streams::table::TableSpec;
use crate::warehouse::error::{DbContext, LoadError};
use crate::warehouse::merge::partition_expr;

/// The file name inside a partition directory.
pub const PART_FILE: &str = "part-0.parquet";
/// Rows per Parquet row group (see `write_partition`).
const ROW_GROUP_ROWS: usize = 65_536;
/// Marks a file still being written; left-overs of a killed run are removed.
const TMP_MARK: &str = ".tmp-";

/// Where a partition's file is written before it is renamed into place:
/// `.part-0.parquet.tmp-<pid>`. The leading dot hides it from pyarrow, Spark, Trino,
/// Athena and DuckDB's globs (they skip names starting with `.` or `_`) while a sync
/// runs, or after a crash until the next run sweeps it.
fn temporary_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}{TMP_MARK}{}", std::process::id()))
}

/// The directory of one partition.
pub(crate) fn partition_dir(
    root: &Path,
    spec: &TableSpec,
    bot_id: BotId,
    partition: &str,
) -> PathBuf {
    let dir = root.join(spec.name).join(format!("bot_id={bot_id}"));
    if spec.month_partition.is_some() && !partition.is_empty() {
        dir.join(format!("order_month={partition}"))
    } else {
        dir
    }
}

/// How many partitions of one bot's table wait to be rewritten.
pub(crate) fn owed_partitions(
    conn: &Connection,
    spec: &TableSpec,
    bot_id: BotId,
) -> Result<usize, LoadError> {
    conn.query_row(
        sql_file!("mirror/owed_count.sql").text,
        params![bot_id, spec.name],
        |r| r.get::<_, i64>(0),
    )
    .during(|| format!("counting owed partitions of {}", spec.name))
    .map(|n| n.max(0) as usize)
}

/// Rewrites the owed partitions of one bot's table; returns how many files it wrote.
pub(crate) fn rewrite_owed(
    conn: &Connection,
    root: &Path,
    spec: &TableSpec,
    bot_id: BotId,
) -> Result<usize, LoadError> {
    let partitions = crate::warehouse::query_strings(
        conn,
        sql_file!("mirror/owed_list.sql").text,
        params![bot_id, spec.name],
        || format!("listing owed partitions of {}", spec.name),
    )?;
    let mut written = 0;
    for partition in partitions {
        let dir = partition_dir(root, spec, bot_id, &partition);
        if write_partition(conn, spec, bot_id, &partition, &dir)? {
            written += 1;
        }
        conn.execute(
            sql_file!("mirror/owed_clear.sql").text,
            params![bot_id, spec.name, partition],
        )
        .during(|| format!("clearing the mark of {} {partition}", spec.name))?;
    }
    Ok(written)
}

/// The SELECT that exports one partition: every column but the partition ones, with
/// types Parquet cannot hold turned into text. Parameters: `bot_id`, then for orders
/// [`month_bounds`]' two months and the partition. The lake output writes the same rows.
pub(crate) fn export_query(spec: &TableSpec) -> String {
    // Parquet has no INTERVAL: such derived columns are exported as their text.
    let intervals: Vec<String> = spec
        .derived
        .iter()
        .filter(|d| d.sql_type == "INTERVAL")
        .map(|d| format!("CAST({name} AS VARCHAR) AS {name}", name = d.name))
        .collect();
    let replace = if intervals.is_empty() {
        String::new()
    } else {
        format!(" REPLACE ({})", intervals.join(", "))
    };
    let order_by = spec.keys.join(", ");
    // The range on the bare column lets DuckDB skip row groups by their min/max (rows
    // arrive newest first, so a month sits in few row groups): 3.7× faster than the
    // partition expression alone at 1M orders over 37 months. The expression stays as
    // the exact definition of the partition.
    let partition_filter = match spec.month_partition {
        Some(column) => format!(
            " AND t.{column} >= make_timestamp(?, ?, 1, 0, 0, 0)::TIMESTAMPTZ \
             AND t.{column} < make_timestamp(?, ?, 1, 0, 0, 0)::TIMESTAMPTZ AND {} = ?",
            partition_expr(spec, "t")
        ),
        None => String::new(),
    };
    format!(
        "SELECT * EXCLUDE (bot_id){replace} FROM {table} t WHERE t.bot_id = ?{partition_filter} ORDER BY {order_by}",
        table = spec.name
    )
}

/// `"2025-12"` → `((2025, 12), (2026, 1))`: the month and the one after it.
pub(crate) fn month_bounds(partition: &str) -> Option<((i64, i64), (i64, i64))> {
    let (year, month) = partition.split_once('-')?;
    let (year, month): (i64, i64) = (year.parse().ok()?, month.parse().ok()?);
    if !(1..=12).contains(&month) {
        return None;
    }
    let next = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    Some(((year, month), next))
}

fn io_err(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LoadError {
    let path = path.to_path_buf();
    move |source| LoadError::Io {
        context,
        path,
        source,
    }
}

/// Writes one partition; false if it has no rows (its file, if any, is removed).
fn write_partition(
    conn: &Connection,
    spec: &TableSpec,
    bot_id: BotId,
    partition: &str,
    dir: &Path,
) -> Result<bool, LoadError> {
    let sql = export_query(spec);
    let mut stmt = conn
        .prepare(&sql)
        .during(|| format!("exporting {}", spec.name))?;
    let batches = if spec.month_partition.is_some() {
        let ((year, month), (next_year, next_month)) =
            month_bounds(partition).ok_or_else(|| LoadError::Parquet {
                path: dir.to_path_buf(),
                detail: format!("partition {partition:?} of {} is not YYYY-MM", spec.name),
            })?;
        stmt.stream_arrow(params![
            bot_id, year, month, next_year, next_month, partition
        ])
    } else {
        stmt.stream_arrow(params![bot_id])
    }
    .during(|| format!("exporting {}", spec.name))?;
    write_rows(batches, dir, spec.name)
}

/// Writes the rows of `batches` as the partition file in `dir`, under a temporary name
/// renamed into place; false if there are none (the file, if any, is removed).
fn write_rows(batches: ArrowStream<'_>, dir: &Path, table: &str) -> Result<bool, LoadError> {
    let schema = batches.get_schema();
    let final_path = dir.join(PART_FILE);
    std::fs::create_dir_all(dir).map_err(io_err("creating directory", dir))?;
    let tmp_path = temporary_path(dir, PART_FILE);
    let file = File::create(&tmp_path).map_err(io_err("creating", &tmp_path))?;
    // Row groups of 64k rows: the writer buffers a whole row group before it encodes it,
    // so the default (1M rows) would hold a large partition in memory.
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let parquet_err = |e: parquet::errors::ParquetError| LoadError::Parquet {
        path: tmp_path.clone(),
        detail: e.to_string(),
    };
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet_err)?;
    let mut rows = 0usize;
    // Streamed: a materialised result held a whole partition in memory (45 MB of the
    // 1M-order benchmark's peak, heaptrack).
    for batch in batches {
        let batch = batch.during(|| format!("exporting {table}"))?;
        rows += batch.num_rows();
        writer.write(&batch).map_err(parquet_err)?;
    }
    let file = writer.into_inner().map_err(parquet_err)?;
    if rows == 0 {
        drop(file);
        std::fs::remove_file(&tmp_path).map_err(io_err("removing", &tmp_path))?;
        match std::fs::remove_file(&final_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &final_path)(e)),
        }
        return Ok(false);
    }
    file.sync_all().map_err(io_err("syncing", &tmp_path))?;
    drop(file);
    std::fs::rename(&tmp_path, &final_path).map_err(io_err("renaming into place", &final_path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(true)
}

/// Tables mirrored whole, one file per bot (`<root>/<table>/bot_id=<id>/part-0.parquet`)
/// with every column but `bot_id`, whatever columns they have: what BI tools need beside
/// the synced tables to convert currencies and follow the user counts. Both gain rows on
/// every run (a `/users/count` snapshot, the rates read off `/revenue`), so each synced
/// bot's file is rewritten at the end of every run; the files are small.
pub const HISTORY_TABLES: [&str; 2] = ["fx_rates", "users_count_history"];

/// Rewrites one bot's file of a history table ([`HISTORY_TABLES`]); false when the bot
/// has no rows there (no file then).
pub(crate) fn rewrite_history(
    conn: &Connection,
    root: &Path,
    table: &str,
    bot_id: BotId,
) -> Result<bool, LoadError> {
    let dir = root.join(table).join(format!("bot_id={bot_id}"));
    let sql = format!("SELECT * EXCLUDE (bot_id) FROM {table} WHERE bot_id = ? ORDER BY ALL");
    let mut stmt = conn.prepare(&sql).during(|| format!("exporting {table}"))?;
    let batches = stmt
        .stream_arrow(params![bot_id])
        .during(|| format!("exporting {table}"))?;
    write_rows(batches, &dir, table)
}

/// Makes sure the mirror's root exists and takes files, before anything is synced: a
/// mistyped or read-only `parquet_dir` is a configuration error, not a failure found
/// after the first stream has committed.
pub(crate) fn check_writable(root: &Path) -> Result<(), LoadError> {
    let fail = |detail: String| LoadError::ParquetNotWritable {
        path: root.to_path_buf(),
        detail,
    };
    std::fs::create_dir_all(root).map_err(|e| fail(format!("cannot create the directory: {e}")))?;
    // Named like a temporary Parquet file, so that a run killed right here leaves
    // nothing that `remove_leftovers` does not clean up.
    let probe = temporary_path(root, "probe");
    File::create(&probe).map_err(|e| fail(format!("cannot create a file in it: {e}")))?;
    std::fs::remove_file(&probe).map_err(|e| fail(format!("cannot remove a file from it: {e}")))
}

/// Removes temporary files a killed run left behind; returns how many. Symbolic links
/// are never followed (a link to a directory elsewhere is not walked) nor removed: only
/// regular files this mirror's runs name as temporary go.
pub(crate) fn remove_leftovers(root: &Path) -> Result<usize, LoadError> {
    fn walk(dir: &Path, removed: &mut usize) -> Result<(), LoadError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("reading directory", dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("reading directory", dir))?;
            let path = entry.path();
            // The entry's own type: `file_type` does not follow a symbolic link.
            let kind = entry
                .file_type()
                .map_err(io_err("reading directory", dir))?;
            if kind.is_dir() {
                walk(&path, removed)?;
            } else if kind.is_file() && entry.file_name().to_string_lossy().contains(TMP_MARK) {
                std::fs::remove_file(&path).map_err(io_err("removing", &path))?;
                *removed += 1;
            }
        }
        Ok(())
    }
    let mut removed = 0;
    walk(root, &mut removed)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_being_written_is_hidden_from_readers_by_a_leading_dot() {
        let tmp = temporary_path(Path::new("/m/orders/bot_id=1"), PART_FILE);
        let name = tmp.file_name().expect("name").to_string_lossy().to_string();
        assert!(name.starts_with(".part-0.parquet.tmp-"), "{name}");
        assert_eq!(tmp.parent(), Some(Path::new("/m/orders/bot_id=1")));
    }

    #[test]
    fn the_sweep_removes_temporary_files_and_never_follows_a_symbolic_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("mirror");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("orders/bot_id=1")).expect("dirs");
        std::fs::create_dir_all(&outside).expect("outside");
        let leftovers = [
            root.join("orders/bot_id=1/.part-0.parquet.tmp-41"),
            // As older versions named it.
            root.join("orders/bot_id=1/part-0.parquet.tmp-42"),
        ];
        for f in &leftovers {
            std::fs::write(f, b"half").expect("leftover");
        }
        let kept = root.join("orders/bot_id=1/part-0.parquet");
        std::fs::write(&kept, b"PAR1").expect("part");
        // A link to a directory elsewhere, holding a file named like a leftover, and a
        // link named like one: neither the target nor the links are touched.
        let foreign = outside.join("x.parquet.tmp-7");
        std::fs::write(&foreign, b"not ours").expect("foreign");
        std::os::unix::fs::symlink(&outside, root.join("orders/linked")).expect("link");
        std::os::unix::fs::symlink(&foreign, root.join("orders/y.tmp-8")).expect("link");

        assert_eq!(remove_leftovers(&root).expect("swept"), 2);
        assert!(leftovers.iter().all(|f| !f.exists()), "leftovers stay");
        assert!(kept.exists());
        assert!(foreign.exists(), "the sweep followed a symbolic link");
        assert!(root.join("orders/linked").exists());
        assert!(std::fs::symlink_metadata(root.join("orders/y.tmp-8")).is_ok());
    }

    #[test]
    fn month_bounds_roll_over_the_year() {
        assert_eq!(month_bounds("2025-03"), Some(((2025, 3), (2025, 4))));
        assert_eq!(month_bounds("2025-12"), Some(((2025, 12), (2026, 1))));
        assert_eq!(month_bounds("2025-13"), None);
        assert_eq!(month_bounds(""), None);
        assert_eq!(month_bounds("2025"), None);
    }
}
