//! Sync bookkeeping in the warehouse: per-stream state, run records and rejected rows.
//!
//! State is written inside the stream's own transaction (see [`super::stream`]), so rows
//! and the state that describes them commit together (docs/data-contract.md §3.5).

use std::fmt;

use duckdb::{Connection, OptionalExt, params};

use super::error::{DbContext, LoadError};
use crate::bot_id::BotId;
use crate::secret::redact;
use crate::sql_files::sql_file;

/// The identity of the run doing the writing.
#[derive(Debug, Clone, Copy)]
pub struct RunStamp {
    pub run_id: i64,
    /// The run's timestamp, microseconds since the epoch.
    pub at_micros: i64,
}

/// What the warehouse remembers about one stream of one bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Orders: newest `order_date` synced, UNIX seconds.
    pub high_water_mark: Option<i64>,
    /// When the last full scan committed, microseconds since the epoch.
    pub last_full_scan_micros: Option<i64>,
}

/// How one stream of one run ended (`_sync_run_streams.status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamStatus {
    /// Every row read and committed.
    #[default]
    Success,
    /// Committed, but some rows could not be read (kept in `_rejected`).
    Partial,
    /// Nothing of this run committed for the stream.
    Failed,
    /// `--dry-run`: read and counted, nothing written.
    DryRun,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Success => "success",
            StreamStatus::Partial => "partial",
            StreamStatus::Failed => "failed",
            StreamStatus::DryRun => "dry-run",
        }
    }

    /// The stream's rows are in the warehouse (all of them, or all that could be read).
    pub fn synced(self) -> bool {
        matches!(self, StreamStatus::Success | StreamStatus::Partial)
    }
}

impl fmt::Display for StreamStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one bot's run ended (`_sync_runs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunStatus {
    /// Started and not yet finished (or killed: see [`close_abandoned_runs`]).
    Running,
    Success,
    /// Some streams failed or rejected rows, or the report inputs were not refreshed.
    Partial,
    /// Every stream failed.
    Failed,
    /// Found `running` by a later run: the process died.
    Interrupted,
}

impl RunStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub fn read_state(
    conn: &Connection,
    bot_id: BotId,
    stream: &str,
) -> Result<StreamState, LoadError> {
    conn.query_row(
        sql_file!("warehouse/read_state.sql").text,
        params![bot_id, stream],
        |r| {
            Ok(StreamState {
                high_water_mark: r.get(0)?,
                last_full_scan_micros: r.get(1)?,
            })
        },
    )
    .optional()
    .during(|| format!("reading sync state of {stream}"))
    .map(Option::unwrap_or_default)
}

/// Records the stream's new state (inside the stream's transaction).
pub(super) fn write_state(
    conn: &Connection,
    bot_id: BotId,
    stream: &str,
    state: StreamState,
    run: RunStamp,
) -> Result<(), LoadError> {
    conn.execute(
        sql_file!("warehouse/write_state.sql").text,
        params![
            bot_id,
            stream,
            state.high_water_mark,
            state.last_full_scan_micros,
            run.run_id,
            run.at_micros
        ],
    )
    .during(|| format!("writing sync state of {stream}"))?;
    Ok(())
}

/// Allocates the next run id and records the run as running for each bot.
pub(crate) fn start_run(
    conn: &Connection,
    bot_ids: &[BotId],
    now_micros: i64,
) -> Result<i64, LoadError> {
    let run_id: i64 = conn
        .query_row(sql_file!("warehouse/next_run_id.sql").text, [], |r| {
            r.get(0)
        })
        .during(|| "allocating a run id".into())?;
    for bot_id in bot_ids {
        conn.execute(
            sql_file!("warehouse/start_run.sql").text,
            params![run_id, bot_id, now_micros, RunStatus::Running.as_str()],
        )
        .during(|| "recording the run start".into())?;
    }
    Ok(run_id)
}

/// Figures of one stream in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFigures {
    pub status: StreamStatus,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_deleted: u64,
    pub rows_rejected: u64,
    pub requests: u64,
    pub retries: u64,
    /// Orders: pending orders re-read by key that answered 404.
    pub refetch_not_found: u64,
    pub error: Option<String>,
    /// The full scan's soft deletes were refused (the rows kept): the one line that says
    /// what and how to allow it. The stream is partial.
    pub deletes_refused: Option<String>,
}

impl StreamFigures {
    /// Adds a later pass of the same stream in the same run: its rows add up, its
    /// request counts (the stream's client's running totals) replace, and the stream is
    /// partial if any pass rejected rows.
    pub(crate) fn add_pass(&mut self, later: StreamFigures) {
        self.rows_read += later.rows_read;
        self.rows_written += later.rows_written;
        self.rows_deleted += later.rows_deleted;
        self.rows_rejected += later.rows_rejected;
        self.refetch_not_found += later.refetch_not_found;
        self.requests = later.requests;
        self.retries = later.retries;
        if self.deletes_refused.is_none() {
            self.deletes_refused = later.deletes_refused;
        }
        // Rows one pass could not read, or deletes it refused, leave the stream partial,
        // whatever the next says.
        self.status = if self.rows_rejected > 0 || self.deletes_refused.is_some() {
            StreamStatus::Partial
        } else {
            later.status
        };
    }
}

/// Records a stream's figures in `_sync_run_streams` (a stream's own figures are
/// recorded inside its transaction by [`super::stream::StreamLoad`]; this records a
/// failure, or a total over several passes).
pub(crate) fn record_stream(
    conn: &Connection,
    run_id: i64,
    bot_id: BotId,
    stream: &str,
    f: &StreamFigures,
) -> Result<(), LoadError> {
    conn.execute(
        sql_file!("warehouse/record_stream.sql").text,
        params![
            run_id,
            bot_id,
            stream,
            f.status.as_str(),
            f.rows_read as i64,
            f.rows_written as i64,
            f.rows_deleted as i64,
            f.rows_rejected as i64,
            f.requests as i64,
            f.retries as i64,
            f.error
                .as_deref()
                .or(f.deletes_refused.as_deref())
                .map(redact)
        ],
    )
    .during(|| format!("recording figures of {stream}"))?;
    Ok(())
}

/// What a bot's run amounted to, for its `_sync_runs` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunTotals<'a> {
    pub run_id: i64,
    pub bot_id: BotId,
    pub status: RunStatus,
    pub requests: u64,
    pub retries: u64,
    pub rows_rejected: u64,
    /// Pending orders re-read by key that answered 404.
    pub refetch_not_found: u64,
    /// Key redacted here too.
    pub error: Option<&'a str>,
    /// When the run ended, microseconds since the epoch.
    pub finished_micros: i64,
}

pub(crate) fn finish_run(conn: &Connection, totals: &RunTotals<'_>) -> Result<(), LoadError> {
    conn.execute(
        sql_file!("warehouse/finish_run.sql").text,
        params![
            totals.finished_micros,
            totals.status.as_str(),
            totals.requests as i64,
            totals.retries as i64,
            totals.rows_rejected as i64,
            totals.refetch_not_found as i64,
            totals.error.map(redact),
            totals.run_id,
            totals.bot_id
        ],
    )
    .during(|| "recording the run end".into())?;
    Ok(())
}

/// Marks runs left running by a process that died as interrupted.
pub fn close_abandoned_runs(conn: &Connection, now_micros: i64) -> Result<usize, LoadError> {
    conn.execute(
        sql_file!("warehouse/close_abandoned_runs.sql").text,
        params![
            RunStatus::Interrupted.as_str(),
            now_micros,
            RunStatus::Running.as_str()
        ],
    )
    .during(|| "closing interrupted runs".into())
}

/// Records a row that could not be read (inside a transaction of the caller's).
pub(super) fn reject(
    conn: &Connection,
    run: RunStamp,
    bot_id: BotId,
    stream: &str,
    reason: &str,
    raw_json: &str,
) -> Result<(), LoadError> {
    conn.execute(
        sql_file!("warehouse/reject.sql").text,
        params![
            run.run_id,
            bot_id,
            stream,
            run.at_micros,
            redact(reason),
            redact(raw_json)
        ],
    )
    .during(|| format!("recording a rejected {stream} row"))?;
    Ok(())
}

/// Records rows that could not be read, in a transaction of their own: under `--strict`
/// the stream's rows are not committed, but what could not be read is kept for diagnosis.
pub(crate) fn record_rejects(
    conn: &Connection,
    run: RunStamp,
    bot_id: BotId,
    stream: &str,
    rejects: &[(String, String)],
) -> Result<(), LoadError> {
    let context = || format!("recording rejected {stream} rows");
    let tx = conn.unchecked_transaction().during(context)?;
    for (reason, raw) in rejects {
        reject(&tx, run, bot_id, stream, reason, raw)?;
    }
    tx.commit().during(context)
}

/// Marks `keys` (old PENDING orders) as re-read by this run, all or none.
pub(crate) fn record_pending_checks(
    conn: &Connection,
    bot_id: BotId,
    keys: &[String],
    run: RunStamp,
) -> Result<(), LoadError> {
    let context = || "recording re-read pending orders".to_string();
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    if distinct.is_empty() {
        return Ok(());
    }
    let keys = duckdb::types::Value::List(
        distinct
            .into_iter()
            .map(|k| duckdb::types::Value::Text(k.clone()))
            .collect(),
    );
    conn.execute(
        sql_file!("warehouse/pending_check.sql").text,
        params![bot_id, keys, run.at_micros],
    )
    .during(context)?;
    Ok(())
}

/// Rows of one bot's table that are not soft-deleted: what a full scan of it is expected
/// to read again (the progress line's total). A table name is one of the registry's.
pub fn live_rows(conn: &Connection, table: &str, bot_id: BotId) -> Result<u64, LoadError> {
    conn.query_row(
        &format!("SELECT count(*) FROM {table} WHERE bot_id = ? AND _deleted_at IS NULL"),
        params![bot_id],
        |r| r.get::<_, i64>(0),
    )
    .during(|| format!("counting the rows of {table}"))
    .map(|n| n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the orders stream's re-read pass, with nothing rejected, turned a
    /// first pass with rejected rows back into `success`.
    #[test]
    fn a_pass_with_rejected_rows_leaves_the_stream_partial() {
        let mut figures = StreamFigures {
            status: StreamStatus::Partial,
            rows_read: 10,
            rows_rejected: 3,
            requests: 2,
            ..StreamFigures::default()
        };
        figures.add_pass(StreamFigures {
            status: StreamStatus::Success,
            rows_read: 4,
            requests: 6,
            ..StreamFigures::default()
        });
        assert_eq!(
            (
                figures.status,
                figures.rows_read,
                figures.rows_rejected,
                figures.requests
            ),
            (StreamStatus::Partial, 14, 3, 6)
        );
        let mut clean = StreamFigures::default();
        clean.add_pass(StreamFigures {
            status: StreamStatus::Success,
            rows_read: 1,
            ..StreamFigures::default()
        });
        assert_eq!(clean.status, StreamStatus::Success);
    }
}
