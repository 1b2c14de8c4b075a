//! `tgm-sync sync`: run a sync and turn its outcome into a summary and an exit code.

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use super::settings::SettingsArgs;
use crate::bot_id::BotId;
use crate::exit::Exit;
use crate::logging::LogFormat;
use crate::sync::{self, BotVerdict, LakeReport, RunOutcome, SyncOptions};

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Streams to sync, comma-separated (orders,members,plans,projects,coupons,payment_methods,users_count).
    #[arg(long, env = "TGM_STREAMS", value_name = "LIST")]
    pub streams: Option<String>,
    /// Read every stream whole (orders too) and soft-delete what is gone.
    #[arg(long)]
    pub full_refresh: bool,
    /// Fetch and count, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Fail the run if any row cannot be read.
    #[arg(long)]
    pub strict: bool,
    /// For this run only: carry out soft deletes a full scan calls for even past
    /// `max_delete_share` or after an empty answer (when the rows are really gone).
    #[arg(long)]
    pub allow_large_deletes: bool,
    /// Write Prometheus metrics to this file (for node_exporter's textfile collector).
    #[arg(long, env = "TGM_METRICS_FILE", value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// No progress bars, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// `progress`: lines on a terminal are wanted (not at `-q`); `--no-progress` still wins.
/// `format`: the summary as a table (text) or as JSON lines like the log's.
pub async fn run(
    config: Option<PathBuf>,
    args: SyncArgs,
    progress: bool,
    format: LogFormat,
) -> Result<Exit, Failure> {
    let mut settings = args
        .settings
        .resolve(config.as_deref(), args.streams.clone(), true)?;
    let options = SyncOptions {
        full_refresh: args.full_refresh,
        dry_run: args.dry_run,
        strict: args.strict,
        progress: progress && !args.no_progress,
        allow_large_deletes: args.allow_large_deletes,
    };
    // Refused lake credentials stop the run before anything is written (a mistake to fix
    // first). A lake that is down does not: the warehouse and the mirror are synced, the
    // lake's partitions stay owed to the next run, and the run exits 8 naming the lake.
    let mut lake_down = None;
    if let Some(lake) = settings.lake.as_ref().filter(|_| !options.dry_run) {
        match crate::lake::preflight(lake).await {
            Ok(()) => {}
            Err(e @ crate::lake::LakeError::Refused { .. }) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "the lake is down: syncing the warehouse and the mirror; its partitions stay owed"
                );
                lake_down = Some(e);
                settings.lake = None;
            }
        }
    }
    let mut outcome = sync::run(&settings, &options).await?;
    if let Some(e) = lake_down {
        outcome.lake = Some(LakeReport::Failed(std::sync::Arc::new(e)));
    }
    // The warehouse is closed by now, so the figure covers the whole run.
    outcome.peak_rss_bytes = crate::cli::metrics::peak_rss_bytes();
    match format {
        LogFormat::Text => print_summary(&outcome),
        LogFormat::Json => {
            for line in super::summary_json::lines(&outcome) {
                println!("{line}");
            }
        }
    }
    if let Some(path) = &args.metrics_file {
        crate::cli::metrics::write(path, &outcome, crate::clock::now_secs()).map_err(|e| {
            Failure::new(
                Exit::Internal,
                format!("cannot write metrics file {}: {e}", path.display()),
            )
        })?;
    }
    // A failed lake output is exit 8 (the bots' rows are in the warehouse and the mirror;
    // the lake's marks stay owed), whatever the bots' verdicts.
    if let Some(LakeReport::Failed(e)) = &outcome.lake {
        return Err(Failure::of_lake(e));
    }
    Ok(exit_for(&outcome))
}

/// The exit code of a finished run: its worst bot's (see [`BotVerdict`]), so a run whose
/// bots all synced exits 0, and one where any bot's key was refused exits 4 even while
/// the others synced; then 6 (a bot's API down), 9 (the run deadline passed), then 3
/// (partial). The summary names
/// each bot that did not sync and why.
pub fn exit_for(outcome: &RunOutcome) -> Exit {
    outcome.verdict().exit()
}

fn print_summary(outcome: &RunOutcome) {
    let title = match (outcome.dry_run, outcome.run_id) {
        (true, _) => "dry run (nothing written)".to_string(),
        (false, Some(id)) => format!("run {id}"),
        (false, None) => "run".to_string(),
    };
    match outcome.peak_rss_bytes {
        Some(bytes) => println!(
            "tgm-sync {title}: {:.1}s, peak memory {:.1} MiB",
            outcome.elapsed_secs,
            bytes as f64 / (1024.0 * 1024.0)
        ),
        None => println!("tgm-sync {title}: {:.1}s", outcome.elapsed_secs),
    }
    println!(
        "{:>12} {:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  status",
        "bot", "stream", "read", "written", "deleted", "rejected", "requests", "retries"
    );
    for bot in &outcome.bots {
        for s in &bot.streams {
            let f = &s.figures;
            println!(
                "{:>12} {:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  {}",
                bot.bot_id,
                s.stream.as_str(),
                f.rows_read,
                f.rows_written,
                f.rows_deleted,
                f.rows_rejected,
                f.requests,
                f.retries,
                match &s.error {
                    Some(e) => format!("failed: {}", e.message),
                    None => f.status.to_string(),
                }
            );
        }
        // One line per stream whose soft deletes were refused: what, and how to allow it.
        for s in &bot.streams {
            if let Some(line) = &s.figures.deletes_refused {
                println!("{:>12} {}: {line}", bot.bot_id, s.stream.as_str());
            }
        }
        for w in &bot.warnings {
            println!("{:>12} warning: {w}", bot.bot_id);
        }
    }
    print_bot_verdicts(outcome);
    print_lake(outcome);
}

/// One line per Delta table committed, or the lake's failure.
fn print_lake(outcome: &RunOutcome) {
    match &outcome.lake {
        None => {}
        Some(LakeReport::Failed(e)) => println!("lake: failed (exit 8): {e}"),
        Some(LakeReport::Published(published)) if published.tables.is_empty() => {
            println!("lake: nothing owed, no commit")
        }
        Some(LakeReport::Published(published)) => {
            for t in &published.tables {
                println!(
                    "lake {:<16} version {:>5}: {} partitions, {} rows, {} files added, {} removed{}",
                    t.table,
                    t.committed.version,
                    t.partitions,
                    t.rows,
                    t.committed.added,
                    t.committed.removed,
                    match t.committed.retries {
                        0 => String::new(),
                        n => format!(" ({n} commits lost to other writers first)"),
                    }
                );
            }
        }
    }
}

/// With several bots, or one that did not sync: how many synced, and each other bot with
/// its verdict, exit code and first failure.
fn print_bot_verdicts(outcome: &RunOutcome) {
    let verdicts: Vec<(BotId, BotVerdict, Option<&str>)> = outcome
        .bots
        .iter()
        .map(|b| {
            let first = b
                .streams
                .iter()
                .find_map(|s| s.error.as_ref().map(|e| e.message.as_str()))
                .or(b.warnings.first().map(String::as_str));
            (b.bot_id, BotVerdict::of(b), first)
        })
        .collect();
    let synced = verdicts
        .iter()
        .filter(|(_, v, _)| *v == BotVerdict::Synced)
        .count();
    if verdicts.len() < 2 && synced == verdicts.len() {
        return;
    }
    println!("bots: {synced} of {} synced", verdicts.len());
    for (bot_id, verdict, first) in verdicts {
        if verdict == BotVerdict::Synced {
            continue;
        }
        println!(
            "{bot_id:>12} {} (exit {}){}",
            verdict.label(),
            verdict.exit().code(),
            first.map(|m| format!(": {m}")).unwrap_or_default()
        );
    }
}
