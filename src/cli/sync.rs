//! `tgm-sync sync`: run a sync and turn its outcome into a summary and an exit code.

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use super::settings::SettingsArgs;
use crate::exit::Exit;
use crate::sync::{self, FailureKind, RunOutcome, SyncOptions};

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
    /// Write Prometheus metrics to this file (for node_exporter's textfile collector).
    #[arg(long, env = "TGM_METRICS_FILE", value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// No progress bars, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// `progress`: lines on a terminal are wanted (not at `-q`); `--no-progress` still wins.
pub async fn run(config: Option<PathBuf>, args: SyncArgs, progress: bool) -> Result<Exit, Failure> {
    let settings = args
        .settings
        .resolve(config.as_deref(), args.streams.clone(), true)?;
    let options = SyncOptions {
        full_refresh: args.full_refresh,
        dry_run: args.dry_run,
        strict: args.strict,
        progress: progress && !args.no_progress,
    };
    let mut outcome = sync::run(&settings, &options).await?;
    // The warehouse is closed by now, so the figure covers the whole run.
    outcome.peak_rss_bytes = crate::metrics::peak_rss_bytes();
    print_summary(&outcome);
    if let Some(path) = &args.metrics_file {
        crate::metrics::write(path, &outcome, crate::clock::now_secs()).map_err(|e| {
            Failure::new(
                Exit::Internal,
                format!("cannot write metrics file {}: {e}", path.display()),
            )
        })?;
    }
    Ok(exit_for(&outcome))
}

/// The exit code of a finished run.
pub fn exit_for(outcome: &RunOutcome) -> Exit {
    let failures: Vec<_> = outcome.failures().collect();
    if failures.iter().any(|(_, _, f)| f.kind == FailureKind::Auth) {
        return Exit::Auth;
    }
    let streams = outcome.bots.iter().map(|b| b.streams.len()).sum::<usize>();
    if !failures.is_empty()
        && failures.len() == streams
        && failures
            .iter()
            .all(|(_, _, f)| f.kind == FailureKind::Unavailable)
    {
        return Exit::Unavailable;
    }
    let warnings = outcome.bots.iter().any(|b| !b.warnings.is_empty());
    if !failures.is_empty() || outcome.rows_rejected() > 0 || warnings {
        return Exit::Partial;
    }
    Exit::Success
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
        for w in &bot.warnings {
            println!("{:>12} warning: {w}", bot.bot_id);
        }
    }
}
