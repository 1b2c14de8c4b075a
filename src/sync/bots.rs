//! Many bots in one run: each bot's sync is one future, at most `bots_in_flight` of them
//! at once, and each ends on its own verdict (its exit code), so a bot whose key is
//! refused or whose API is down is reported while every other bot syncs completely.
//!
//! The bots' futures share one task (`buffer_unordered`): their requests overlap, and so
//! does their loading, since every stream loads on its own blocking thread with its own
//! DuckDB connection. The run's own connection is used by one bot at a time (the task
//! polls one future at a time, and no transaction on it spans an `.await`). Bots never
//! touch each other's rows: `bot_id` leads every key, every state row, mark and
//! Parquet partition directory, so their transactions cannot conflict.

use std::future::Future;

use futures::stream::{self, StreamExt};
use tracing::Instrument;

use crate::config::BotSettings;

/// Runs `sync_one` for every bot, at most `in_flight` at once, each inside a `bot` span
/// carrying its `bot_id` (so every log line names its bot); returns the results in the
/// order of `bots`, once every bot has finished.
pub(crate) async fn for_each_bot<'a, T, F, Fut>(
    bots: &'a [BotSettings],
    in_flight: usize,
    mut sync_one: F,
) -> Vec<T>
where
    F: FnMut(&'a BotSettings) -> Fut,
    Fut: Future<Output = T>,
{
    let futures = bots.iter().enumerate().map(|(at, bot)| {
        let span = tracing::info_span!("bot", bot_id = bot.bot_id.get());
        let done = sync_one(bot).instrument(span);
        async move { (at, done.await) }
    });
    let mut results: Vec<(usize, T)> = stream::iter(futures)
        .buffer_unordered(in_flight.max(1))
        .collect()
        .await;
    results.sort_by_key(|(at, _)| *at);
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::bot_id::BotId;
    use crate::secret::ApiKey;

    #[tokio::test]
    async fn at_most_in_flight_bots_run_at_once_and_results_keep_the_bots_order() {
        let bots: Vec<BotSettings> = (1..=7)
            .map(|bot_id| BotSettings {
                bot_id: BotId::constant(bot_id),
                api_key: ApiKey::new(format!("bots-test-key-{bot_id}")),
            })
            .collect();
        for in_flight in [1, 3, 10] {
            let running = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let results = for_each_bot(&bots, in_flight, |bot| {
                let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Later bots finish first: the order of the results is not theirs.
                    tokio::time::sleep(Duration::from_millis(40 - 5 * bot.bot_id.get())).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    bot.bot_id.get()
                }
            })
            .await;
            assert_eq!(
                results,
                (1..=7).collect::<Vec<u64>>(),
                "in flight {in_flight}"
            );
            assert_eq!(
                most.load(Ordering::SeqCst),
                in_flight.min(bots.len()),
                "bots at once with {in_flight} in flight"
            );
        }
    }
}
