//! Many bots in one run: each bot's sync is one future, at most `bots_in_flight` of them
//! at once, and each ends on its own verdict (its exit code), so a bot whose key is
//! refused or whose API is down is reported while every other bot syncs completely.
//!
//! The bots' futures share one task (`buffer_unordered`): their requests overlap, and so
//! does their loading, since every stream loads on its own blocking thread with its own
//! DuckDB connection. The run's own connection is used by one bot at a time (the task
//! polls one future at a time, and no transaction on it spans an `.await`). Bots never
//! touch each other's rows: `bot_id` leads every key, every state row, dirty mark and
//! Parquet partition directory, so their transactions cannot conflict.

use std::future::Future;

use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::{BotOutcome, FailureKind};
use crate::config::BotSettings;
use crate::exit::Exit;

/// How one bot's run ended, in order of severity (the run's exit code is its worst bot's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BotVerdict {
    /// Every stream synced, no row rejected, report inputs refreshed: exit 0.
    Synced,
    /// Some streams failed, rows were rejected, soft deletes were refused, or report
    /// inputs were not refreshed: exit 3.
    Partial,
    /// The run's deadline (`run_deadline_secs`) passed before the bot's streams were
    /// read: exit 9.
    DeadlinePassed,
    /// Every stream that ran failed because the API could not be reached: exit 6.
    ApiDown,
    /// The API refused the bot's key (HTTP 401/403); its remaining streams did not run:
    /// exit 4.
    KeyRefused,
}

impl BotVerdict {
    /// The verdict on one bot's outcome.
    pub fn of(bot: &BotOutcome) -> BotVerdict {
        let failed: Vec<FailureKind> = bot
            .streams
            .iter()
            .filter_map(|s| s.error.as_ref().map(|e| e.kind.clone()))
            .collect();
        if failed.contains(&FailureKind::Auth) {
            return BotVerdict::KeyRefused;
        }
        if !failed.is_empty()
            && failed.len() == bot.streams.len()
            && failed.iter().all(|k| *k == FailureKind::Unavailable)
        {
            return BotVerdict::ApiDown;
        }
        if failed.contains(&FailureKind::Deadline) {
            return BotVerdict::DeadlinePassed;
        }
        let rejected = bot
            .streams
            .iter()
            .any(|s| s.figures.rows_rejected > 0 || s.figures.deletes_refused.is_some());
        if !failed.is_empty() || rejected || !bot.warnings.is_empty() {
            return BotVerdict::Partial;
        }
        BotVerdict::Synced
    }

    /// The exit code a run of this bot alone ends with.
    pub fn exit(self) -> Exit {
        match self {
            BotVerdict::Synced => Exit::Success,
            BotVerdict::Partial => Exit::Partial,
            BotVerdict::DeadlinePassed => Exit::Deadline,
            BotVerdict::ApiDown => Exit::Unavailable,
            BotVerdict::KeyRefused => Exit::Auth,
        }
    }

    /// What the summary and `status` call it.
    pub fn label(self) -> &'static str {
        match self {
            BotVerdict::Synced => "synced",
            BotVerdict::Partial => "partly synced",
            BotVerdict::DeadlinePassed => "stopped at the run deadline",
            BotVerdict::ApiDown => "API unavailable",
            BotVerdict::KeyRefused => "API key refused",
        }
    }

    /// The start of the bot's error text in `_sync_runs` (and so in `tgm-sync status`)
    /// for the verdicts that have their own exit code: `API key refused (exit 4): `.
    pub fn error_prefix(self) -> Option<String> {
        match self {
            BotVerdict::ApiDown | BotVerdict::KeyRefused | BotVerdict::DeadlinePassed => {
                Some(format!("{} (exit {}): ", self.label(), self.exit().code()))
            }
            BotVerdict::Synced | BotVerdict::Partial => None,
        }
    }
}

/// The worst verdict among `bots` (`Synced` for none).
pub fn worst<'a>(bots: impl IntoIterator<Item = &'a BotOutcome>) -> BotVerdict {
    bots.into_iter()
        .map(BotVerdict::of)
        .max()
        .unwrap_or(BotVerdict::Synced)
}

/// Runs `sync_one` for every bot, at most `in_flight` at once, each inside a `bot` span
/// carrying its `bot_id` (so every log line names its bot); returns the results in the
/// order of `bots`, once every bot has finished.
pub async fn for_each_bot<'a, T, F, Fut>(
    bots: &'a [BotSettings],
    in_flight: usize,
    mut sync_one: F,
) -> Vec<T>
where
    F: FnMut(&'a BotSettings) -> Fut,
    Fut: Future<Output = T>,
{
    let futures = bots.iter().enumerate().map(|(at, bot)| {
        let span = tracing::info_span!("bot", bot_id = bot.bot_id);
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
    use crate::secret::ApiKey;
    use crate::streams::StreamName;
    use crate::sync::{StreamFailure, StreamOutcome};
    use crate::warehouse::state::StreamFigures;

    fn stream(kind: Option<FailureKind>, rejected: u64) -> StreamOutcome {
        StreamOutcome {
            stream: StreamName::Plans,
            figures: StreamFigures {
                rows_rejected: rejected,
                ..StreamFigures::default()
            },
            error: kind.map(|kind| StreamFailure {
                kind,
                message: "failed".into(),
            }),
        }
    }

    fn bot(streams: Vec<StreamOutcome>, warnings: usize) -> BotOutcome {
        BotOutcome {
            bot_id: 1,
            streams,
            warnings: vec!["report inputs not refreshed".into(); warnings],
        }
    }

    #[test]
    fn each_bot_gets_the_exit_code_a_run_of_it_alone_would() {
        use FailureKind::*;
        let cases = [
            (
                bot(vec![stream(None, 0), stream(None, 0)], 0),
                Exit::Success,
            ),
            (bot(vec![stream(None, 1)], 0), Exit::Partial),
            (bot(vec![stream(None, 0)], 1), Exit::Partial),
            (
                bot(vec![stream(None, 0), stream(Some(Other), 0)], 0),
                Exit::Partial,
            ),
            (
                bot(vec![stream(None, 0), stream(Some(Unavailable), 0)], 0),
                Exit::Partial,
            ),
            (
                bot(vec![stream(Some(Unavailable), 0); 3], 0),
                Exit::Unavailable,
            ),
            (
                bot(vec![stream(Some(Unavailable), 0), stream(Some(Auth), 0)], 0),
                Exit::Auth,
            ),
            (
                bot(vec![stream(None, 0), stream(Some(Auth), 0)], 0),
                Exit::Auth,
            ),
        ];
        for (at, (outcome, want)) in cases.iter().enumerate() {
            assert_eq!(BotVerdict::of(outcome).exit(), *want, "case {at}");
        }
    }

    #[test]
    fn the_worst_bot_decides_and_a_refused_key_outranks_a_down_api() {
        let synced = bot(vec![stream(None, 0)], 0);
        let partial = bot(vec![stream(None, 2)], 0);
        let down = bot(vec![stream(Some(FailureKind::Unavailable), 0)], 0);
        let refused = bot(vec![stream(Some(FailureKind::Auth), 0)], 0);
        assert_eq!(worst([] as [&BotOutcome; 0]), BotVerdict::Synced);
        assert_eq!(worst([&synced, &partial]), BotVerdict::Partial);
        assert_eq!(worst([&down, &synced, &partial]), BotVerdict::ApiDown);
        assert_eq!(worst([&synced, &refused, &down]), BotVerdict::KeyRefused);
        assert_eq!(
            BotVerdict::KeyRefused.error_prefix().as_deref(),
            Some("API key refused (exit 4): ")
        );
        assert_eq!(
            BotVerdict::ApiDown.error_prefix().as_deref(),
            Some("API unavailable (exit 6): ")
        );
        assert_eq!(BotVerdict::Partial.error_prefix(), None);
    }

    #[tokio::test]
    async fn at_most_in_flight_bots_run_at_once_and_results_keep_the_bots_order() {
        let bots: Vec<BotSettings> = (1..=7)
            .map(|bot_id| BotSettings {
                bot_id,
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
                    tokio::time::sleep(Duration::from_millis(40 - 5 * bot.bot_id)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    bot.bot_id
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
