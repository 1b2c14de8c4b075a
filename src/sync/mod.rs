//! One sync run: every configured bot, every selected stream.
//!
//! Per bot, the streams run concurrently: each has a fetcher (async, pages in flight) and
//! a loader (a blocking thread with its own DuckDB connection) joined by a bounded
//! channel. Each stream commits its rows, state and figures in one transaction, so a run
//! killed at any point leaves every stream either as before or fully synced, and the
//! next run completes the rest. After the streams, the report inputs (gateways,
//! preferred currency, exchange rates) are refreshed.

pub mod fx_rate;
pub mod fx_windows;
pub mod loader;
pub mod reconcile;
pub mod report_inputs;
pub mod revenue_memo;

use std::sync::Arc;
use std::time::Instant;

use duckdb::Connection;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::api::models::{Coupon, Membership, Order, PaymentMethod, Plan, Project, UsersCount};
use crate::api::{ApiClient, ApiError, Method};
use crate::config::{BotSettings, Settings};
use crate::load::error::DbContext;
use crate::load::merge::{RUN_TS, RunStamp};
use crate::load::state::{
    RunTotals, StreamFigures, StreamState, close_abandoned_runs, finish_run, live_rows, read_state,
    record_stream, start_run, write_state,
};
use crate::load::{LoadError, Warehouse, parquet};
use crate::progress::{Phase, PhaseLine, Progress, StreamBar};
use crate::secret::redact;
use crate::streams::catalog::{self, FetchSpec, StagedRow};
use crate::streams::fetch::{LoaderMsg, OrdersPlan, fetch_all, fetch_orders};
use crate::streams::{StreamName, TableStream};

use loader::{LoaderCtx, LoaderError, load_stream};
use reconcile::{ReconcileError, old_sales_differ};
use revenue_memo::RevenueMemo;

/// Choices of one invocation of `tgm-sync sync`.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    pub full_refresh: bool,
    pub dry_run: bool,
    pub strict: bool,
    pub progress: bool,
}

/// How one stream ended.
#[derive(Debug, Clone)]
pub struct StreamOutcome {
    pub stream: StreamName,
    pub figures: StreamFigures,
    pub error: Option<StreamFailure>,
}

/// Why a stream failed, classified for the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    Auth,
    Unavailable,
    Rejected,
    Other,
}

#[derive(Debug, Clone)]
pub struct StreamFailure {
    pub kind: FailureKind,
    pub message: String,
}

/// One bot's run.
#[derive(Debug, Clone)]
pub struct BotOutcome {
    pub bot_id: u64,
    pub streams: Vec<StreamOutcome>,
    /// A failure outside the streams (report inputs), not fatal to the data.
    pub warnings: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: Option<i64>,
    pub bots: Vec<BotOutcome>,
    pub dry_run: bool,
    pub elapsed_secs: f64,
    /// The process's peak resident memory, read once the warehouse is closed (the
    /// command line fills it in: see [`crate::metrics::peak_rss_bytes`]).
    pub peak_rss_bytes: Option<u64>,
}

impl RunOutcome {
    pub fn failures(&self) -> impl Iterator<Item = (&BotOutcome, &StreamOutcome, &StreamFailure)> {
        self.bots.iter().flat_map(|b| {
            b.streams
                .iter()
                .filter_map(move |s| s.error.as_ref().map(|e| (b, s, e)))
        })
    }

    pub fn rows_rejected(&self) -> u64 {
        self.bots
            .iter()
            .flat_map(|b| &b.streams)
            .map(|s| s.figures.rows_rejected)
            .sum()
    }
}

/// Errors that stop a run before any stream starts.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Lake(#[from] crate::lake::LakeError),
}

fn now_micros() -> i64 {
    crate::clock::now_micros()
}

/// Runs a sync of every configured bot.
pub async fn run(settings: &Settings, options: &SyncOptions) -> Result<RunOutcome, SyncError> {
    let started = Instant::now();
    let progress = Progress::new(options.progress);
    // A bad base URL is a configuration error: found before the warehouse is touched.
    for bot in &settings.bots {
        client_for(settings, bot)?;
    }
    if options.dry_run {
        return dry_run(settings, &progress, started).await;
    }
    if let Some(root) = &settings.parquet_dir {
        parquet::check_writable(root)?;
    }
    // Refused credentials or an unreachable lake: found before anything is written.
    if let Some(lake) = &settings.lake {
        crate::lake::preflight(lake).await?;
    }
    let warehouse = Warehouse::open(&settings.warehouse)?;
    let at_micros = now_micros();
    let closed = close_abandoned_runs(warehouse.conn(), at_micros)?;
    if closed > 0 {
        warn!(
            runs = closed,
            "an earlier run was interrupted; this run completes its work"
        );
    }
    if let Some(root) = &settings.parquet_dir {
        let removed = parquet::remove_leftovers(root)?;
        if removed > 0 {
            info!(
                files = removed,
                "removed temporary Parquet files left by an interrupted run"
            );
        }
        // Partitions left dirty by an interrupted run are rewritten by their stream below;
        // those of streams not selected now are rewritten here.
        for spec in catalog::ALL_TABLES {
            for bot in &settings.bots {
                parquet::rewrite_dirty(warehouse.conn(), root, spec, bot.bot_id as i64)?;
            }
        }
    }
    let bot_ids: Vec<i64> = settings.bots.iter().map(|b| b.bot_id as i64).collect();
    let run_id = start_run(warehouse.conn(), &bot_ids, at_micros)?;
    let run = RunStamp { run_id, at_micros };
    info!(run_id, bots = bot_ids.len(), "sync started");

    let mut bots = Vec::new();
    for bot in &settings.bots {
        let outcome = sync_bot(settings, options, &warehouse, bot, run, &progress).await?;
        bots.push(outcome);
    }
    // The lake output: after the warehouse and the Parquet mirror, one Delta commit per
    // table with owed partitions.
    if let Some(lake) = &settings.lake {
        crate::lake::publish(lake, warehouse.conn(), &bot_ids, run_id).await?;
    }
    let outcome = RunOutcome {
        run_id: Some(run_id),
        bots,
        dry_run: false,
        elapsed_secs: started.elapsed().as_secs_f64(),
        peak_rss_bytes: None,
    };
    Ok(outcome)
}

fn client_for(settings: &Settings, bot: &BotSettings) -> Result<ApiClient, ApiError> {
    ApiClient::new(settings.client_settings(bot))
}

fn classify(err: &ApiError) -> FailureKind {
    if err.is_auth() {
        FailureKind::Auth
    } else if err.is_unavailable() {
        FailureKind::Unavailable
    } else {
        FailureKind::Other
    }
}

/// What every stream of one bot's run shares.
#[derive(Clone, Copy)]
struct BotRun<'a> {
    settings: &'a Settings,
    options: &'a SyncOptions,
    warehouse: &'a Warehouse,
    bot_id: i64,
    run: RunStamp,
    progress: &'a Progress,
    /// `/revenue` answers the reconciliation and the exchange-rate capture share.
    revenue: &'a RevenueMemo,
    /// The bot's Parquet rewrite line, counted by every stream's loader.
    parquet: &'a Arc<PhaseLine>,
}

async fn sync_bot(
    settings: &Settings,
    options: &SyncOptions,
    warehouse: &Warehouse,
    bot: &BotSettings,
    run: RunStamp,
    progress: &Progress,
) -> Result<BotOutcome, SyncError> {
    let client = client_for(settings, bot)?;
    let bot_id = bot.bot_id as i64;
    let revenue = RevenueMemo::default();
    let parquet = Arc::new(progress.phase(bot.bot_id, Phase::ParquetRewrite));
    let ctx = BotRun {
        settings,
        options,
        warehouse,
        bot_id,
        run,
        progress,
        revenue: &revenue,
        parquet: &parquet,
    };
    // Dimensions first (plans, projects, coupons, payment methods), then the streams that
    // refer to them: the orders stream checks whether a plan it names was renamed.
    let (dimensions, facts): (Vec<StreamName>, Vec<StreamName>) =
        settings.streams.iter().partition(|s| s.is_dimension());
    let mut streams = Vec::new();
    let inputs = client.for_stream("report_inputs");
    // The preferred currency and the gateways need only the dimensions: they are read
    // while the facts load (a few round trips off every run's wall time).
    let mut first_inputs = None;
    for (facts_phase, phase) in [(false, dimensions), (true, facts)] {
        let tasks = phase.into_iter().map(|stream| {
            let client = client.for_stream(stream.as_str());
            async move {
                let result = sync_stream(&ctx, stream, client.clone()).await;
                let (figures, error) = match result {
                    Ok(figures) => (figures, None),
                    Err(failure) => {
                        let figures = StreamFigures {
                            status: "failed".into(),
                            requests: client.stats().requests(),
                            retries: client.stats().retries(),
                            error: Some(failure.message.clone()),
                            ..StreamFigures::default()
                        };
                        error!(bot_id, stream = %stream, "stream failed: {}", failure.message);
                        if let Err(e) = record_stream(
                            warehouse.conn(),
                            run.run_id,
                            bot_id,
                            stream.as_str(),
                            &figures,
                        ) {
                            warn!("could not record the failure of {stream}: {e}");
                        }
                        (figures, Some(failure))
                    }
                };
                StreamOutcome {
                    stream,
                    figures,
                    error,
                }
            }
        });
        let phase_done = futures::future::join_all(tasks);
        if facts_phase && settings.api_version == crate::api::ApiVersion::V1 {
            let first = first_report_inputs(settings, &inputs, warehouse.conn(), bot_id, run);
            let (done, first) = tokio::join!(phase_done, first);
            first_inputs = Some(first);
            streams.extend(done);
        } else {
            streams.extend(phase_done.await);
        }
        if streams.iter().any(|s| {
            s.error
                .as_ref()
                .is_some_and(|e| e.kind == FailureKind::Auth)
        }) {
            break;
        }
    }

    // Every stream's loader has rewritten its files by now.
    parquet.finish(true, "done");

    // Report inputs: only when the API answers and the bot's data is in.
    let mut warnings = Vec::new();
    let auth_failed = streams.iter().any(|s| {
        s.error
            .as_ref()
            .is_some_and(|e| e.kind == FailureKind::Auth)
    });
    if !auth_failed && settings.api_version == crate::api::ApiVersion::V1 {
        let conn = warehouse.conn();
        let steps = async {
            match first_inputs {
                Some(first) => first?,
                None => first_report_inputs(settings, &inputs, conn, bot_id, run).await?,
            }
            if settings.streams.contains(&StreamName::Orders) {
                let line = progress.phase(bot.bot_id, Phase::ExchangeRates);
                line.start();
                let rates = report_inputs::refresh_fx(
                    &inputs,
                    conn,
                    bot_id,
                    run.at_micros,
                    settings.fx_requests_in_flight(),
                    &revenue,
                )
                .await;
                match &rates {
                    Ok(n) => {
                        line.set(*n as u64);
                        line.finish(true, "done");
                    }
                    Err(_) => line.finish(false, "failed"),
                }
                rates?;
            }
            Ok::<(), report_inputs::InputsError>(())
        };
        if let Err(e) = steps.await {
            let message = redact(&format!("report inputs not refreshed: {e}"));
            warn!(bot_id, "{message}");
            warnings.push(message);
        }
    }

    let total = client.total_stats();
    let rejected: u64 = streams.iter().map(|s| s.figures.rows_rejected).sum();
    let failed: Vec<&StreamOutcome> = streams.iter().filter(|s| s.error.is_some()).collect();
    let status = if failed.len() == streams.len() && !streams.is_empty() {
        "failed"
    } else if !failed.is_empty() || rejected > 0 || !warnings.is_empty() {
        "partial"
    } else {
        "success"
    };
    let error_text = failed
        .iter()
        .filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| format!("{}: {}", s.stream, e.message))
        })
        .chain(warnings.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ");
    let refetch_not_found: u64 = streams.iter().map(|s| s.figures.refetch_not_found).sum();
    finish_run(
        warehouse.conn(),
        run.run_id,
        bot_id,
        &RunTotals {
            status,
            requests: total.requests(),
            retries: total.retries(),
            rows_rejected: rejected,
            refetch_not_found,
            error: (!error_text.is_empty()).then_some(error_text.as_str()),
        },
        now_micros(),
    )?;
    info!(
        bot_id,
        status,
        requests = total.requests(),
        retries = total.retries(),
        "bot synced"
    );
    Ok(BotOutcome {
        bot_id: bot.bot_id,
        streams,
        warnings,
    })
}

/// The report inputs that need no facts: the preferred currency, and the gateways.
async fn first_report_inputs(
    settings: &Settings,
    inputs: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    run: RunStamp,
) -> Result<(), report_inputs::InputsError> {
    report_inputs::refresh_preferred_currency(inputs, conn, bot_id, run.at_micros).await?;
    if settings.streams.contains(&StreamName::PaymentMethods)
        || settings.streams.contains(&StreamName::Orders)
    {
        report_inputs::refresh_gateways(inputs, conn, bot_id, run.at_micros).await?;
    }
    Ok(())
}

async fn sync_stream(
    bot: &BotRun<'_>,
    stream: StreamName,
    client: ApiClient,
) -> Result<StreamFigures, StreamFailure> {
    let previous =
        read_state(bot.warehouse.conn(), bot.bot_id, stream.as_str()).map_err(fail_load)?;
    let bar = bot.progress.stream(bot.bot_id as u64, stream.as_str());
    let Some(table) = stream.table() else {
        let result = users_count(bot.warehouse, bot.bot_id, bot.run, &client).await;
        if let Ok(figures) = &result {
            bar.set_rows(figures.rows_read);
        }
        bar.finish(result.is_ok());
        return result;
    };
    if table != TableStream::Orders {
        // What the warehouse holds is what a full scan should read again.
        bar.set_expected(
            live_rows(bot.warehouse.conn(), stream.as_str(), bot.bot_id).map_err(fail_load)?,
        );
    }
    let pass = Pass {
        bot,
        table,
        client: &client,
        bar: &bar,
    };
    let result = if table == TableStream::Orders {
        sync_orders(&pass, previous).await
    } else {
        pass.run(previous, None).await
    };
    bar.finish(result.is_ok());
    result
}

fn fail_load(e: LoadError) -> StreamFailure {
    StreamFailure {
        kind: FailureKind::Other,
        message: redact(&e.to_string()),
    }
}

/// One fetch-and-load pass over a stream.
struct Pass<'a> {
    bot: &'a BotRun<'a>,
    table: TableStream,
    client: &'a ApiClient,
    bar: &'a StreamBar,
}

impl Pass<'_> {
    async fn run(
        &self,
        previous: StreamState,
        orders: Option<OrdersPlan>,
    ) -> Result<StreamFigures, StreamFailure> {
        let conn = self.bot.warehouse.connect().map_err(fail_load)?;
        let bar = self.bar.clone();
        let ctx = LoaderCtx {
            conn,
            bot_id: self.bot.bot_id,
            run: self.bot.run,
            stream: self.table.name(),
            batch_rows: self.bot.settings.batch_rows,
            parquet_root: self.bot.settings.parquet_dir.clone(),
            strict: self.bot.options.strict,
            previous,
            client: self.client.clone(),
            on_rows: Box::new(move |rows| bar.set_rows(rows)),
            parquet_files: Arc::clone(self.bot.parquet),
        };
        let (tx, rx) = mpsc::channel::<LoaderMsg>(self.bot.settings.pages_ahead_of_loader());
        let pages = self.bot.settings.pages_in_flight;
        let rereads = self
            .bot
            .progress
            .phase(self.bot.bot_id as u64, Phase::PendingRereads);
        let fetch = async {
            match orders {
                Some(plan) => {
                    fetch_orders(
                        self.client,
                        catalog::ORDERS_FETCH,
                        pages,
                        plan,
                        tx,
                        &rereads,
                    )
                    .await
                }
                None => fetch_all(self.client, fetch_spec(self.table), pages, tx).await,
            }
        };
        let load = spawn_loader(self.table, ctx, rx);
        let (fetched, loaded) = tokio::join!(fetch, load);
        rereads.finish(
            fetched.is_ok(),
            if fetched.is_ok() { "done" } else { "failed" },
        );
        match (fetched, loaded) {
            (Err(api), _) => Err(StreamFailure {
                kind: classify(&api),
                message: redact(&api.to_string()),
            }),
            (Ok(()), Ok(Ok(figures))) => Ok(figures),
            (Ok(()), Ok(Err(LoaderError::StrictRejects { count, first }))) => Err(StreamFailure {
                kind: FailureKind::Rejected,
                message: redact(&format!(
                    "{count} rows could not be read and --strict is set (first: {first})"
                )),
            }),
            (Ok(()), Ok(Err(e))) => Err(StreamFailure {
                kind: FailureKind::Other,
                message: redact(&e.to_string()),
            }),
            (Ok(()), Err(join)) => Err(StreamFailure {
                kind: FailureKind::Other,
                message: format!("loader thread failed: {join}"),
            }),
        }
    }
}

/// Orders: an incremental pass, then a reconciliation of the older sales against the
/// API; if they differ (a refund, a deletion, a late completion) a full scan follows in
/// the same run, otherwise a budget of old PENDING orders is re-read by key in rotation.
/// A planned full scan is followed by a re-read of the budget the next incremental run
/// will re-read (see [`reread_after_full_scan`]).
async fn sync_orders(
    pass: &Pass<'_>,
    previous: StreamState,
) -> Result<StreamFigures, StreamFailure> {
    let plan = orders_plan(pass.bot, previous).map_err(fail_load)?;
    let cutoff = plan.cutoff;
    pass.bar
        .set_expected(expected_orders(pass.bot, &plan).map_err(fail_load)?);
    let figures = pass.run(previous, Some(plan)).await?;
    let Some(cutoff) = cutoff else {
        // A planned full scan (first run, every `full_scan_max_age`, --full-refresh).
        return reread_after_full_scan(pass, figures).await;
    };
    let conn = pass.bot.warehouse.conn();
    let line = pass
        .bot
        .progress
        .phase(pass.bot.bot_id as u64, Phase::Reconciliation);
    line.start();
    let checked =
        old_sales_differ(pass.client, conn, pass.bot.bot_id, cutoff, pass.bot.revenue).await;
    line.set(sales_before(conn, pass.bot.bot_id, cutoff));
    match &checked {
        Ok(None) => line.finish(true, "match"),
        Ok(Some(_)) => line.finish(true, "differ: full scan of orders"),
        Err(_) => line.finish(false, "failed"),
    }
    let differ = match checked {
        Ok(differ) => differ,
        // A warehouse that cannot be read is no evidence of a difference: the stream fails.
        Err(ReconcileError::Load(e)) => return Err(fail_load(e)),
        Err(ReconcileError::Api(e)) if e.is_auth() || e.is_unavailable() => {
            return Err(StreamFailure {
                kind: classify(&e),
                message: redact(&e.to_string()),
            });
        }
        Err(ReconcileError::Api(e)) => {
            warn!(
                "could not reconcile older orders: {}",
                redact(&e.to_string())
            );
            None
        }
    };
    let Some(difference) = differ else {
        // No old sale appeared or vanished (a late completion moves the count or the
        // revenue): only non-sale statuses of old PENDING orders can be stale. A budget
        // of them is re-read, in rotation, and the rotation moves on.
        return reread_pending(pass, figures, cutoff, Rotation::Advance).await;
    };
    info!(
        "sales before the lookback window differ from the API ({difference}): running a full scan of orders"
    );
    let previous =
        read_state(conn, pass.bot.bot_id, StreamName::Orders.as_str()).map_err(fail_load)?;
    let full = OrdersPlan {
        full_scan: true,
        cutoff: None,
        pending_keys: Vec::new(),
        expected_pages: None,
        list: true,
    };
    pass.bar.restart(
        live_rows(conn, StreamName::Orders.as_str(), pass.bot.bot_id)
            .ok()
            .filter(|&n| n > 0),
    );
    let second = pass.run(previous, Some(full)).await?;
    let figures = add_pass(pass, figures, second)?;
    reread_after_full_scan(pass, figures).await
}

/// Whether a re-read of old PENDING orders moves the rotation on (`_pending_checks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rotation {
    /// After an incremental pass whose reconciliation found no difference: the orders
    /// re-read are recorded, so the next run re-reads the next budget.
    Advance,
    /// After a full scan: those of the same orders with no stored email are re-read,
    /// and nothing is recorded.
    Peek,
}

/// After a full scan (planned, or brought by a difference in the older sales): of the
/// budget of old PENDING orders (before the newest order less the lookback) that the next
/// incremental run will re-read, those with no `member_email` yet are re-read by key now,
/// without moving the rotation on. The scan has just read every status from the list;
/// `/orders/{order_key}` alone carries `member_email` (later list reads keep it), so only
/// an unknown email is worth a request. Choosing from what the next incremental run
/// re-reads keeps the warehouse independent of the kind of run: a full run equals a full
/// run followed by a quiet incremental one (which re-reads the same orders and finds
/// nothing new), and a killed full run completed by an incremental one equals one full
/// run; a full scan after one that already fetched those emails re-reads nothing.
async fn reread_after_full_scan(
    pass: &Pass<'_>,
    figures: StreamFigures,
) -> Result<StreamFigures, StreamFailure> {
    let conn = pass.bot.warehouse.conn();
    let state =
        read_state(conn, pass.bot.bot_id, StreamName::Orders.as_str()).map_err(fail_load)?;
    let Some(newest) = state.high_water_mark else {
        return Ok(figures);
    };
    let cutoff = newest - pass.bot.settings.orders.lookback.as_secs() as i64;
    reread_pending(pass, figures, cutoff, Rotation::Peek).await
}

/// Re-reads by key, in a pass with no `/orders` pages, the budget of old PENDING orders
/// (before `cutoff`) that [`pending_due`] names, and adds that pass to `figures`.
async fn reread_pending(
    pass: &Pass<'_>,
    figures: StreamFigures,
    cutoff: i64,
    rotation: Rotation,
) -> Result<StreamFigures, StreamFailure> {
    let conn = pass.bot.warehouse.conn();
    let budget = pass.bot.settings.orders.pending_refetch_limit;
    let only_without_email = rotation == Rotation::Peek;
    let keys = pending_due(conn, pass.bot.bot_id, cutoff, budget, only_without_email)
        .map_err(fail_load)?;
    if keys.is_empty() {
        return Ok(figures);
    }
    let previous =
        read_state(conn, pass.bot.bot_id, StreamName::Orders.as_str()).map_err(fail_load)?;
    let reread = OrdersPlan {
        full_scan: false,
        cutoff: Some(cutoff),
        pending_keys: keys.clone(),
        expected_pages: Some(0),
        list: false,
    };
    let second = pass.run(previous, Some(reread)).await?;
    if rotation == Rotation::Advance {
        record_pending_checks(conn, pass.bot.bot_id, &keys, pass.bot.run.at_micros)
            .map_err(fail_load)?;
    }
    add_pass(pass, figures, second)
}

/// The orders stream's figures over its two passes in this run, recorded.
fn add_pass(
    pass: &Pass<'_>,
    mut figures: StreamFigures,
    second: StreamFigures,
) -> Result<StreamFigures, StreamFailure> {
    figures.rows_read += second.rows_read;
    figures.rows_written += second.rows_written;
    figures.rows_deleted += second.rows_deleted;
    figures.rows_rejected += second.rows_rejected;
    figures.refetch_not_found += second.refetch_not_found;
    figures.requests = second.requests;
    figures.retries = second.retries;
    figures.status = second.status;
    record_stream(
        pass.bot.warehouse.conn(),
        pass.bot.run.run_id,
        pass.bot.bot_id,
        "orders",
        &figures,
    )
    .map_err(fail_load)?;
    Ok(figures)
}

/// The orders the pass of `plan` is expected to read: the whole table on a full scan;
/// otherwise the pages up to the first one wholly past the lookback window.
fn expected_orders(bot: &BotRun<'_>, plan: &OrdersPlan) -> Result<u64, LoadError> {
    match plan.expected_pages {
        Some(pages) if !plan.full_scan => {
            let limit = catalog::ORDERS_FETCH.page_limit.unwrap_or(100);
            let stride = crate::api::pager::stride(limit);
            Ok(pages.saturating_sub(1) * stride + u64::from(limit))
        }
        _ => live_rows(
            bot.warehouse.conn(),
            StreamName::Orders.as_str(),
            bot.bot_id,
        ),
    }
}

/// The sales before `cutoff` that the reconciliation compared (its line's count; a
/// failed count shows as 0 rather than stopping the run).
fn sales_before(conn: &Connection, bot_id: i64, cutoff: i64) -> u64 {
    conn.query_row(
        "SELECT count(*) FROM orders WHERE bot_id = ? AND _deleted_at IS NULL \
         AND order_status = 'COMPLETED' AND order_date < to_timestamp(?)",
        duckdb::params![bot_id, cutoff],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as u64)
    .unwrap_or(0)
}

fn fetch_spec(table: TableStream) -> FetchSpec {
    match table {
        TableStream::Orders => catalog::ORDERS_FETCH,
        TableStream::Members => catalog::MEMBERS_FETCH,
        TableStream::Plans => catalog::PLANS_FETCH,
        TableStream::Projects => catalog::PROJECTS_FETCH,
        TableStream::Coupons => catalog::COUPONS_FETCH,
        TableStream::PaymentMethods => catalog::PAYMENT_METHODS_FETCH,
    }
}

fn spawn_loader(
    table: TableStream,
    ctx: LoaderCtx,
    rx: mpsc::Receiver<LoaderMsg>,
) -> tokio::task::JoinHandle<Result<StreamFigures, LoaderError>> {
    fn go<R: StagedRow>(
        ctx: LoaderCtx,
        rx: mpsc::Receiver<LoaderMsg>,
    ) -> tokio::task::JoinHandle<Result<StreamFigures, LoaderError>> {
        tokio::task::spawn_blocking(move || load_stream::<R>(ctx, rx))
    }
    match table {
        TableStream::Orders => go::<Order>(ctx, rx),
        TableStream::Members => go::<Membership>(ctx, rx),
        TableStream::Plans => go::<Plan>(ctx, rx),
        TableStream::Projects => go::<Project>(ctx, rx),
        TableStream::Coupons => go::<Coupon>(ctx, rx),
        TableStream::PaymentMethods => go::<PaymentMethod>(ctx, rx),
    }
}

/// Decides between a full scan and an incremental read of orders.
fn orders_plan(bot: &BotRun<'_>, previous: StreamState) -> Result<OrdersPlan, LoadError> {
    let BotRun {
        settings,
        options,
        warehouse,
        bot_id,
        run,
        ..
    } = *bot;
    let full = OrdersPlan {
        full_scan: true,
        cutoff: None,
        pending_keys: Vec::new(),
        expected_pages: None,
        list: true,
    };
    let max_age_micros = settings.orders.full_scan_max_age.as_micros() as i64;
    let due = match previous.last_full_scan_micros {
        None => true,
        Some(last) => run.at_micros - last >= max_age_micros,
    };
    let Some(hwm) = previous
        .high_water_mark
        .filter(|_| !options.full_refresh && !due)
    else {
        return Ok(full);
    };
    let conn = warehouse.conn();
    // A plan renamed in this run while orders still carry its old name: the API now
    // lists those orders under the new name, so read them all again.
    let renamed: i64 = conn
        .query_row(
            "SELECT count(*) FROM plans p WHERE p.bot_id = ? AND p._run_id = ? AND p._deleted_at IS NULL              AND EXISTS (SELECT 1 FROM orders o WHERE o.bot_id = p.bot_id AND o.plan_id = p.plan_id                          AND o._deleted_at IS NULL AND o.plan_name IS DISTINCT FROM p.plan_name)",
            duckdb::params![bot_id, run.run_id],
            |r| r.get(0),
        )
        .during(|| "checking for renamed plans".into())?;
    if renamed > 0 {
        info!(
            plans = renamed,
            "plans were renamed: orders get a full scan"
        );
        return Ok(full);
    }
    let cutoff = hwm - settings.orders.lookback.as_secs() as i64;
    let in_window: i64 = conn
        .query_row(
            "SELECT count(*) FROM orders WHERE bot_id = ? AND order_date >= to_timestamp(?)",
            duckdb::params![bot_id, cutoff],
            |r| r.get(0),
        )
        .during(|| "counting orders in the lookback window".into())?;
    let limit = catalog::ORDERS_FETCH.page_limit.unwrap_or(100);
    // Old PENDING orders are re-read after the reconciliation, not here (see
    // `sync_orders`).
    Ok(OrdersPlan {
        full_scan: false,
        cutoff: Some(cutoff),
        pending_keys: Vec::new(),
        expected_pages: Some(crate::api::pager::pages_to_pass(
            in_window.max(0) as u64,
            limit,
        )),
        list: true,
    })
}

/// The old PENDING orders (before `cutoff`) to re-read this run: `budget` of them, least
/// recently re-read first (never re-read counts as oldest), newest orders first among
/// equals, then the larger key. Each incremental run moves the ones it re-read to the
/// back, so every old PENDING order is re-read within ⌈old PENDING orders / budget⌉ runs;
/// after a full scan, those of the same budget with no stored email are re-read without
/// moving them (`only_without_email`; see [`reread_after_full_scan`]).
fn pending_due(
    conn: &Connection,
    bot_id: i64,
    cutoff: i64,
    budget: usize,
    only_without_email: bool,
) -> Result<Vec<String>, LoadError> {
    let context = || "listing pending orders to re-read".to_string();
    let mut stmt = conn
        .prepare(
            "SELECT order_key FROM ( \
               SELECT o.order_key, o.member_email FROM orders o LEFT JOIN _pending_checks c \
                 ON c.bot_id = o.bot_id AND c.order_key = o.order_key \
               WHERE o.bot_id = ? AND o.order_status = 'PENDING' AND o._deleted_at IS NULL \
                 AND o.order_date < to_timestamp(?) \
               ORDER BY c.checked_at ASC NULLS FIRST, o.order_date DESC, o.order_key DESC LIMIT ?) \
             WHERE NOT ? OR member_email IS NULL",
        )
        .during(context)?;
    let rows = stmt
        .query_map(
            duckdb::params![bot_id, cutoff, budget as i64, only_without_email],
            |r| r.get::<_, String>(0),
        )
        .during(context)?;
    rows.collect::<Result<Vec<_>, _>>().during(context)
}

/// Marks `keys` as re-read by this run.
fn record_pending_checks(
    conn: &Connection,
    bot_id: i64,
    keys: &[String],
    at_micros: i64,
) -> Result<(), LoadError> {
    let context = || "recording re-read pending orders".to_string();
    conn.execute_batch("BEGIN TRANSACTION").during(context)?;
    let result = (|| -> Result<(), LoadError> {
        let mut stmt = conn
            .prepare(&format!(
                "INSERT OR REPLACE INTO _pending_checks (bot_id, order_key, checked_at) \
                 VALUES (?, ?, {RUN_TS})"
            ))
            .during(context)?;
        for key in keys {
            stmt.execute(duckdb::params![bot_id, key, at_micros])
                .during(context)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").during(context),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// `/users/count`: one snapshot row per run, with the stream's state and figures.
async fn users_count(
    warehouse: &Warehouse,
    bot_id: i64,
    run: RunStamp,
    client: &ApiClient,
) -> Result<StreamFigures, StreamFailure> {
    let value = client
        .get(&Method::UsersCount, &[])
        .await
        .map_err(|e| StreamFailure {
            kind: classify(&e),
            message: redact(&e.to_string()),
        })?;
    let counts = UsersCount::from_json(value).map_err(|e| StreamFailure {
        kind: FailureKind::Other,
        message: format!(
            "{} returned an unreadable result: {e}",
            Method::UsersCount.label()
        ),
    })?;
    let conn = warehouse.conn();
    let store = || -> Result<StreamFigures, LoadError> {
        conn.execute_batch("BEGIN TRANSACTION")
            .during(|| "starting the users_count transaction".into())?;
        let result = (|| {
            conn.execute(
                &format!(
                    "INSERT OR REPLACE INTO users_count_history (bot_id, run_id, captured_at, users, leads, churned, members, _extra) \
                     VALUES (?, ?, {RUN_TS}, ?, ?, ?, ?, ?)"
                ),
                duckdb::params![bot_id, run.run_id, run.at_micros, counts.users, counts.leads, counts.churned, counts.members, counts.extra],
            )
            .during(|| "recording the users count".into())?;
            write_state(
                conn,
                bot_id,
                "users_count",
                StreamState {
                    high_water_mark: None,
                    last_full_scan_micros: Some(run.at_micros),
                },
                run.run_id,
                run.at_micros,
            )?;
            let figures = StreamFigures {
                status: "success".into(),
                rows_read: 1,
                rows_written: 1,
                requests: client.stats().requests(),
                retries: client.stats().retries(),
                ..StreamFigures::default()
            };
            record_stream(conn, run.run_id, bot_id, "users_count", &figures)?;
            Ok(figures)
        })();
        match result {
            Ok(f) => {
                conn.execute_batch("COMMIT")
                    .during(|| "committing users_count".into())?;
                Ok(f)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    };
    tokio::task::block_in_place(store).map_err(|e| StreamFailure {
        kind: FailureKind::Other,
        message: redact(&e.to_string()),
    })
}

/// `--dry-run`: fetch and read every row, count, write nothing.
async fn dry_run(
    settings: &Settings,
    progress: &Progress,
    started: Instant,
) -> Result<RunOutcome, SyncError> {
    let mut bots = Vec::new();
    for bot in &settings.bots {
        let client = client_for(settings, bot)?;
        let mut streams = Vec::new();
        for &stream in &settings.streams {
            let client = client.for_stream(stream.as_str());
            let bar = progress.stream(bot.bot_id, &format!("{stream} (dry run)"));
            let rereads = progress.phase(bot.bot_id, Phase::PendingRereads);
            let (tx, mut rx) = mpsc::channel::<LoaderMsg>(settings.pages_ahead_of_loader());
            let fetch = async {
                match stream.table() {
                    None => {
                        let v = client.get(&Method::UsersCount, &[]).await?;
                        let _ = tx.send(LoaderMsg::Page(vec![v])).await;
                        let _ = tx.send(LoaderMsg::Done(Default::default())).await;
                        Ok(())
                    }
                    Some(TableStream::Orders) => {
                        let plan = OrdersPlan {
                            full_scan: true,
                            cutoff: None,
                            pending_keys: Vec::new(),
                            expected_pages: None,
                            list: true,
                        };
                        fetch_orders(
                            &client,
                            catalog::ORDERS_FETCH,
                            settings.pages_in_flight,
                            plan,
                            tx,
                            &rereads,
                        )
                        .await
                    }
                    Some(table) => {
                        fetch_all(&client, fetch_spec(table), settings.pages_in_flight, tx).await
                    }
                }
            };
            let count = async {
                let mut figures = StreamFigures::default();
                while let Some(msg) = rx.recv().await {
                    match msg {
                        LoaderMsg::Page(rows) | LoaderMsg::Refetched { rows, .. } => {
                            for row in rows {
                                figures.rows_read += 1;
                                if !row_parses(stream, row) {
                                    figures.rows_rejected += 1;
                                }
                            }
                            bar.set_rows(figures.rows_read);
                        }
                        LoaderMsg::Done(_) => break,
                    }
                }
                figures
            };
            let (fetched, mut figures) = tokio::join!(fetch, count);
            figures.requests = client.stats().requests();
            figures.retries = client.stats().retries();
            let error = fetched.err().map(|e| StreamFailure {
                kind: classify(&e),
                message: redact(&e.to_string()),
            });
            figures.status = if error.is_some() { "failed" } else { "dry-run" }.into();
            bar.finish(error.is_none());
            streams.push(StreamOutcome {
                stream,
                figures,
                error,
            });
        }
        bots.push(BotOutcome {
            bot_id: bot.bot_id,
            streams,
            warnings: Vec::new(),
        });
    }
    Ok(RunOutcome {
        run_id: None,
        bots,
        dry_run: true,
        elapsed_secs: started.elapsed().as_secs_f64(),
        peak_rss_bytes: None,
    })
}

fn row_parses(stream: StreamName, row: serde_json::Value) -> bool {
    match stream.table() {
        Some(TableStream::Orders) => Order::from_json(row).is_ok(),
        Some(TableStream::Members) => Membership::from_json(row).is_ok(),
        Some(TableStream::Plans) => Plan::from_json(row).is_ok(),
        Some(TableStream::Projects) => Project::from_json(row).is_ok(),
        Some(TableStream::Coupons) => Coupon::from_json(row).is_ok(),
        Some(TableStream::PaymentMethods) => PaymentMethod::from_json(row).is_ok(),
        None => UsersCount::from_json(row).is_ok(),
    }
}
