//! One bot's run: its dimension streams, then its fact streams (the report inputs that
//! need no facts read meanwhile), its Parquet mirror, its lake files staged (built and
//! uploaded, committed after every bot), the rest of its report inputs (gateways,
//! preferred currency, exchange rates) and its run record.

use std::sync::Arc;

use duckdb::Connection;
use tracing::warn;

use super::pass::{BotRun, Target};
use super::record::record_bot_run;
use super::stream::run_stream;
use super::{BotOutcome, StreamOutcome, SyncOptions, auth_failed, client_for};
use crate::api::ApiClient;
use crate::bot_id::BotId;
use crate::config::{BotSettings, Settings};
use crate::error::Error;
use crate::fx::memo::RevenueMemo;
use crate::progress::{Phase, PhaseLine, Progress};
use crate::secret::redact;
use crate::streams::StreamName;
use crate::warehouse::state::RunStamp;

/// One bot's run into `target`: its streams, then (into the warehouse) the report inputs
/// and the bot's run record.
pub(super) async fn sync_bot(
    settings: &Settings,
    options: &SyncOptions,
    target: Target<'_>,
    bot: &BotSettings,
    progress: &Progress,
    deadline: Option<tokio::time::Instant>,
    lake: Option<&crate::lake::LakeRun<'_>>,
) -> Result<BotOutcome, Error> {
    let client = client_for(settings, bot, deadline)?;
    let bot_id = bot.bot_id;
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
    let (streams, first_inputs) = run_streams(&ctx, &client, &inputs, report_inputs).await;
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
    let staging = stage_lake(lake, deadline, conn, bot_id);
    let inputs_done = async {
        // Report inputs: only when the API answers and the bot's data is in.
        if let Some((conn, run)) = report_inputs.filter(|_| !outcome.auth_failed()) {
            let refreshed = refresh_report_inputs(&ctx, &inputs, conn, run, first_inputs).await;
            note_report_inputs(bot_id, refreshed, &mut outcome.warnings);
        }
    };
    tokio::join!(staging, inputs_done);
    record_bot_run(conn, run, bot_id, &client, &outcome)?;
    Ok(outcome)
}

/// The report inputs read: a warning when some rows could not be read (see
/// [`first_report_inputs`]).
type InputsWarning = Result<Option<String>, Error>;

/// The bot's streams: the dimensions first (plans, projects, coupons, payment methods),
/// then the streams that refer to them (the orders stream checks whether a plan it names
/// was renamed); within each group concurrently. No facts after a refused key. With
/// `report_inputs`, the report inputs that need only the dimensions are read while the
/// facts load, and returned.
async fn run_streams(
    ctx: &BotRun<'_>,
    client: &ApiClient,
    inputs: &ApiClient,
    report_inputs: Option<(&Connection, RunStamp)>,
) -> (Vec<StreamOutcome>, Option<InputsWarning>) {
    let (dimensions, facts): (Vec<StreamName>, Vec<StreamName>) =
        ctx.settings.streams.iter().partition(|s| s.is_dimension());
    let mut streams = Vec::new();
    // The preferred currency and the gateways need only the dimensions: they are read
    // while the facts load (a few round trips off every run's wall time).
    let mut first_inputs = None;
    for (facts_phase, phase) in [(false, dimensions), (true, facts)] {
        let tasks = phase
            .into_iter()
            .map(|stream| run_stream(ctx, stream, client.for_stream(stream.as_str())));
        let phase_done = futures::future::join_all(tasks);
        match report_inputs.filter(|_| facts_phase) {
            Some((conn, run)) => {
                let first = first_report_inputs(ctx.settings, inputs, conn, ctx.bot_id, run);
                // Exchange rates off the windows the warehouse already has (see crate::fx::prefetch).
                let early = crate::fx::prefetch::read_early_in_run(
                    ctx.settings,
                    inputs,
                    conn,
                    ctx.bot_id,
                    ctx.revenue,
                );
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
    (streams, first_inputs)
}

/// The bot's owed lake files built and uploaded, unless the run's deadline has passed
/// (they stay owed to the next run).
async fn stage_lake(
    lake: Option<&crate::lake::LakeRun<'_>>,
    deadline: Option<tokio::time::Instant>,
    conn: &Connection,
    bot_id: BotId,
) {
    let past_deadline = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
    if let Some(lake) = lake.filter(|_| !past_deadline) {
        lake.stage_bot(conn, bot_id).await;
    }
}

/// The report inputs still to read once the streams are in (those not read while the
/// facts loaded), then, when orders are synced, today's exchange rates.
async fn refresh_report_inputs(
    ctx: &BotRun<'_>,
    inputs: &ApiClient,
    conn: &Connection,
    run: RunStamp,
    first_inputs: Option<InputsWarning>,
) -> InputsWarning {
    let warning = match first_inputs {
        Some(first) => first?,
        None => first_report_inputs(ctx.settings, inputs, conn, ctx.bot_id, run).await?,
    };
    if ctx.settings.streams.contains(&StreamName::Orders) {
        refresh_rates(ctx, inputs, conn, run).await?;
    }
    Ok(warning)
}

/// A partial or failed refresh of the report inputs is one of the bot's warnings.
fn note_report_inputs(bot_id: BotId, refreshed: InputsWarning, warnings: &mut Vec<String>) {
    match refreshed {
        Ok(None) => {}
        Ok(Some(warning)) => {
            warn!(bot_id = bot_id.get(), "{warning}");
            warnings.push(warning);
        }
        Err(e) => {
            let message = redact(&format!("report inputs not refreshed: {e}"));
            warn!(bot_id = bot_id.get(), "{message}");
            warnings.push(message);
        }
    }
}

/// The bot's streams are committed, and each stream's loader has rewritten its owed
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
    bot_id: BotId,
    run: RunStamp,
) -> Result<Option<String>, Error> {
    crate::fx::capture::refresh_preferred_currency(inputs, conn, bot_id, run.at_micros).await?;
    if settings.streams.contains(&StreamName::PaymentMethods)
        || settings.streams.contains(&StreamName::Orders)
    {
        let rejected = crate::fx::capture::refresh_gateways(inputs, conn, bot_id, run).await?;
        if rejected > 0 {
            return Ok(Some(format!(
                "{rejected} /paymentMethods/report rows could not be read (kept in _rejected, \
                 stream {}); their gateways are missing from the reports",
                crate::fx::capture::REPORT_INPUTS
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
    let line: PhaseLine = bot.progress.phase(bot.bot_id, Phase::ExchangeRates);
    line.start();
    let rates = crate::fx::capture::refresh_fx(
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
