//! What the warehouse owes the lake: per bot and table, either some partitions (the
//! `_lake_dirty` marks) or everything (no `_lake_published` row for this lake yet, or one
//! written with other columns). The bookkeeping itself is the warehouse's
//! ([`crate::warehouse::lake_marks`]).

use duckdb::Connection;

use super::error::LakeError;
use crate::bot_id::BotId;
use crate::streams::table::TableSpec;
use crate::warehouse::lake_marks::{self, LakeCommitRecord};

/// The partitions of one bot's table to publish in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owed {
    pub bot_id: BotId,
    /// The bot's whole table: every file of the bot in the lake is replaced.
    pub whole: bool,
    /// Partitions to write (`''` for tables partitioned by bot only), sorted: with
    /// `whole`, all partitions holding rows; otherwise the marked ones.
    pub partitions: Vec<String>,
    /// The marks this publication clears (read before any file is written).
    pub marks: Vec<String>,
}

impl Owed {
    pub(crate) fn is_empty(&self) -> bool {
        !self.whole && self.partitions.is_empty()
    }
}

/// What one bot's table owes the lake at `lake_url`, whose files this run writes with
/// `columns` (see [`super::table::columns_signature`]).
pub(crate) fn owed(
    conn: &Connection,
    lake_url: &str,
    spec: &TableSpec,
    bot_id: BotId,
    columns: &str,
) -> Result<Owed, LakeError> {
    let published = lake_marks::published_columns(conn, lake_url, spec, bot_id)?;
    let marks = lake_marks::owed_marks(conn, lake_url, spec, bot_id)?;
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
    Ok(Owed {
        bot_id,
        whole: true,
        partitions: lake_marks::all_partitions(conn, spec, bot_id)?,
        marks,
    })
}

/// One table's commit at `version`, carrying `owed` of each bot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableCommit<'a> {
    pub spec: &'static TableSpec,
    pub owed: &'a [Owed],
    pub version: i64,
    /// The columns the files were written with ([`super::table::columns_signature`]).
    pub columns: &'a str,
}

/// After the commits: each one's marks are cleared and the lake remembered, in one
/// warehouse transaction.
pub(crate) fn settle(
    conn: &Connection,
    lake_url: &str,
    commits: &[TableCommit<'_>],
    now_micros: i64,
) -> Result<(), LakeError> {
    let records: Vec<(&TableSpec, LakeCommitRecord<'_>)> = commits
        .iter()
        .flat_map(|c| {
            c.owed.iter().map(move |o| {
                let record = LakeCommitRecord {
                    lake_url,
                    bot_id: o.bot_id,
                    marks: &o.marks,
                    version: c.version,
                    columns: c.columns,
                    now_micros,
                };
                (c.spec, record)
            })
        })
        .collect();
    Ok(lake_marks::settle(conn, &records)?)
}
