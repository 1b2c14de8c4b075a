//! Sync bookkeeping in the warehouse: per-stream state, run records and rejected rows.
//!
//! State is written inside the stream's own transaction, so rows and the state that
//! describes them commit together (SPEC §3).

use duckdb::{Connection, OptionalExt, params};

use super::error::{DbContext, LoadError};
use super::merge::RUN_TS;
use crate::secret::redact;

/// What the warehouse remembers about one stream of one bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Orders: newest `order_date` synced, UNIX seconds.
    pub high_water_mark: Option<i64>,
    /// When the last full scan committed, microseconds since the epoch.
    pub last_full_scan_micros: Option<i64>,
}

pub fn read_state(conn: &Connection, bot_id: i64, stream: &str) -> Result<StreamState, LoadError> {
    conn.query_row(
        "SELECT epoch(high_water_mark::TIMESTAMP)::BIGINT, epoch_us(last_full_scan_at::TIMESTAMP) \
         FROM _sync_state WHERE bot_id = ? AND stream = ?",
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
pub fn write_state(
    conn: &Connection,
    bot_id: i64,
    stream: &str,
    state: StreamState,
    run_id: i64,
    now_micros: i64,
) -> Result<(), LoadError> {
    conn.execute(
        &format!(
            "INSERT INTO _sync_state (bot_id, stream, high_water_mark, last_full_scan_at, last_run_id, updated_at) \
             VALUES (?, ?, to_timestamp(?), make_timestamp(?)::TIMESTAMPTZ, ?, {RUN_TS}) \
             ON CONFLICT (bot_id, stream) DO UPDATE SET high_water_mark = excluded.high_water_mark, \
             last_full_scan_at = excluded.last_full_scan_at, last_run_id = excluded.last_run_id, \
             updated_at = excluded.updated_at"
        ),
        params![
            bot_id,
            stream,
            state.high_water_mark,
            state.last_full_scan_micros,
            run_id,
            now_micros
        ],
    )
    .during(|| format!("writing sync state of {stream}"))?;
    Ok(())
}

/// Allocates the next run id and records the run as `running`.
pub fn start_run(conn: &Connection, bot_ids: &[i64], now_micros: i64) -> Result<i64, LoadError> {
    let run_id: i64 = conn
        .query_row(
            "SELECT coalesce(max(run_id), 0) + 1 FROM _sync_runs",
            [],
            |r| r.get(0),
        )
        .during(|| "allocating a run id".into())?;
    for bot_id in bot_ids {
        conn.execute(
            &format!("INSERT INTO _sync_runs (run_id, bot_id, started_at, status) VALUES (?, ?, {RUN_TS}, 'running')"),
            params![run_id, bot_id, now_micros],
        )
        .during(|| "recording the run start".into())?;
    }
    Ok(run_id)
}

/// Figures of one stream in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFigures {
    pub status: String,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_deleted: u64,
    pub rows_rejected: u64,
    pub requests: u64,
    pub retries: u64,
    /// Orders: pending orders re-fetched by key that answered 404.
    pub refetch_not_found: u64,
    pub error: Option<String>,
}

pub fn record_stream(
    conn: &Connection,
    run_id: i64,
    bot_id: i64,
    stream: &str,
    f: &StreamFigures,
) -> Result<(), LoadError> {
    conn.execute(
        "INSERT OR REPLACE INTO _sync_run_streams (run_id, bot_id, stream, status, rows_read, rows_written, \
         rows_deleted, rows_rejected, requests, retries, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            run_id,
            bot_id,
            stream,
            f.status,
            f.rows_read as i64,
            f.rows_written as i64,
            f.rows_deleted as i64,
            f.rows_rejected as i64,
            f.requests as i64,
            f.retries as i64,
            f.error.as_deref().map(redact)
        ],
    )
    .during(|| format!("recording figures of {stream}"))?;
    Ok(())
}

/// What a bot's run amounted to, for its `_sync_runs` row.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunTotals<'a> {
    pub status: &'a str,
    pub requests: u64,
    pub retries: u64,
    pub rows_rejected: u64,
    /// Pending orders re-fetched by key that answered 404.
    pub refetch_not_found: u64,
    /// Key redacted here too.
    pub error: Option<&'a str>,
}

pub fn finish_run(
    conn: &Connection,
    run_id: i64,
    bot_id: i64,
    totals: &RunTotals<'_>,
    now_micros: i64,
) -> Result<(), LoadError> {
    conn.execute(
        &format!(
            "UPDATE _sync_runs SET finished_at = {RUN_TS}, status = ?, requests = ?, retries = ?, \
             rows_rejected = ?, refetch_not_found = ?, error = ? WHERE run_id = ? AND bot_id = ?"
        ),
        params![
            now_micros,
            totals.status,
            totals.requests as i64,
            totals.retries as i64,
            totals.rows_rejected as i64,
            totals.refetch_not_found as i64,
            totals.error.map(redact),
            run_id,
            bot_id
        ],
    )
    .during(|| "recording the run end".into())?;
    Ok(())
}

/// Marks runs left `running` by a process that died as `interrupted`.
pub fn close_abandoned_runs(conn: &Connection, now_micros: i64) -> Result<usize, LoadError> {
    conn.execute(
        &format!("UPDATE _sync_runs SET status = 'interrupted', finished_at = {RUN_TS} WHERE status = 'running'"),
        params![now_micros],
    )
    .during(|| "closing interrupted runs".into())
}

/// Records a row that could not be read (inside the stream's transaction).
pub fn reject(
    conn: &Connection,
    run_id: i64,
    bot_id: i64,
    stream: &str,
    reason: &str,
    raw_json: &str,
    now_micros: i64,
) -> Result<(), LoadError> {
    conn.execute(
        &format!(
            "INSERT INTO _rejected (run_id, bot_id, stream, rejected_at, reason, raw_json) VALUES (?, ?, ?, {RUN_TS}, ?, ?)"
        ),
        params![run_id, bot_id, stream, now_micros, redact(reason), redact(raw_json)],
    )
    .during(|| format!("recording a rejected {stream} row"))?;
    Ok(())
}

/// Rows of one bot's table that are not soft-deleted: what a full scan of it is expected
/// to read again (the progress line's total). A table name is one of the catalog's.
pub fn live_rows(conn: &Connection, table: &str, bot_id: i64) -> Result<u64, LoadError> {
    conn.query_row(
        &format!("SELECT count(*) FROM {table} WHERE bot_id = ? AND _deleted_at IS NULL"),
        params![bot_id],
        |r| r.get::<_, i64>(0),
    )
    .during(|| format!("counting the rows of {table}"))
    .map(|n| n.max(0) as u64)
}
