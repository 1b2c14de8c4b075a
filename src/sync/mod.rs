//! One sync run: every configured bot, every selected stream.
//!
//! Bots run concurrently, `bots_in_flight` at a time, each to its own verdict
//! ([`bots`]). Per bot, the dimensions run first, then the facts; within each group the streams run
//! concurrently, each as one or more passes ([`pass`]) whose rows, state and figures
//! commit in one transaction, so a run killed at any point leaves every stream either as
//! before or fully synced, and the next run completes the rest. Orders have their own
//! strategy ([`orders`]). After the streams, the Parquet mirror is complete and the
//! report inputs (gateways, preferred currency, exchange rates) are refreshed, while
//! (with a lake configured) the bot's owed lake files are built and uploaded. Once every
//! bot is done, the run commits them, one commit per table, still holding the warehouse. A dry run makes the same passes into a sink that only counts.

pub mod bots;
pub mod fx_prefetch;
pub mod fx_rate;
pub mod fx_windows;
pub mod loader;
mod orders;
pub mod pair_rate;
mod pass;
pub mod reconcile;
pub mod report_inputs;
pub mod revenue_memo;

use std::sync::Arc;
use std::time::Instant;

use duckdb::Connection;
use tracing::{error, info, warn};

use crate::api::ApiClient;
use crate::config::{BotSettings, Settings};
use crate::error::Error;
use crate::lake::{LakeError, LakeOutcome};
use crate::load::state::{
    RunStamp, RunStatus, RunTotals, StreamFigures, StreamState, StreamStatus, close_abandoned_runs,
    finish_run, live_rows, read_state, record_stream, start_run,
};
use crate::load::{Warehouse, parquet};
use crate::progress::{Phase, PhaseLine, Progress};
use crate::secret::redact;
use crate::streams::orders::OrdersPlan;
use crate::streams::{Strategy, StreamName, mirrored_tables};

use pass::{BotRun, Pass, Target, load_failure};
use revenue_memo::RevenueMemo;

/// Choices of one invocation of `tgm-sync sync`.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    pub full_refresh: bool,
    pub dry_run: bool,
    pub strict: bool,
    pub progress: bool,
    /// Soft deletes past `max_delete_share` (or after an empty answer) are carried out
    /// in this run: the user says they are real.
    pub allow_large_deletes: bool,
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
    /// The run's deadline passed before the stream was read.
    Deadline,
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

impl BotOutcome {
    fn auth_failed(&self) -> bool {
        auth_failed(&self.streams)
    }
}

fn auth_failed(streams: &[StreamOutcome]) -> bool {
    streams.iter().any(|s| {
        s.error
            .as_ref()
            .is_some_and(|e| e.kind == FailureKind::Auth)
    })
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
    /// The lake output of this run, when a lake is configured (never in a dry run).
    pub lake: Option<LakeReport>,
}

/// What the lake output did after the bots had synced.
#[derive(Debug, Clone)]
pub enum LakeReport {
    Published(LakeOutcome),
    /// The failed table (or the first of them) was not committed and its marks stay owed
    /// to the next run; the tables that committed are settled. Shared, so that the outcome
    /// stays cloneable.
    Failed(Arc<LakeError>),
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

/// Runs a sync of every configured bot (errors: those that stop a run before any stream
/// starts).
pub async fn run(settings: &Settings, options: &SyncOptions) -> Result<RunOutcome, Error> {
    let started = Instant::now();
    // Past the deadline no request starts: every stream ends at once, and the run is
    // recorded and the warehouse released as after any other failure.
    let deadline = settings
        .run_deadline
        .map(|d| tokio::time::Instant::now() + d);
    let progress = Progress::new(options.progress);
    // A bad base URL is a configuration error: found before the warehouse is touched.
    for bot in &settings.bots {
        client_for(settings, bot, deadline)?;
    }
    if options.dry_run {
        let bots = bots::for_each_bot(&settings.bots, settings.bots_in_flight, |bot| {
            sync_bot(
                settings,
                options,
                Target::DryRun,
                bot,
                &progress,
                deadline,
                None,
            )
        })
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        return Ok(RunOutcome {
            run_id: None,
            bots,
            dry_run: true,
            elapsed_secs: started.elapsed().as_secs_f64(),
            peak_rss_bytes: None,
            lake: None,
        });
    }
    if let Some(root) = &settings.parquet_dir {
        parquet::check_writable(root)?;
    }
    let warehouse = Warehouse::open_with(&settings.warehouse, &settings.storage_version)?;
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
        for spec in mirrored_tables() {
            for bot in &settings.bots {
                parquet::rewrite_dirty(warehouse.conn(), root, spec, bot.bot_id as i64)?;
            }
        }
    }
    let bot_ids: Vec<i64> = settings.bots.iter().map(|b| b.bot_id as i64).collect();
    let run_id = start_run(warehouse.conn(), &bot_ids, at_micros)?;
    let run = RunStamp { run_id, at_micros };
    info!(run_id, bots = bot_ids.len(), "sync started");

    let target = Target::Warehouse {
        warehouse: &warehouse,
        run,
    };
    // Each bot's lake files are uploaded as soon as its streams are in.
    let lake_run = settings
        .lake
        .as_ref()
        .map(|lake| crate::lake::LakeRun::new(lake, run_id));
    // Every bot runs to its end, whatever the others do; a bot that could not record its
    // end (a warehouse error) fails the run once all have finished.
    let bots = bots::for_each_bot(&settings.bots, settings.bots_in_flight, |bot| {
        sync_bot(
            settings,
            options,
            target,
            bot,
            &progress,
            deadline,
            lake_run.as_ref(),
        )
    })
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    if let Some(root) = &settings.parquet_dir {
        for table in parquet::HISTORY_TABLES {
            for bot_id in &bot_ids {
                parquet::rewrite_history(warehouse.conn(), root, table, *bot_id)?;
            }
        }
    }
    // The lake after the warehouse and the mirror, on the same open warehouse: no other
    // process can take it between the sync and the publication.
    // Past the deadline, the lake stays owed to the next run.
    let deadline_passed = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
    let lake = match lake_run.as_ref().filter(|_| !deadline_passed) {
        Some(lake) => Some(match lake.publish(warehouse.conn(), &bot_ids).await {
            Ok(published) => LakeReport::Published(published),
            Err(e) => {
                error!(error = %e, "the lake output failed; its partitions stay owed");
                LakeReport::Failed(Arc::new(e))
            }
        }),
        None => None,
    };
    Ok(RunOutcome {
        run_id: Some(run_id),
        bots,
        dry_run: false,
        elapsed_secs: started.elapsed().as_secs_f64(),
        peak_rss_bytes: None,
        lake,
    })
}

fn now_micros() -> i64 {
    crate::clock::now_micros()
}

fn client_for(
    settings: &Settings,
    bot: &BotSettings,
    deadline: Option<tokio::time::Instant>,
) -> Result<ApiClient, crate::api::ApiError> {
    ApiClient::new(crate::api::ClientSettings {
        deadline,
        ..settings.client_settings(bot)
    })
}

/// One bot's run into `target`: its streams, then (into the warehouse) the report inputs
/// and the bot's run record.
async fn sync_bot(
    settings: &Settings,
    options: &SyncOptions,
    target: Target<'_>,
    bot: &BotSettings,
    progress: &Progress,
    deadline: Option<tokio::time::Instant>,
    lake: Option<&crate::lake::LakeRun<'_>>,
) -> Result<BotOutcome, Error> {
    let client = client_for(settings, bot, deadline)?;
    let bot_id = bot.bot_id as i64;
    let revenue = RevenueMemo::default();
    let parquet = Arc::new(progress.phase(bot.bot_id, Phase::ParquetRewrite));
    let ctx = BotRun {
        settings,
        options,
        target,
        bot_id,
        progress,
        revenue: &revenue,
        parquet: &parquet,
    };
    let inputs = client.for_stream("report_inputs");
    let warehouse = match target {
        Target::Warehouse { warehouse, run } => Some((warehouse.conn(), run)),
        Target::DryRun => None,
    };
    let report_inputs = warehouse.filter(|_| settings.api_version == crate::api::ApiVersion::V1);
    // Dimensions first (plans, projects, coupons, payment methods), then the streams that
    // refer to them: the orders stream checks whether a plan it names was renamed.
    let (dimensions, facts): (Vec<StreamName>, Vec<StreamName>) =
        settings.streams.iter().partition(|s| s.is_dimension());
    let mut streams = Vec::new();
    // The preferred currency and the gateways need only the dimensions: they are read
    // while the facts load (a few round trips off every run's wall time).
    let mut first_inputs = None;
    for (facts_phase, phase) in [(false, dimensions), (true, facts)] {
        let tasks = phase
            .into_iter()
            .map(|stream| run_stream(&ctx, stream, client.for_stream(stream.as_str())));
        let phase_done = futures::future::join_all(tasks);
        match report_inputs.filter(|_| facts_phase) {
            Some((conn, run)) => {
                let first = first_report_inputs(settings, &inputs, conn, bot_id, run);
                // Exchange rates off the windows the warehouse already has (see fx_prefetch).
                let early =
                    fx_prefetch::read_early_in_run(settings, &inputs, conn, bot_id, &revenue);
                let (done, first, _) = tokio::join!(phase_done, first, early);
                first_inputs = Some(first);
                streams.extend(done);
            }
            None => streams.extend(phase_done.await),
        }
        if auth_failed(&streams) {
            break;
        }
    }
    publish_mirror(&ctx);

    let mut outcome = BotOutcome {
        bot_id: bot.bot_id,
        streams,
        warnings: Vec::new(),
    };
    let Some((conn, run)) = warehouse else {
        return Ok(outcome);
    };
    // The bot's lake files go up while its report inputs are read (and the other bots
    // sync); the commits come once every bot is done.
    let staging = async {
        let past_deadline = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        if let Some(lake) = lake.filter(|_| !past_deadline) {
            lake.stage_bot(conn, bot_id).await;
        }
    };
    let inputs_done = async {
        // Report inputs: only when the API answers and the bot's data is in.
        if let Some((conn, run)) = report_inputs.filter(|_| !outcome.auth_failed()) {
            let steps = async {
                let warning = match first_inputs {
                    Some(first) => first?,
                    None => first_report_inputs(settings, &inputs, conn, bot_id, run).await?,
                };
                if settings.streams.contains(&StreamName::Orders) {
                    refresh_rates(&ctx, &inputs, conn, run).await?;
                }
                Ok::<Option<String>, Error>(warning)
            };
            match steps.await {
                Ok(None) => {}
                Ok(Some(warning)) => {
                    warn!(bot_id, "{warning}");
                    outcome.warnings.push(warning);
                }
                Err(e) => {
                    let message = redact(&format!("report inputs not refreshed: {e}"));
                    warn!(bot_id, "{message}");
                    outcome.warnings.push(message);
                }
            }
        }
    };
    tokio::join!(staging, inputs_done);
    record_bot_run(conn, run, bot_id, &client, &outcome)?;
    Ok(outcome)
}

/// One stream of one bot's run, its failure recorded (outside the stream's transaction,
/// which rolled back).
async fn run_stream(bot: &BotRun<'_>, stream: StreamName, client: ApiClient) -> StreamOutcome {
    let result = sync_stream(bot, stream, &client).await;
    let (figures, error) = match result {
        Ok(figures) => (figures, None),
        Err(failure) => {
            let figures = StreamFigures {
                status: StreamStatus::Failed,
                requests: client.stats().requests(),
                retries: client.stats().retries(),
                error: Some(failure.message.clone()),
                ..StreamFigures::default()
            };
            error!(bot_id = bot.bot_id, stream = %stream, "stream failed: {}", failure.message);
            if let Target::Warehouse { warehouse, run } = bot.target
                && let Err(e) = record_stream(
                    warehouse.conn(),
                    run.run_id,
                    bot.bot_id,
                    stream.as_str(),
                    &figures,
                )
            {
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

/// Runs the passes the stream's strategy calls for.
async fn sync_stream(
    bot: &BotRun<'_>,
    stream: StreamName,
    client: &ApiClient,
) -> Result<StreamFigures, StreamFailure> {
    let def = stream.def();
    let label = match bot.target {
        Target::DryRun => format!("{stream} (dry run)"),
        Target::Warehouse { .. } => stream.to_string(),
    };
    let bar = bot.progress.stream(bot.bot_id as u64, &label);
    let limit = match def.answer {
        crate::streams::Answer::Paged { limit } => limit,
        _ => 1,
    };
    let live = match (bot.target, def.strategy) {
        (_, Strategy::Snapshot) | (Target::DryRun, _) => 0,
        (Target::Warehouse { warehouse, .. }, _) => {
            live_rows(warehouse.conn(), def.table.name, bot.bot_id).map_err(load_failure)?
        }
    };
    let pass = Pass {
        bot,
        def,
        client,
        bar: &bar,
        max_pages: bot.settings.page_cap.pages(live, limit),
    };
    let result = match bot.target {
        // Everything, counted: orders too are read whole.
        Target::DryRun => {
            let orders = (def.strategy == Strategy::NewestFirst).then(OrdersPlan::full_scan);
            pass.run(StreamState::default(), orders).await
        }
        Target::Warehouse { warehouse, run } => {
            let conn = warehouse.conn();
            let previous = read_state(conn, bot.bot_id, stream.as_str()).map_err(load_failure)?;
            match def.strategy {
                Strategy::NewestFirst => orders::sync(&pass, warehouse, run, previous).await,
                Strategy::FullScan => {
                    // What the warehouse holds is what a full scan should read again.
                    bar.set_expected(live);
                    pass.run(previous, None).await
                }
                Strategy::Snapshot => pass.run(previous, None).await,
            }
        }
    };
    bar.finish(result.is_ok());
    result
}

/// The bot's streams are committed, and each stream's loader has rewritten its dirty
/// Parquet partitions as it committed: the bot's mirror is complete here.
fn publish_mirror(bot: &BotRun<'_>) {
    bot.parquet.finish(true, "done");
}

/// The report inputs that need no facts: the preferred currency, and the gateways.
/// Returns a warning when some of the gateway report's rows could not be read.
async fn first_report_inputs(
    settings: &Settings,
    inputs: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    run: RunStamp,
) -> Result<Option<String>, Error> {
    report_inputs::refresh_preferred_currency(inputs, conn, bot_id, run.at_micros).await?;
    if settings.streams.contains(&StreamName::PaymentMethods)
        || settings.streams.contains(&StreamName::Orders)
    {
        let rejected = report_inputs::refresh_gateways(inputs, conn, bot_id, run).await?;
        if rejected > 0 {
            return Ok(Some(format!(
                "{rejected} /paymentMethods/report rows could not be read (kept in _rejected, \
                 stream {}); their gateways are missing from the reports",
                report_inputs::REPORT_INPUTS
            )));
        }
    }
    Ok(None)
}

/// Today's exchange rates, on their own progress line.
async fn refresh_rates(
    bot: &BotRun<'_>,
    inputs: &ApiClient,
    conn: &Connection,
    run: RunStamp,
) -> Result<(), Error> {
    let line: PhaseLine = bot.progress.phase(bot.bot_id as u64, Phase::ExchangeRates);
    line.start();
    let rates = report_inputs::refresh_fx(
        inputs,
        conn,
        bot.bot_id,
        run.at_micros,
        bot.settings.fx_requests_in_flight(),
        bot.revenue,
    )
    .await;
    match &rates {
        Ok(n) => {
            line.set(*n as u64);
            line.finish(true, "done");
        }
        Err(_) => line.finish(false, "failed"),
    }
    rates.map(drop)
}

/// The bot's `_sync_runs` row: how its run ended.
fn record_bot_run(
    conn: &Connection,
    run: RunStamp,
    bot_id: i64,
    client: &ApiClient,
    outcome: &BotOutcome,
) -> Result<(), Error> {
    let streams = &outcome.streams;
    let total = client.total_stats();
    let rejected: u64 = streams.iter().map(|s| s.figures.rows_rejected).sum();
    let failed: Vec<&StreamOutcome> = streams.iter().filter(|s| s.error.is_some()).collect();
    let refused = streams.iter().filter_map(|s| {
        s.figures
            .deletes_refused
            .as_ref()
            .map(|line| format!("{}: {line}", s.stream))
    });
    let refused: Vec<String> = refused.collect();
    let status = if failed.len() == streams.len() && !streams.is_empty() {
        RunStatus::Failed
    } else if !failed.is_empty()
        || rejected > 0
        || !outcome.warnings.is_empty()
        || !refused.is_empty()
    {
        RunStatus::Partial
    } else {
        RunStatus::Success
    };
    let verdict = bots::BotVerdict::of(outcome);
    // `API key refused (exit 4): plans: ...`: `status` shows why, with the exit code.
    let error_text = verdict.error_prefix().unwrap_or_default()
        + &failed
            .iter()
            .filter_map(|s| {
                s.error
                    .as_ref()
                    .map(|e| format!("{}: {}", s.stream, e.message))
            })
            .chain(refused)
            .chain(outcome.warnings.iter().cloned())
            .collect::<Vec<_>>()
            .join("; ");
    finish_run(
        conn,
        &RunTotals {
            run_id: run.run_id,
            bot_id,
            status,
            requests: total.requests(),
            retries: total.retries(),
            rows_rejected: rejected,
            refetch_not_found: streams.iter().map(|s| s.figures.refetch_not_found).sum(),
            error: (!error_text.is_empty()).then_some(error_text.as_str()),
            finished_micros: now_micros(),
        },
    )?;
    info!(
        bot_id,
        status = status.as_str(),
        verdict = verdict.label(),
        requests = total.requests(),
        retries = total.retries(),
        "bot finished"
    );
    Ok(())
}
