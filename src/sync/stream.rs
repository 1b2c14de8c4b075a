//! One stream of one bot's run: the passes its strategy calls for, and its failure
//! recorded.

use tracing::error;

use super::orders;
use super::orders::fetch::OrdersPlan;
use super::pass::{BotRun, Pass, Target, load_failure};
use super::record::record_stream_failure;
use super::{StreamFailure, StreamOutcome};
use crate::api::ApiClient;
use crate::streams::{Strategy, StreamName};
use crate::warehouse::state::{StreamFigures, StreamState, StreamStatus, live_rows, read_state};

/// One stream of one bot's run, its failure recorded (outside the stream's transaction,
/// which rolled back).
pub(super) async fn run_stream(
    bot: &BotRun<'_>,
    stream: StreamName,
    client: ApiClient,
) -> StreamOutcome {
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
            error!(bot_id = bot.bot_id.get(), stream = %stream, "stream failed: {}", failure.message);
            if let Target::Warehouse { warehouse, run } = bot.target {
                record_stream_failure(warehouse.conn(), run, bot.bot_id, stream, &figures);
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
    let bar = bot.progress.stream(bot.bot_id, &label);
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
