//! The run records of one bot: its `_sync_runs` row and the rows of its failed streams,
//! written through the warehouse stage's functions (which hold the SQL).

use duckdb::Connection;
use tracing::{info, warn};

use super::{BotOutcome, now_micros};
use crate::api::ApiClient;
use crate::bot_id::BotId;
use crate::error::Error;
use crate::streams::StreamName;
use crate::warehouse::state::{RunStamp, RunTotals, StreamFigures, finish_run, record_stream};

/// The figures of a failed stream, recorded outside its transaction (which rolled back);
/// a failure to record them is logged, not raised: the stream's failure is the news.
pub(super) fn record_stream_failure(
    conn: &Connection,
    run: RunStamp,
    bot_id: BotId,
    stream: StreamName,
    figures: &StreamFigures,
) {
    if let Err(e) = record_stream(conn, run.run_id, bot_id, stream.as_str(), figures) {
        warn!("could not record the failure of {stream}: {e}");
    }
}

/// The bot's `_sync_runs` row: how its run ended.
pub(super) fn record_bot_run(
    conn: &Connection,
    run: RunStamp,
    bot_id: BotId,
    client: &ApiClient,
    outcome: &BotOutcome,
) -> Result<(), Error> {
    let streams = &outcome.streams;
    let total = client.total_stats();
    let verdict = outcome.verdict();
    let status = outcome.run_status();
    let error_text = outcome.error_text();
    finish_run(
        conn,
        &RunTotals {
            run_id: run.run_id,
            bot_id,
            status,
            requests: total.requests(),
            retries: total.retries(),
            rows_rejected: streams.iter().map(|s| s.figures.rows_rejected).sum(),
            refetch_not_found: streams.iter().map(|s| s.figures.refetch_not_found).sum(),
            error: (!error_text.is_empty()).then_some(error_text.as_str()),
            finished_micros: now_micros(),
        },
    )?;
    info!(
        bot_id = bot_id.get(),
        status = status.as_str(),
        verdict = verdict.label(),
        requests = total.requests(),
        retries = total.retries(),
        "bot finished"
    );
    Ok(())
}
