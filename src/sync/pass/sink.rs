//! The loading sink of a stream: runs on a blocking thread with its own DuckDB
//! connection, stages pages as they arrive, then hands them to the stream's
//! [`StreamLoad`] (merge, state, figures, rejected rows: one transaction), and finally
//! rewrites the stream's owed Parquet partitions.

use std::path::PathBuf;
use std::sync::Arc;

use duckdb::Connection;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::api::ApiClient;
use crate::api::row::RowError;
use crate::bot_id::BotId;
use crate::mirror;
use crate::progress::PhaseLine;
use crate::streams::StreamDef;
use crate::streams::orders::Order;
use crate::sync::pass::fetch::{FetchSummary, LoaderMsg};
use crate::warehouse::LoadError;
use crate::warehouse::merge::{DeleteGuard, Deletes, RefusedDeletes, Stager};
use crate::warehouse::state::{RunStamp, StreamFigures, StreamState, StreamStatus, record_rejects};
use crate::warehouse::stream::{OrderUpdate, StreamLoad};

/// Rejected rows kept in memory before the commit writes them (the count has no cap).
const MAX_REJECTS_KEPT: usize = 10_000;

/// Why a stream's load did not commit.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoaderError {
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The fetcher stopped without finishing (its own error says why).
    #[error("fetch did not complete")]
    FetchAborted,
    #[error("{count} rows could not be read and --strict is set (first: {first})")]
    StrictRejects { count: u64, first: String },
    #[error("loader thread failed: {0}")]
    Thread(String),
}

/// Everything a loader needs besides its rows.
pub(crate) struct LoaderCtx {
    pub conn: Connection,
    pub bot_id: BotId,
    pub run: RunStamp,
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
    /// How much a full scan may soft-delete.
    pub delete_guard: DeleteGuard,
}

/// Rows that could not be read: `(reason, raw JSON)`, the first [`MAX_REJECTS_KEPT`].
#[derive(Default)]
struct Rejects {
    kept: Vec<(String, String)>,
    /// Keys of the listed rows rejected under a readable key: the API still serves
    /// them, so a full scan must not delete them.
    keys: Vec<String>,
    /// Listed rows rejected without a readable key: they may be any live row.
    keyless: u64,
}

impl Rejects {
    fn add(&mut self, figures: &mut StreamFigures, reason: String, raw: String) {
        figures.rows_rejected += 1;
        if self.kept.len() < MAX_REJECTS_KEPT {
            self.kept.push((reason, raw));
        }
    }

    /// Notes the key of a listed row rejected for `error`, if the key itself reads.
    fn note_key(&mut self, def: &StreamDef, raw: &serde_json::Value, error: &RowError) {
        let key_broken = def.table.keys.contains(&error.field.as_str());
        match (def.key_of)(raw).filter(|_| !key_broken) {
            Some(key) => self.keys.push(key),
            None => self.keyless += 1,
        }
    }
}

/// Loads one stream; returns its figures once committed.
pub(crate) fn load_stream(
    def: &'static StreamDef,
    ctx: LoaderCtx,
    rx: mpsc::Receiver<LoaderMsg>,
) -> Result<StreamFigures, LoaderError> {
    let mut stager = Stager::new(&ctx.conn, def.table, ctx.batch_rows)?;
    let (received, summary) = receive(def, &ctx, &mut stager, rx)?;
    stager.flush()?;
    check_rejects(def, &ctx, &received)?;
    let figures = commit_stream(def, &ctx, received, summary)?;
    rewrite_parquet(def, &ctx)?;
    Ok(figures)
}

/// What the sink has read from the fetcher: the figures so far, the rows it could not
/// read, and the orders re-read by key.
#[derive(Default)]
struct Received {
    figures: StreamFigures,
    rejects: Rejects,
    reread: Vec<OrderUpdate>,
}

impl Received {
    /// Stages the rows of one page; a row that does not read is rejected.
    fn stage_page(
        &mut self,
        def: &'static StreamDef,
        ctx: &LoaderCtx,
        stager: &mut Stager<'_>,
        rows: Vec<serde_json::Value>,
    ) -> Result<(), LoadError> {
        for row in rows {
            self.figures.rows_read += 1;
            let raw = row.clone();
            if let Err(e) = stager.push(|w| (def.stage)(row, ctx.bot_id, w))? {
                self.rejects.note_key(def, &raw, &e);
                self.rejects
                    .add(&mut self.figures, e.to_string(), raw.to_string());
            }
        }
        Ok(())
    }

    /// Reads the orders re-read by key (applied at commit, after the merge).
    fn collect_rereads(&mut self, rows: Vec<serde_json::Value>, not_found: u64) {
        self.figures.refetch_not_found += not_found;
        for row in rows {
            self.figures.rows_read += 1;
            let raw = row.to_string();
            match Order::from_json(row) {
                Ok(order) => self.reread.push(update_of(order)),
                Err(e) => self.rejects.add(&mut self.figures, e.to_string(), raw),
            }
        }
    }
}

/// Reads the fetcher's messages until it is done; [`LoaderError::FetchAborted`] if it
/// stopped without saying so.
fn receive(
    def: &'static StreamDef,
    ctx: &LoaderCtx,
    stager: &mut Stager<'_>,
    mut rx: mpsc::Receiver<LoaderMsg>,
) -> Result<(Received, FetchSummary), LoaderError> {
    let mut received = Received::default();
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            LoaderMsg::Page(rows) => {
                received.stage_page(def, ctx, stager, rows)?;
                (ctx.on_rows)(received.figures.rows_read);
            }
            LoaderMsg::Reread { rows, not_found } => received.collect_rereads(rows, not_found),
            LoaderMsg::Done(summary) => return Ok((received, summary)),
        }
    }
    Err(LoaderError::FetchAborted)
}

/// Rows that could not be read: under `--strict` they are recorded and the stream stops
/// uncommitted, else a warning.
fn check_rejects(
    def: &'static StreamDef,
    ctx: &LoaderCtx,
    received: &Received,
) -> Result<(), LoaderError> {
    let stream = def.name.as_str();
    let (figures, rejects) = (&received.figures, &received.rejects);
    if ctx.strict && figures.rows_rejected > 0 {
        // The stream's rows are not committed, but what could not be read is kept.
        record_rejects(&ctx.conn, ctx.run, ctx.bot_id, stream, &rejects.kept)?;
        let first = rejects
            .kept
            .first()
            .map(|(r, _)| r.clone())
            .unwrap_or_default();
        return Err(LoaderError::StrictRejects {
            count: figures.rows_rejected,
            first,
        });
    }
    if figures.rows_rejected > 0 {
        warn!(
            stream,
            rejected = figures.rows_rejected,
            "rows could not be read; kept in _rejected"
        );
    }
    Ok(())
}

/// The stream's one transaction: merge, re-read orders, state, rejected rows, figures.
fn commit_stream(
    def: &'static StreamDef,
    ctx: &LoaderCtx,
    received: Received,
    summary: FetchSummary,
) -> Result<StreamFigures, LoaderError> {
    let stream = def.name.as_str();
    let Received {
        mut figures,
        rejects,
        reread,
    } = received;
    let mut load = StreamLoad::begin(&ctx.conn, def.table, stream, ctx.bot_id, ctx.run)?;
    let deletes = summary.full_scan.then_some(Deletes {
        guard: ctx.delete_guard,
        protected: &rejects.keys,
        keyless_rejects: rejects.keyless,
    });
    let outcome = load.write_staged(deletes)?;
    figures.rows_written = outcome.written;
    figures.rows_deleted = outcome.deleted;
    // Deletes refused: the scan is not taken as complete (orders: a full scan is still due).
    let scan_complete = summary.full_scan && outcome.refused.is_none();
    if let Some(refused) = &outcome.refused {
        let line = refused_line(refused);
        debug!(stream, "{line}");
        figures.deletes_refused = Some(line);
    }
    if !reread.is_empty() {
        figures.rows_written += load.apply_order_updates(&reread)?;
    }
    load.set_state(next_state(ctx, &summary, scan_complete))?;
    load.reject(&rejects.kept)?;
    figures.status = if figures.rows_rejected > 0 || figures.deletes_refused.is_some() {
        StreamStatus::Partial
    } else {
        StreamStatus::Success
    };
    figures.requests = ctx.client.stats().requests();
    figures.retries = ctx.client.stats().retries();
    load.record(&figures)?;
    load.commit()?;
    debug!(
        stream,
        written = figures.rows_written,
        deleted = figures.rows_deleted,
        "committed"
    );
    Ok(figures)
}

/// The fact and the flag; how to invoke the program is the terminal's business.
fn refused_line(refused: &RefusedDeletes) -> String {
    format!(
        "refused to delete {} of {} live rows: {}; the rows are kept (if they are really gone, sync once with --allow-large-deletes)",
        refused.gone, refused.live, refused.reason,
    )
}

/// The stream's state after this run: the newest order seen, and the time of this full
/// scan if it was complete.
fn next_state(ctx: &LoaderCtx, summary: &FetchSummary, scan_complete: bool) -> StreamState {
    StreamState {
        high_water_mark: summary.newest.max(ctx.previous.high_water_mark),
        last_full_scan_micros: if scan_complete {
            Some(ctx.run.at_micros)
        } else {
            ctx.previous.last_full_scan_micros
        },
    }
}

/// Rewrites the stream's owed Parquet partitions, when there is a Parquet mirror.
fn rewrite_parquet(def: &'static StreamDef, ctx: &LoaderCtx) -> Result<(), LoaderError> {
    let spec = def.table;
    if let Some(root) = &ctx.parquet_root
        && mirror::owed_partitions(&ctx.conn, spec, ctx.bot_id)? > 0
    {
        ctx.parquet_files.start();
        let started = std::time::Instant::now();
        let files = mirror::rewrite_owed(&ctx.conn, root, spec, ctx.bot_id)?;
        ctx.parquet_files.add_burst(files as u64, started.elapsed());
    }
    Ok(())
}

fn update_of(order: Order) -> OrderUpdate {
    OrderUpdate {
        order_key: order.order_key,
        order_status: order.order_status,
        member_email: order.member_email,
    }
}

/// The dry run's sink: reads every row as the loader would, counts, writes nothing.
pub(crate) async fn count_rows(
    def: &'static StreamDef,
    mut rx: mpsc::Receiver<LoaderMsg>,
    on_rows: impl Fn(u64),
) -> StreamFigures {
    let mut figures = StreamFigures {
        status: StreamStatus::DryRun,
        ..StreamFigures::default()
    };
    while let Some(msg) = rx.recv().await {
        let rows = match msg {
            LoaderMsg::Page(rows) => rows,
            LoaderMsg::Reread { rows, .. } => rows,
            LoaderMsg::Done(_) => break,
        };
        for row in rows {
            figures.rows_read += 1;
            if (def.check)(row).is_err() {
                figures.rows_rejected += 1;
            }
        }
        on_rows(figures.rows_read);
    }
    figures
}
