//! How a run ended: each stream's outcome, each bot's, the run's, and their one
//! classification ([`BotVerdict`]): the exit code, the label and the `_sync_runs` status
//! all derive from it.

use std::sync::Arc;

use crate::bot_id::BotId;
use crate::exit::Exit;
use crate::lake::{LakeError, LakeOutcome};
use crate::streams::StreamName;
use crate::warehouse::state::{RunStatus, StreamFigures};

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
    pub bot_id: BotId,
    pub streams: Vec<StreamOutcome>,
    /// A failure outside the streams (report inputs), not fatal to the data.
    pub warnings: Vec<String>,
}

impl BotOutcome {
    pub(super) fn auth_failed(&self) -> bool {
        auth_failed(&self.streams)
    }

    /// How this bot's run ended: the one classification ([`BotVerdict::of`]).
    pub(crate) fn verdict(&self) -> BotVerdict {
        BotVerdict::of(self)
    }

    /// Every stream that ran failed: nothing of the bot synced.
    pub(super) fn nothing_synced(&self) -> bool {
        !self.streams.is_empty() && self.streams.iter().all(|s| s.error.is_some())
    }

    /// The bot's `_sync_runs` status, derived from its verdict
    /// ([`BotVerdict::run_status`]).
    pub(super) fn run_status(&self) -> RunStatus {
        self.verdict().run_status(self.nothing_synced())
    }

    /// The streams that failed and the soft deletes refused (`stream: why`), then the
    /// warnings, after the verdict's prefix when it has its own exit code:
    /// `API key refused (exit 4): plans: ...`, as `tgm-sync status` shows it.
    pub(super) fn error_text(&self) -> String {
        let failed = self.streams.iter().filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| format!("{}: {}", s.stream, e.message))
        });
        let refused = self.streams.iter().filter_map(|s| {
            s.figures
                .deletes_refused
                .as_ref()
                .map(|line| format!("{}: {line}", s.stream))
        });
        self.verdict().error_prefix().unwrap_or_default()
            + &failed
                .chain(refused)
                .chain(self.warnings.iter().cloned())
                .collect::<Vec<_>>()
                .join("; ")
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
    /// The failed table (or the first of them) was not committed and its marks stay owed
    /// to the next run; the tables that committed are settled. Shared, so that the outcome
    /// stays cloneable.
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

    /// The run's verdict: its worst bot's ([`worst`]); the exit code is its
    /// ([`BotVerdict::exit`]) unless the lake output failed.
    pub(crate) fn verdict(&self) -> BotVerdict {
        worst(&self.bots)
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

    /// The bot's `_sync_runs` status: `success` when it synced, `failed` when
    /// `nothing_synced` (every stream that ran failed), else `partial`.
    pub(crate) fn run_status(self, nothing_synced: bool) -> RunStatus {
        match self {
            BotVerdict::Synced => RunStatus::Success,
            BotVerdict::Partial
            | BotVerdict::DeadlinePassed
            | BotVerdict::ApiDown
            | BotVerdict::KeyRefused => {
                if nothing_synced {
                    RunStatus::Failed
                } else {
                    RunStatus::Partial
                }
            }
        }
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
    pub(crate) fn error_prefix(self) -> Option<String> {
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
            bot_id: BotId::constant(1),
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

    /// Every verdict, with and without a stream that synced: the status written to
    /// `_sync_runs` (its stored string) and the exit code.
    #[test]
    fn every_verdict_derives_one_run_status_and_one_exit_code() {
        use BotVerdict::*;
        let cases = [
            (Synced, false, "success", 0),
            (Partial, false, "partial", 3),
            (Partial, true, "failed", 3),
            (DeadlinePassed, false, "partial", 9),
            (DeadlinePassed, true, "failed", 9),
            (ApiDown, false, "partial", 6),
            (ApiDown, true, "failed", 6),
            (KeyRefused, false, "partial", 4),
            (KeyRefused, true, "failed", 4),
        ];
        for (verdict, nothing_synced, status, code) in cases {
            assert_eq!(
                verdict.run_status(nothing_synced).as_str(),
                status,
                "{verdict:?}, nothing synced: {nothing_synced}"
            );
            assert_eq!(verdict.exit().code(), code, "{verdict:?}");
        }
    }

    /// A bot's outcome → its verdict and its `_sync_runs` status, as written before the
    /// status was derived from the verdict: `failed` when every stream that ran failed,
    /// `partial` when anything else went wrong, `success` otherwise.
    #[test]
    fn a_bots_status_is_its_verdicts_and_failed_only_when_no_stream_synced() {
        use BotVerdict as V;
        use FailureKind::*;
        let ok = || stream(None, 0);
        let failed = |kind: FailureKind| stream(Some(kind), 0);
        let mut refused = ok();
        refused.figures.deletes_refused = Some("refused to delete 80 of 120".into());
        let cases = [
            (bot(vec![ok(), ok()], 0), V::Synced, "success"),
            (bot(vec![], 0), V::Synced, "success"),
            (bot(vec![], 1), V::Partial, "partial"),
            (bot(vec![ok(), stream(None, 2)], 0), V::Partial, "partial"),
            (bot(vec![ok(), refused], 0), V::Partial, "partial"),
            (bot(vec![ok()], 1), V::Partial, "partial"),
            (bot(vec![ok(), failed(Other)], 0), V::Partial, "partial"),
            (
                bot(vec![failed(Other), failed(Rejected)], 0),
                V::Partial,
                "failed",
            ),
            (
                bot(vec![ok(), failed(Unavailable)], 0),
                V::Partial,
                "partial",
            ),
            (bot(vec![failed(Unavailable); 3], 0), V::ApiDown, "failed"),
            (
                bot(vec![failed(Unavailable), failed(Other)], 0),
                V::Partial,
                "failed",
            ),
            (bot(vec![failed(Auth)], 0), V::KeyRefused, "failed"),
            (bot(vec![ok(), failed(Auth)], 0), V::KeyRefused, "partial"),
            (
                bot(vec![failed(Unavailable), failed(Auth)], 0),
                V::KeyRefused,
                "failed",
            ),
            (
                bot(vec![failed(Deadline); 2], 0),
                V::DeadlinePassed,
                "failed",
            ),
            (
                bot(vec![ok(), failed(Deadline)], 0),
                V::DeadlinePassed,
                "partial",
            ),
            (
                bot(vec![failed(Unavailable), failed(Deadline)], 0),
                V::DeadlinePassed,
                "failed",
            ),
        ];
        for (at, (outcome, verdict, status)) in cases.iter().enumerate() {
            assert_eq!(outcome.verdict(), *verdict, "case {at}");
            assert_eq!(outcome.run_status().as_str(), *status, "case {at}");
        }
    }

    #[test]
    fn the_error_text_leads_with_the_verdict_then_streams_refusals_and_warnings() {
        let mut refused = stream(None, 0);
        refused.stream = StreamName::Members;
        refused.figures.deletes_refused = Some("refused to delete 80 of 120".into());
        let refused_key = bot(vec![stream(Some(FailureKind::Auth), 0)], 0);
        assert_eq!(
            refused_key.error_text(),
            "API key refused (exit 4): plans: failed"
        );
        let partial = bot(vec![stream(Some(FailureKind::Other), 0), refused], 1);
        assert_eq!(
            partial.error_text(),
            "plans: failed; members: refused to delete 80 of 120; report inputs not refreshed"
        );
        assert_eq!(bot(vec![stream(None, 3)], 0).error_text(), "");
    }

    #[test]
    fn the_runs_verdict_is_its_worst_bots() {
        let run = |bots: Vec<BotOutcome>| RunOutcome {
            run_id: Some(1),
            bots,
            dry_run: false,
            elapsed_secs: 0.0,
            peak_rss_bytes: None,
            lake: None,
        };
        let synced = bot(vec![stream(None, 0)], 0);
        let deadline = bot(vec![stream(Some(FailureKind::Deadline), 0)], 0);
        let partial = bot(vec![stream(None, 1)], 0);
        assert_eq!(run(vec![]).verdict().exit().code(), 0);
        assert_eq!(
            run(vec![synced.clone(), partial.clone()])
                .verdict()
                .exit()
                .code(),
            3
        );
        assert_eq!(
            run(vec![partial, deadline, synced]).verdict().exit().code(),
            9
        );
    }
}
