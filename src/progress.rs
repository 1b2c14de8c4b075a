//! Progress bars per stream, shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

static ACTIVE: OnceLock<MultiProgress> = OnceLock::new();

/// Runs `write` with the progress bars (if any) cleared and redrawn after, so that log
/// lines and bars do not garble each other on the terminal.
pub fn suspend_bars<R>(write: impl FnOnce() -> R) -> R {
    match ACTIVE.get() {
        Some(multi) => multi.suspend(write),
        None => write(),
    }
}

/// A set of progress bars, or nothing when they are off.
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars on stderr if `wanted` and stderr is a terminal.
    pub fn new(wanted: bool) -> Progress {
        let multi = (wanted && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        if let Some(m) = &multi {
            let _ = ACTIVE.set(m.clone());
        }
        Progress { multi }
    }

    pub fn off() -> Progress {
        Progress { multi: None }
    }

    pub fn is_on(&self) -> bool {
        self.multi.is_some()
    }

    /// A spinner counting rows for one stream; call the returned closure with row counts.
    pub fn stream(&self, label: String) -> StreamBar {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix:>24} {human_pos:>10} rows  {per_sec:>12}  {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label);
            bar
        });
        StreamBar { bar }
    }
}

/// One stream's bar (a no-op when bars are off).
#[derive(Clone)]
pub struct StreamBar {
    bar: Option<ProgressBar>,
}

impl StreamBar {
    pub fn set_rows(&self, rows: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(rows);
            bar.tick();
        }
    }

    pub fn finish(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(message.to_string());
        }
    }
}
