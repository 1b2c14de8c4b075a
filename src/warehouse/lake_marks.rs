//! The warehouse's bookkeeping for the lake output: the partitions each bot's table owes
//! the lake (`_lake_dirty`, marked beside the mirror's marks by the stream's own
//! transaction; `_lake_owed`, what a lake missed while another was configured), and
//! what each lake last took (`_lake_published`). The lake module
//! decides what to publish; this module reads and settles, in one transaction.

use duckdb::{Connection, OptionalExt, params};

use super::error::{DbContext, LoadError};
use super::merge::partition_expr;
use super::query_strings;
use crate::bot_id::BotId;
use crate::sql_files::sql_file;
use crate::streams::table::TableSpec;

/// The columns with which the lake at `lake_url` last took this bot's table; `None` when
/// it never did.
pub(crate) fn published_columns(
    conn: &Connection,
    lake_url: &str,
    spec: &TableSpec,
    bot_id: BotId,
) -> Result<Option<String>, LoadError> {
    conn.query_row(
        sql_file!("warehouse/lake_published_columns.sql").text,
        params![lake_url, bot_id, spec.name],
        |r| r.get(0),
    )
    .optional()
    .during(|| format!("reading what the lake took of {}", spec.name))
}

/// The partitions of this bot's table owed to the lake at `lake_url`, sorted: the
/// streams' marks, and what it missed while another lake was configured.
pub(crate) fn owed_marks(
    conn: &Connection,
    lake_url: &str,
    spec: &TableSpec,
    bot_id: BotId,
) -> Result<Vec<String>, LoadError> {
    query_strings(
        conn,
        sql_file!("warehouse/lake_owed_list.sql").text,
        params![bot_id, spec.name, lake_url, bot_id, spec.name],
        || format!("reading what {} owes the lake", spec.name),
    )
}

/// Every partition holding rows of this bot's table, sorted (`''` for tables partitioned
/// by bot only).
pub(crate) fn all_partitions(
    conn: &Connection,
    spec: &TableSpec,
    bot_id: BotId,
) -> Result<Vec<String>, LoadError> {
    query_strings(
        conn,
        &format!(
            "SELECT DISTINCT {part} AS p FROM {table} t WHERE t.bot_id = ? ORDER BY p",
            part = partition_expr(spec, "t"),
            table = spec.name
        ),
        params![bot_id],
        || format!("listing the partitions of {}", spec.name),
    )
}

/// What a Delta commit carried for one bot's table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LakeCommitRecord<'a> {
    pub lake_url: &'a str,
    pub bot_id: BotId,
    /// The marks read before the files were written: marks made since stay owed.
    pub marks: &'a [String],
    pub version: i64,
    pub columns: &'a str,
    pub now_micros: i64,
}

/// After the commits: clears the marks each carried and remembers the lake's version and
/// columns of each bot's table, all in one transaction (one write to the warehouse's log
/// for a whole run's publication).
pub(crate) fn settle(
    conn: &Connection,
    records: &[(&TableSpec, LakeCommitRecord<'_>)],
) -> Result<(), LoadError> {
    let what = || "recording the lake commits".to_string();
    let tx = conn.unchecked_transaction().during(what)?;
    for (spec, record) in records {
        settle_one(&tx, spec, record)?;
    }
    tx.commit().during(what)?;
    Ok(())
}

fn settle_one(
    tx: &duckdb::Transaction<'_>,
    spec: &TableSpec,
    record: &LakeCommitRecord<'_>,
) -> Result<(), LoadError> {
    let what = || format!("recording the lake commit of {}", spec.name);
    let (lake, bot) = (record.lake_url, record.bot_id);
    // Set-based: three statements whatever the number of marks (a partition is `''` or
    // `YYYY-MM`, never a newline).
    if !record.marks.is_empty() {
        let partitions = record.marks.join("\n");
        // The other lakes that hold this table keep it owed (A → B → A loses nothing).
        tx.execute(
            sql_file!("warehouse/lake_owed_keep.sql").text,
            params![bot, spec.name, lake, partitions],
        )
        .during(what)?;
        tx.execute(
            sql_file!("warehouse/lake_marks_clear.sql").text,
            params![bot, spec.name, partitions],
        )
        .during(what)?;
        tx.execute(
            sql_file!("warehouse/lake_owed_clear.sql").text,
            params![lake, bot, spec.name, partitions],
        )
        .during(what)?;
    }
    tx.execute(
        sql_file!("warehouse/lake_published_record.sql").text,
        params![
            record.lake_url,
            record.bot_id,
            spec.name,
            record.version,
            record.now_micros,
            record.columns
        ],
    )
    .during(what)?;
    Ok(())
}
