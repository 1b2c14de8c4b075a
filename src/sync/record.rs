//! The run records of one bot: its `_sync_runs` row, written through the warehouse
//! stage's functions.

use duckdb::Connection;
use tracing::info;

use super::{BotOutcome, BotVerdict, StreamOutcome, now_micros};
use crate::api::ApiClient;
use crate::error::Error;
use crate::warehouse::state::{RunStamp, RunStatus, RunTotals, finish_run};

/// The bot's `_sync_runs` row: how its run ended.
pub(super) fn record_bot_run(
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
    let verdict = BotVerdict::of(outcome);
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
