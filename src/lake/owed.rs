//! What the warehouse owes the lake: per bot and table, either some partitions (the
//! `_lake_dirty` marks) or everything (no `_lake_published` row for this lake yet), and
//! the bookkeeping once a Delta commit carried them.

use duckdb::{Connection, OptionalExt, params};

use super::error::LakeError;
use crate::load::error::DbContext;
use crate::load::merge::partition_expr;
use crate::load::table::TableSpec;

/// The partitions of one bot's table to publish in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub bot_id: i64,
    /// The bot's whole table: every file of the bot in the lake is replaced.
    pub whole: bool,
    /// Partitions to write (`''` for tables partitioned by bot only), sorted: with
    /// `whole`, all partitions holding rows; otherwise the marked ones.
    pub partitions: Vec<String>,
    /// The marks this publication clears (read before any file is written).
    pub marks: Vec<String>,
}

impl Owed {
    pub fn is_empty(&self) -> bool {
        !self.whole && self.partitions.is_empty()
    }
}

fn strings(
    conn: &Connection,
    sql: &str,
    params: &[&dyn duckdb::ToSql],
    what: impl Fn() -> String,
) -> Result<Vec<String>, LakeError> {
    let mut stmt = conn.prepare(sql).during(&what)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .during(&what)?;
    Ok(rows.collect::<Result<_, _>>().during(&what)?)
}

/// What one bot's table owes the lake at `lake_url`, whose files this run writes with
/// `columns` (see [`super::table::columns_signature`]).
pub fn owed(
    conn: &Connection,
    lake_url: &str,
    spec: &TableSpec,
    bot_id: i64,
    columns: &str,
) -> Result<Owed, LakeError> {
    let what = || format!("reading what {} owes the lake", spec.name);
    let published: Option<String> = conn
        .query_row(
            include_str!("../../sql/lake/published_columns.sql"),
            params![lake_url, bot_id, spec.name],
            |r| r.get(0),
        )
        .optional()
        .during(what)?;
    let marks = strings(
        conn,
        include_str!("../../sql/lake/dirty_list.sql"),
        params![bot_id, spec.name],
        what,
    )?;
    // Same columns as last time: only the marked partitions. New columns (a migration):
    // every partition again, so that no file in the lake lacks them.
    if published.as_deref() == Some(columns) {
        return Ok(Owed {
            bot_id,
            whole: false,
            partitions: marks.clone(),
            marks,
        });
    }
    let partitions = strings(
        conn,
        &format!(
            "SELECT DISTINCT {part} AS p FROM {table} t WHERE t.bot_id = ? ORDER BY p",
            part = partition_expr(spec, "t"),
            table = spec.name
        ),
        params![bot_id],
        what,
    )?;
    Ok(Owed {
        bot_id,
        whole: true,
        partitions,
        marks,
    })
}

/// After the commit at `version`: the marks are cleared and the lake remembered.
pub fn settle(
    conn: &Connection,
    lake_url: &str,
    spec: &TableSpec,
    owed: &Owed,
    version: i64,
    columns: &str,
    now_micros: i64,
) -> Result<(), LakeError> {
    let what = || format!("recording the lake commit of {}", spec.name);
    let tx = conn.unchecked_transaction().during(what)?;
    for partition in &owed.marks {
        tx.execute(
            include_str!("../../sql/lake/dirty_clear.sql"),
            params![owed.bot_id, spec.name, partition],
        )
        .during(what)?;
    }
    tx.execute(
        include_str!("../../sql/lake/published_record.sql"),
        params![
            lake_url,
            owed.bot_id,
            spec.name,
            version,
            now_micros,
            columns
        ],
    )
    .during(what)?;
    tx.commit().during(what)?;
    Ok(())
}
