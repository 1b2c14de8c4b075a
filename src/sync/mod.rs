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

mod bot;
pub(crate) mod bots;
pub(crate) mod orders;
mod outcome;
pub(crate) mod pass;
mod record;
mod stream;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing::{error, info, warn};

use crate::api::ApiClient;
use crate::bot_id::BotId;
use crate::config::{BotSettings, Settings};
use crate::error::Error;
use crate::mirror;
use crate::progress::Progress;
use crate::streams::mirrored_tables;
use crate::warehouse::Warehouse;
use crate::warehouse::state::{RunStamp, close_abandoned_runs, start_run};

use bot::sync_bot;
pub use orders::PENDING_MAX_INTERVAL_RUNS;
use outcome::auth_failed;
pub use outcome::{
    BotOutcome, BotVerdict, FailureKind, LakeReport, RunOutcome, StreamFailure, StreamOutcome,
    worst,
};
use pass::Target;

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
    let invocation = Invocation {
        settings,
        options,
        progress: &progress,
        deadline,
    };
    invocation.check_base_urls()?;
    if options.dry_run {
        let bots = invocation.sync_bots(Target::DryRun, None).await?;
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
        mirror::check_writable(root)?;
    }
    let warehouse = Warehouse::open_with(&settings.warehouse, &settings.storage_version)?;
    let bot_ids: Vec<BotId> = settings.bots.iter().map(|b| b.bot_id).collect();
    let run = begin_run(settings, &warehouse, &bot_ids)?;
    let target = Target::Warehouse {
        warehouse: &warehouse,
        run,
    };
    // Each bot's lake files are uploaded as soon as its streams are in.
    let lake_run = settings
        .lake
        .as_ref()
        .map(|lake| crate::lake::LakeRun::new(lake, run.run_id));
    let bots = invocation.sync_bots(target, lake_run.as_ref()).await?;
    if let Some(root) = &settings.parquet_dir {
        rewrite_history(&warehouse, root, &bot_ids)?;
    }
    let lake = match lake_run.as_ref().filter(|_| !invocation.deadline_passed()) {
        Some(lake) => Some(publish_lake(lake, &warehouse, &bot_ids).await),
        None => None,
    };
    Ok(RunOutcome {
        run_id: Some(run.run_id),
        bots,
        dry_run: false,
        elapsed_secs: started.elapsed().as_secs_f64(),
        peak_rss_bytes: None,
        lake,
    })
}

/// What every bot of one invocation shares: the settings, the user's choices, the
/// progress display and the run's deadline.
#[derive(Clone, Copy)]
struct Invocation<'a> {
    settings: &'a Settings,
    options: &'a SyncOptions,
    progress: &'a Progress,
    deadline: Option<tokio::time::Instant>,
}

impl Invocation<'_> {
    /// A bad base URL is a configuration error: found before the warehouse is touched.
    fn check_base_urls(&self) -> Result<(), Error> {
        for bot in &self.settings.bots {
            client_for(self.settings, bot, self.deadline)?;
        }
        Ok(())
    }

    /// Every bot into `target`, `bots_in_flight` at a time. Every bot runs to its end,
    /// whatever the others do; a bot that could not record its end (a warehouse error)
    /// fails the run once all have finished.
    async fn sync_bots(
        &self,
        target: Target<'_>,
        lake: Option<&crate::lake::LakeRun<'_>>,
    ) -> Result<Vec<BotOutcome>, Error> {
        bots::for_each_bot(&self.settings.bots, self.settings.bots_in_flight, |bot| {
            sync_bot(
                self.settings,
                self.options,
                target,
                bot,
                self.progress,
                self.deadline,
                lake,
            )
        })
        .await
        .into_iter()
        .collect()
    }

    /// Past the deadline, the lake stays owed to the next run.
    fn deadline_passed(&self) -> bool {
        self.deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
    }
}

/// The run's start on the open warehouse: the runs an interrupted process left open are
/// closed, the mirror it left is cleaned, and this run is recorded as running.
fn begin_run(
    settings: &Settings,
    warehouse: &Warehouse,
    bot_ids: &[BotId],
) -> Result<RunStamp, Error> {
    let at_micros = now_micros();
    let closed = close_abandoned_runs(warehouse.conn(), at_micros)?;
    if closed > 0 {
        warn!(
            runs = closed,
            "an earlier run was interrupted; this run completes its work"
        );
    }
    if let Some(root) = &settings.parquet_dir {
        clean_mirror(settings, warehouse, root)?;
    }
    let run_id = start_run(warehouse.conn(), bot_ids, at_micros)?;
    info!(run_id, bots = bot_ids.len(), "sync started");
    Ok(RunStamp { run_id, at_micros })
}

/// The temporary Parquet files of an interrupted run removed, and its owed partitions of
/// streams not selected now rewritten.
fn clean_mirror(settings: &Settings, warehouse: &Warehouse, root: &Path) -> Result<(), Error> {
    let removed = mirror::remove_leftovers(root)?;
    if removed > 0 {
        info!(
            files = removed,
            "removed temporary Parquet files left by an interrupted run"
        );
    }
    // Partitions left owed by an interrupted run are rewritten by their stream below;
    // those of streams not selected now are rewritten here.
    for spec in mirrored_tables() {
        for bot in &settings.bots {
            mirror::rewrite_owed(warehouse.conn(), root, spec, bot.bot_id)?;
        }
    }
    Ok(())
}

/// The mirror's history tables, rewritten once every bot is in.
fn rewrite_history(warehouse: &Warehouse, root: &Path, bot_ids: &[BotId]) -> Result<(), Error> {
    for table in mirror::HISTORY_TABLES {
        for bot_id in bot_ids {
            mirror::rewrite_history(warehouse.conn(), root, table, *bot_id)?;
        }
    }
    Ok(())
}

/// The lake after the warehouse and the mirror, on the same open warehouse: no other
/// process can take it between the sync and the publication.
async fn publish_lake(
    lake: &crate::lake::LakeRun<'_>,
    warehouse: &Warehouse,
    bot_ids: &[BotId],
) -> LakeReport {
    match lake.publish(warehouse.conn(), bot_ids).await {
        Ok(published) => LakeReport::Published(published),
        Err(e) => {
            error!(error = %e, "the lake output failed; its partitions stay owed");
            LakeReport::Failed(Arc::new(e))
        }
    }
}

pub(super) fn now_micros() -> i64 {
    crate::clock::now_micros()
}

pub(super) fn client_for(
    settings: &Settings,
    bot: &BotSettings,
    deadline: Option<tokio::time::Instant>,
) -> Result<ApiClient, crate::api::ApiError> {
    ApiClient::new(crate::api::ClientSettings {
        deadline,
        ..settings.client_settings(bot)
    })
}
