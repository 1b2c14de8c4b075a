//! What a person watching a sync sees on stderr.
//!
//! On a terminal: one line per stream (bot, stream, rows, rate, elapsed, and a total with
//! an ETA where one can be told), then one line per phase that follows the streams
//! (exchange rates, reconciliation, PENDING re-reads, Parquet rewrite), each with its own
//! count. Every line has the same columns, so they align. When stderr is not a terminal
//! there are no bars: a phase ends with a plain log line instead. At `-q` there is neither
//! (the caller asks for no progress, and the log level hides info lines).

pub mod format;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::bot_id::BotId;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use tracing::info;

static ACTIVE: OnceLock<MultiProgress> = OnceLock::new();

/// Column widths every line shares.
const BOT_WIDTH: usize = 12;
const NAME_WIDTH: usize = 16;
const COUNT_WIDTH: usize = 10;
const UNIT_WIDTH: usize = 6;
const TOTAL_WIDTH: usize = 14;
const RATE_WIDTH: usize = 15;
const ELAPSED_WIDTH: usize = 6;

/// How often a running line redraws (its spinner, elapsed time and ETA move on even
/// while no rows arrive).
const TICK: Duration = Duration::from_millis(120);

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Runs `write` with the progress bars (if any) cleared and redrawn after, so that log
/// lines and bars do not garble each other on the terminal.
pub(crate) fn suspend_bars<R>(write: impl FnOnce() -> R) -> R {
    match ACTIVE.get() {
        Some(multi) => multi.suspend(write),
        None => write(),
    }
}

/// The lines of one run, or nothing when they are off.
#[derive(Clone)]
pub(crate) struct Progress {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    multi: MultiProgress,
    /// The first phase line of the bot being synced: its stream lines go above it, so
    /// a stream that starts after a phase line appeared still sits with the streams.
    first_phase: Mutex<Option<(BotId, ProgressBar)>>,
    /// Every line of the run, kept to its end: indicatif forgets a finished line once its
    /// last handle is dropped, and the next log line would then wipe it off the screen.
    lines: Mutex<Vec<ProgressBar>>,
}

impl Progress {
    /// Lines on stderr if `wanted` and stderr is a terminal.
    pub(crate) fn new(wanted: bool) -> Progress {
        let shared = (wanted && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let _ = ACTIVE.set(multi.clone());
            Arc::new(Shared {
                multi,
                first_phase: Mutex::new(None),
                lines: Mutex::new(Vec::new()),
            })
        });
        Progress { shared }
    }

    /// The line of one stream of one bot (`name` is the stream, or a variant of it such
    /// as `orders (dry run)`).
    pub(crate) fn stream(&self, bot_id: BotId, name: &str) -> StreamBar {
        let bar = self.shared.as_ref().map(|shared| {
            let bar = ProgressBar::new_spinner()
                .with_style(line_style("rows", true, Finish::Done))
                .with_prefix(prefix(bot_id, name));
            let anchor = lock(&shared.first_phase);
            let bar = match anchor.as_ref() {
                Some((bot, first)) if *bot == bot_id => shared.multi.insert_before(first, bar),
                _ => shared.multi.add(bar),
            };
            drop(anchor);
            bar.enable_steady_tick(TICK);
            lock(&shared.lines).push(bar.clone());
            bar
        });
        StreamBar { bar }
    }

    /// The line of one phase of one bot; it appears when the phase starts.
    pub(crate) fn phase(&self, bot_id: BotId, phase: Phase) -> PhaseLine {
        PhaseLine {
            progress: self.clone(),
            bot_id,
            phase,
            shown: OnceLock::new(),
            count: AtomicU64::new(0),
            busy_micros: AtomicU64::new(0),
            ended: AtomicBool::new(false),
        }
    }

    fn phase_bar(&self, bot_id: BotId, phase: Phase) -> Option<ProgressBar> {
        let shared = self.shared.as_ref()?;
        let bar = ProgressBar::new_spinner()
            .with_style(line_style(phase.unit(), false, Finish::Done))
            .with_prefix(prefix(bot_id, phase.label()));
        let bar = shared.multi.add(bar);
        let mut anchor = lock(&shared.first_phase);
        if anchor.as_ref().is_none_or(|(bot, _)| *bot != bot_id) {
            *anchor = Some((bot_id, bar.clone()));
        }
        drop(anchor);
        bar.enable_steady_tick(TICK);
        lock(&shared.lines).push(bar.clone());
        Some(bar)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data is a display anchor: a panic elsewhere leaves it usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The bot and name columns.
fn prefix(bot_id: BotId, name: &str) -> String {
    format!("{bot_id:>BOT_WIDTH$}  {name:<NAME_WIDTH$}")
}

/// How a line's spinner ends.
#[derive(Clone, Copy)]
enum Finish {
    Done,
    Failed,
}

/// `⠙   1347378140  orders               13,232 rows   of ~20,000      7,314 rows/s    1.8s  ETA 1s`
fn line_style(unit: &'static str, with_rate: bool, finish: Finish) -> ProgressStyle {
    let draw = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&columns(state, unit, with_rate));
    };
    let last = match finish {
        Finish::Done => "✓",
        Finish::Failed => "✗",
    };
    let mut ticks: Vec<&str> = SPINNER.to_vec();
    ticks.push(last);
    ProgressStyle::with_template("{spinner} {prefix} {columns}{msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("columns", draw)
        .tick_strings(&ticks)
}

/// The count, total, rate, elapsed and ETA columns of one line.
fn columns(state: &ProgressState, unit: &str, with_rate: bool) -> String {
    let rows = state.pos();
    let finished = state.is_finished();
    let elapsed = if finished {
        state.duration()
    } else {
        state.elapsed()
    };
    // A total is an estimate while the line runs; once it ends, the count is the truth.
    let total = state.len().filter(|&total| total > rows && !finished);
    let total_text = total
        .map(|t| format!("of ~{}", format::thousands(t)))
        .unwrap_or_default();
    // A rate of one row says nothing.
    let rate = if with_rate && rows > 1 {
        format::rate(rows, elapsed, unit)
    } else {
        String::new()
    };
    let eta = if finished {
        String::new()
    } else {
        format::eta(rows, total, elapsed)
    };
    // `1 row`, `2 rows`: every unit is a plural in `s`.
    let unit = if rows == 1 {
        unit.strip_suffix('s').unwrap_or(unit)
    } else {
        unit
    };
    format!(
        "{:>COUNT_WIDTH$} {unit:<UNIT_WIDTH$} {total_text:<TOTAL_WIDTH$} {rate:>RATE_WIDTH$} {:>ELAPSED_WIDTH$}  {eta}",
        format::thousands(rows),
        format::duration(elapsed),
    )
}

/// One stream's line (a no-op when lines are off).
#[derive(Clone)]
pub(crate) struct StreamBar {
    bar: Option<ProgressBar>,
}

impl StreamBar {
    pub(crate) fn set_rows(&self, rows: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(rows);
        }
    }

    /// The rows this stream is expected to read (e.g. what the warehouse held after the
    /// previous run): shown as `of ~N` with an ETA until the count passes it.
    pub(crate) fn set_expected(&self, rows: u64) {
        if let Some(bar) = &self.bar
            && rows > 0
        {
            bar.set_length(rows);
        }
    }

    /// Starts the count again (a second pass over the stream in the same run).
    pub(crate) fn restart(&self, expected: Option<u64>) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
            bar.unset_length();
            bar.reset_elapsed();
            if let Some(rows) = expected.filter(|&r| r > 0) {
                bar.set_length(rows);
            }
        }
    }

    pub(crate) fn finish(&self, ok: bool) {
        if let Some(bar) = &self.bar {
            end(bar, "rows", true, ok, if ok { "done" } else { "failed" });
        }
    }
}

/// Ends a line: the count it shows is what was counted (finishing moves the position to
/// the length, which may be an estimate).
fn end(bar: &ProgressBar, unit: &'static str, with_rate: bool, ok: bool, note: &str) {
    bar.disable_steady_tick();
    bar.set_length(bar.position());
    if !ok {
        bar.set_style(line_style(unit, with_rate, Finish::Failed));
    }
    bar.finish_with_message(note.to_string());
}

/// The phases that follow (or accompany) the streams of a bot, each with its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Rates of every native currency read off `/revenue`.
    ExchangeRates,
    /// Old sales compared with `/revenue` (a difference triggers a full scan of orders).
    Reconciliation,
    /// Old PENDING orders re-read one by one.
    PendingRereads,
    /// Parquet files of changed partitions rewritten.
    ParquetRewrite,
}

impl Phase {
    #[cfg(test)]
    pub(crate) const ALL: [Phase; 4] = [
        Phase::ExchangeRates,
        Phase::Reconciliation,
        Phase::PendingRereads,
        Phase::ParquetRewrite,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Phase::ExchangeRates => "exchange rates",
            Phase::Reconciliation => "reconciliation",
            Phase::PendingRereads => "PENDING re-reads",
            Phase::ParquetRewrite => "Parquet rewrite",
        }
    }

    /// What the phase counts.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Phase::ExchangeRates => "rates",
            Phase::Reconciliation => "sales",
            Phase::PendingRereads => "orders",
            Phase::ParquetRewrite => "files",
        }
    }
}

/// One phase's line: shown from the first [`PhaseLine::start`] or [`PhaseLine::add`],
/// ended once by [`PhaseLine::finish`]. Shared by the threads that add to it.
pub struct PhaseLine {
    progress: Progress,
    bot_id: BotId,
    phase: Phase,
    shown: OnceLock<(Instant, Option<ProgressBar>)>,
    count: AtomicU64,
    /// Time spent in the phase, when it runs in bursts (Parquet files are rewritten as
    /// each stream commits): shown instead of the time since it first started.
    busy_micros: AtomicU64,
    ended: AtomicBool,
}

impl PhaseLine {
    /// Shows the line (once), before anything is counted.
    pub fn start(&self) {
        self.shown();
    }

    fn shown(&self) -> &(Instant, Option<ProgressBar>) {
        self.shown.get_or_init(|| {
            (
                Instant::now(),
                self.progress.phase_bar(self.bot_id, self.phase),
            )
        })
    }

    /// Counts `n` more (and shows the line if it is not yet).
    pub fn add(&self, n: u64) {
        let total = self.count.fetch_add(n, Ordering::Relaxed) + n;
        if let (_, Some(bar)) = self.shown() {
            bar.set_position(total);
        }
    }

    /// Counts `n` more done in one burst of `busy` time.
    pub(crate) fn add_burst(&self, n: u64, busy: Duration) {
        let micros = u64::try_from(busy.as_micros()).unwrap_or(u64::MAX);
        self.busy_micros.fetch_add(micros, Ordering::Relaxed);
        self.add(n);
    }

    /// How many the phase is expected to count: shown as `of ~N` with an ETA.
    pub(crate) fn set_expected(&self, n: u64) {
        if let (_, Some(bar)) = self.shown()
            && n > 0
        {
            bar.set_length(n);
        }
    }

    /// Sets the count (and shows the line if it is not yet).
    pub fn set(&self, n: u64) {
        self.count.store(n, Ordering::Relaxed);
        if let (_, Some(bar)) = self.shown() {
            bar.set_position(n);
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Ends the line with `note` (`done`, or what came of it); a phase never started
    /// shows nothing. Without a terminal, this is where the phase's log line is written.
    pub fn finish(&self, ok: bool, note: &str) {
        let Some((started, bar)) = self.shown.get() else {
            return;
        };
        if self.ended.swap(true, Ordering::Relaxed) {
            return;
        }
        let count = self.count();
        let busy = Duration::from_micros(self.busy_micros.load(Ordering::Relaxed));
        let elapsed = if busy.is_zero() {
            started.elapsed()
        } else {
            busy
        };
        match bar {
            Some(bar) => {
                if !busy.is_zero() {
                    bar.set_elapsed(busy);
                }
                end(bar, self.phase.unit(), false, ok, note)
            }
            None => info!(
                bot_id = self.bot_id.get(),
                phase = self.phase.label(),
                count,
                elapsed = %format::duration(elapsed),
                "{}: {} {}, {note}",
                self.phase.label(),
                format::thousands(count),
                self.phase.unit(),
            ),
        }
    }
}

impl Drop for PhaseLine {
    /// A phase left by an early return (an error) does not leave a spinner turning.
    fn drop(&mut self) {
        if !self.ended.load(Ordering::Relaxed)
            && let Some((_, Some(_))) = self.shown.get()
        {
            self.finish(false, "stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_has_a_distinct_label_that_fits_its_column() {
        let labels: std::collections::BTreeSet<_> = Phase::ALL.iter().map(|p| p.label()).collect();
        assert_eq!(labels.len(), Phase::ALL.len());
        for p in Phase::ALL {
            assert!(p.label().len() <= NAME_WIDTH, "{} is too wide", p.label());
            assert!(p.unit().len() <= UNIT_WIDTH, "{} is too wide", p.unit());
        }
    }

    #[test]
    fn a_prefix_pads_bot_and_name_to_their_columns() {
        assert_eq!(
            prefix(BotId::constant(1_347_378_140), "orders"),
            format!("  1347378140  {:<16}", "orders")
        );
        assert_eq!(
            prefix(BotId::constant(7), "plans").len(),
            BOT_WIDTH + 2 + NAME_WIDTH
        );
    }
}
