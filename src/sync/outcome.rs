//! How a run ended: each stream's outcome, each bot's, the run's, and their one
//! classification ([`BotVerdict`]): the exit code, the label and the `_sync_runs` status
//! all derive from it.

use std::sync::Arc;

use crate::exit::Exit;
use crate::lake::{LakeError, LakeOutcome};
use crate::streams::StreamName;
use crate::warehouse::state::StreamFigures;

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
    pub(super) fn auth_failed(&self) -> bool {
        auth_failed(&self.streams)
    }
}

pub(super) fn auth_failed(streams: &[StreamOutcome]) -> bool {
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
    /// command line fills it in: see [`crate::cli::metrics::peak_rss_bytes`]).
    pub peak_rss_bytes: Option<u64>,
    /// The lake output of this run, when a lake is configured (never in a dry run).
    pub lake: Option<LakeReport>,
}

/// What the lake output did after the bots had synced.
#[derive(Debug, Clone)]
pub enum LakeReport {
    Published(LakeOutcome),
    /// Nothing past the failed table was committed; its marks stay owed to the next run.
    /// Shared, so that the outcome stays cloneable.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
