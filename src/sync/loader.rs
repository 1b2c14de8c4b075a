//! The loading half of a stream: runs on a blocking thread with its own DuckDB
//! connection, stages pages as they arrive, then merges, records state and figures in
//! one transaction, and finally rewrites the stream's dirty Parquet partitions.

use std::path::PathBuf;
use std::sync::Arc;

use duckdb::{Connection, params};
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::api::models::Order;
use crate::api::{ApiClient, RequestStats};
use crate::load::error::DbContext;
use crate::load::merge::{RUN_TS, RunStamp, Stager, merge, partition_expr};
use crate::load::state::{StreamFigures, StreamState, record_stream, reject, write_state};
use crate::load::{LoadError, parquet};
use crate::progress::PhaseLine;
use crate::streams::StreamName;
use crate::streams::catalog::StagedRow;
use crate::streams::fetch::{FetchSummary, LoaderMsg};

/// Rejected rows kept in memory before the commit writes them (the count has no cap).
const MAX_REJECTS_KEPT: usize = 10_000;

/// Why a stream's load did not commit.
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The fetcher stopped without finishing (its own error says why).
    #[error("fetch did not complete")]
    FetchAborted,
    #[error("{count} rows could not be read and --strict is set (first: {first})")]
    StrictRejects { count: u64, first: String },
}

/// Everything a loader needs besides its rows.
pub struct LoaderCtx {
    pub conn: Connection,
    pub bot_id: i64,
    pub run: RunStamp,
    pub stream: StreamName,
    pub batch_rows: usize,
    pub parquet_root: Option<PathBuf>,
    pub strict: bool,
    pub previous: StreamState,
    /// The stream's client, read at commit time for its request figures.
    pub client: ApiClient,
    /// Called with the number of rows staged so far (progress bars).
    pub on_rows: Box<dyn Fn(u64) + Send>,
    /// The bot's Parquet rewrite line: counts the files this stream rewrites.
    pub parquet_files: Arc<PhaseLine>,
}

fn stats_into(figures: &mut StreamFigures, stats: &RequestStats) {
    figures.requests = stats.requests();
    figures.retries = stats.retries();
}

/// Loads one stream of `R` rows; returns its figures once committed.
pub fn load_stream<R: StagedRow>(
    ctx: LoaderCtx,
    mut rx: mpsc::Receiver<LoaderMsg>,
) -> Result<StreamFigures, LoaderError> {
    let spec = R::TABLE;
    let mut stager = Stager::new(&ctx.conn, spec, ctx.batch_rows)?;
    let mut figures = StreamFigures::default();
    let mut rejects: Vec<(String, String)> = Vec::new();
    let mut refetched: Vec<Order> = Vec::new();
    let mut summary: Option<FetchSummary> = None;
    let bot_id = ctx.bot_id;

    let read_row = |row: Value,
                    stager: &mut Stager<'_>,
                    figures: &mut StreamFigures,
                    rejects: &mut Vec<(String, String)>|
     -> Result<(), LoadError> {
        figures.rows_read += 1;
        let raw = row.clone();
        match R::from_json(row) {
            Ok(parsed) => stager.push(|w| parsed.write(bot_id, w)),
            Err(e) => {
                figures.rows_rejected += 1;
                if rejects.len() < MAX_REJECTS_KEPT {
                    rejects.push((e.to_string(), raw.to_string()));
                }
                Ok(())
            }
        }
    };

    while let Some(msg) = rx.blocking_recv() {
        match msg {
            LoaderMsg::Page(rows) => {
                for row in rows {
                    read_row(row, &mut stager, &mut figures, &mut rejects)?;
                }
                (ctx.on_rows)(figures.rows_read);
            }
            LoaderMsg::Refetched { rows, not_found } => {
                figures.refetch_not_found += not_found;
                for row in rows {
                    figures.rows_read += 1;
                    let raw = row.to_string();
                    match Order::from_json(row) {
                        Ok(order) => refetched.push(order),
                        Err(e) => {
                            figures.rows_rejected += 1;
                            rejects.push((e.to_string(), raw));
                        }
                    }
                }
            }
            LoaderMsg::Done(s) => {
                summary = Some(s);
                break;
            }
        }
    }
    let Some(summary) = summary else {
        return Err(LoaderError::FetchAborted);
    };
    stager.flush()?;
    if ctx.strict && figures.rows_rejected > 0 {
        // The stream's rows are not committed, but what could not be read is kept for
        // diagnosis, in a transaction of its own.
        record_rejects(&ctx, &rejects)?;
        let first = rejects.first().map(|(r, _)| r.clone()).unwrap_or_default();
        return Err(LoaderError::StrictRejects {
            count: figures.rows_rejected,
            first,
        });
    }
    if figures.rows_rejected > 0 {
        warn!(stream = %ctx.stream, rejected = figures.rows_rejected, "rows could not be read; kept in _rejected");
    }

    let stream = ctx.stream.as_str();
    let conn = &ctx.conn;
    conn.execute_batch("BEGIN TRANSACTION")
        .during(|| format!("starting the {stream} transaction"))?;
    let committed = (|| -> Result<(), LoadError> {
        let outcome = merge(conn, spec, bot_id, ctx.run, summary.full_scan)?;
        figures.rows_written = outcome.written;
        figures.rows_deleted = outcome.deleted;
        if !refetched.is_empty() {
            figures.rows_written += apply_refetched(conn, bot_id, ctx.run, &refetched)?;
        }
        let state = StreamState {
            high_water_mark: summary.newest.max(ctx.previous.high_water_mark),
            last_full_scan_micros: if summary.full_scan {
                Some(ctx.run.at_micros)
            } else {
                ctx.previous.last_full_scan_micros
            },
        };
        write_state(
            conn,
            bot_id,
            stream,
            state,
            ctx.run.run_id,
            ctx.run.at_micros,
        )?;
        for (reason, raw) in &rejects {
            reject(
                conn,
                ctx.run.run_id,
                bot_id,
                stream,
                reason,
                raw,
                ctx.run.at_micros,
            )?;
        }
        figures.status = if figures.rows_rejected > 0 {
            "partial"
        } else {
            "success"
        }
        .into();
        stats_into(&mut figures, ctx.client.stats());
        record_stream(conn, ctx.run.run_id, bot_id, stream, &figures)?;
        Ok(())
    })();
    match committed {
        Ok(()) => conn
            .execute_batch("COMMIT")
            .during(|| format!("committing {stream}"))?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
    }
    debug!(
        stream,
        written = figures.rows_written,
        deleted = figures.rows_deleted,
        "committed"
    );

    if let Some(root) = &ctx.parquet_root
        && parquet::dirty_partitions(conn, spec, bot_id)? > 0
    {
        ctx.parquet_files.start();
        let started = std::time::Instant::now();
        let files = parquet::rewrite_dirty(conn, root, spec, bot_id)?;
        ctx.parquet_files.add_burst(files as u64, started.elapsed());
    }
    Ok(figures)
}

fn record_rejects(ctx: &LoaderCtx, rejects: &[(String, String)]) -> Result<(), LoadError> {
    let stream = ctx.stream.as_str();
    ctx.conn
        .execute_batch("BEGIN TRANSACTION")
        .during(|| format!("recording rejected {stream} rows"))?;
    for (reason, raw) in rejects {
        if let Err(e) = reject(
            &ctx.conn,
            ctx.run.run_id,
            ctx.bot_id,
            stream,
            reason,
            raw,
            ctx.run.at_micros,
        ) {
            let _ = ctx.conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    ctx.conn
        .execute_batch("COMMIT")
        .during(|| format!("recording rejected {stream} rows"))
}

/// Applies re-fetched single orders: their status may have moved on, and
/// `member_email`, which only `/orders/{order_key}` carries, is stored (a NULL there
/// keeps the stored one). The single-order endpoint names the gateway by code and sends
/// no amount, so the list's display name and amount are kept. Returns how many rows it
/// changed that the merge had not already written in this run.
fn apply_refetched(
    conn: &Connection,
    bot_id: i64,
    run: RunStamp,
    orders: &[Order],
) -> Result<u64, LoadError> {
    let part = partition_expr(&crate::streams::catalog::ORDERS, "orders");
    let stored = stored_statuses(conn, bot_id, orders)?;
    let mut changed = 0;
    // Two statements per order cost DuckDB milliseconds each: only orders whose status
    // moved on, whose email is new, or that are not in the warehouse as read go through
    // them.
    let moved = orders.iter().filter(|o| {
        stored.get(&o.order_key).is_none_or(|(status, email)| {
            status.as_deref() != Some(o.order_status.as_str())
                || (o.member_email.is_some() && *email != o.member_email)
        })
    });
    for order in moved {
        let condition = "bot_id = ? AND order_key = ? AND (order_status IS DISTINCT FROM ? \
                         OR (CAST(? AS VARCHAR) IS NOT NULL AND member_email IS DISTINCT FROM ?))";
        let email = order.member_email.as_deref();
        for marks in crate::load::merge::DIRTY_MARKS {
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO {marks} (bot_id, table_name, partition) \
                     SELECT bot_id, 'orders', {part} FROM orders WHERE {condition}"
                ),
                params![bot_id, order.order_key, order.order_status, email, email],
            )
            .during(|| "marking a re-fetched order's partition".into())?;
        }
        // Rows the merge already wrote in this run count once (after a full scan, the
        // re-fetch adds the email to rows just inserted).
        changed += conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM orders WHERE {condition} AND _run_id IS DISTINCT FROM ?"
                ),
                params![
                    bot_id,
                    order.order_key,
                    order.order_status,
                    email,
                    email,
                    run.run_id
                ],
                |r| r.get::<_, i64>(0),
            )
            .during(|| "checking a re-fetched order".into())? as u64;
        conn
            .execute(
                &format!(
                    "UPDATE orders SET order_status = ?, member_email = coalesce(CAST(? AS VARCHAR), member_email), \
                     _synced_at = {RUN_TS}, _run_id = ? WHERE {condition}"
                ),
                params![
                    order.order_status,
                    email,
                    run.at_micros,
                    run.run_id,
                    bot_id,
                    order.order_key,
                    order.order_status,
                    email,
                    email
                ],
            )
            .during(|| "updating a re-fetched order".into())?;
    }
    Ok(changed)
}

/// An order's stored `(order_status, member_email)`.
type StoredOrder = (Option<String>, Option<String>);

/// The warehouse's status and email of each of `orders`, by key (one query per 500).
fn stored_statuses(
    conn: &Connection,
    bot_id: i64,
    orders: &[Order],
) -> Result<std::collections::HashMap<String, StoredOrder>, LoadError> {
    let context = || "reading the statuses of re-fetched orders".to_string();
    let mut out = std::collections::HashMap::new();
    for chunk in orders.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut stmt = conn
            .prepare(&format!(
                "SELECT order_key, order_status, member_email FROM orders WHERE bot_id = {bot_id} \
                 AND order_key IN ({marks})"
            ))
            .during(context)?;
        let rows = stmt
            .query_map(
                duckdb::params_from_iter(chunk.iter().map(|o| o.order_key.as_str())),
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        (
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ),
                    ))
                },
            )
            .during(context)?;
        for row in rows {
            let (key, stored) = row.during(context)?;
            out.insert(key, stored);
        }
    }
    Ok(out)
}
