//! An optional Prometheus textfile (`--metrics-file`) for node_exporter's textfile
//! collector: rows, requests, retries, duration and last success per bot and stream, and
//! each bot's exit code; with a lake, its success and each committed table's version and
//! figures.
//! Written to a temporary file and renamed, so the collector never reads half of it.

use std::fmt::Write as _;
use std::path::Path;

use crate::lake::TablePublished;
use crate::sync::BotVerdict;
use crate::sync::{LakeReport, RunOutcome, StreamOutcome};
use crate::warehouse::state::StreamFigures;

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A figure of one stream's last run, as a gauge's value.
type StreamFigure = fn(&StreamFigures) -> f64;

/// The gauges per bot and stream: name, help, figure. One declarative list, kept whole.
const STREAM_FAMILIES: [(&str, &str, StreamFigure); 7] = [
    (
        "tgm_sync_rows_read",
        "Rows read from the API in the last run.",
        |f| f.rows_read as f64,
    ),
    (
        "tgm_sync_rows_written",
        "Rows inserted or updated in the last run.",
        |f| f.rows_written as f64,
    ),
    (
        "tgm_sync_rows_deleted",
        "Rows soft-deleted in the last run.",
        |f| f.rows_deleted as f64,
    ),
    (
        "tgm_sync_rows_rejected",
        "Rows that could not be read in the last run.",
        |f| f.rows_rejected as f64,
    ),
    (
        "tgm_sync_requests",
        "API requests made in the last run.",
        |f| f.requests as f64,
    ),
    (
        "tgm_sync_retries",
        "API requests retried in the last run.",
        |f| f.retries as f64,
    ),
    (
        "tgm_sync_stream_success",
        "1 if the stream synced in the last run (rows it could not read aside), else 0.",
        |f| {
            if f.status.synced() { 1.0 } else { 0.0 }
        },
    ),
];

/// A figure of one committed lake table, as a gauge's value.
type LakeFigure = fn(&TablePublished) -> f64;

/// The gauges per lake table: name, help, figure. One declarative list, kept whole.
const LAKE_TABLE_FAMILIES: [(&str, &str, LakeFigure); 4] = [
    (
        "tgm_sync_lake_version",
        "The Delta table version the last run committed.",
        |t| t.committed.version as f64,
    ),
    (
        "tgm_sync_lake_rows_written",
        "Rows in the data files the last run's commit added.",
        |t| t.rows as f64,
    ),
    (
        "tgm_sync_lake_files_added",
        "Data files the last run's commit added.",
        |t| t.committed.added as f64,
    ),
    (
        "tgm_sync_lake_files_removed",
        "Data files the last run's commit removed (replaced partitions).",
        |t| t.committed.removed as f64,
    ),
];

/// The Prometheus text being written, one gauge family at a time.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// A family's `HELP` and `TYPE` lines, then one line per `(labels, value)` sample.
    fn gauge(&mut self, name: &str, help: &str, samples: Vec<(String, f64)>) {
        let out = &mut self.text;
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    }
}

/// The metrics of one run in Prometheus text format.
pub(crate) fn render(outcome: &RunOutcome, finished_unix: i64) -> String {
    let mut out = Exposition::default();
    for (name, help, figure) in STREAM_FAMILIES {
        out.gauge(
            name,
            help,
            per_stream(outcome, |s| Some(figure(&s.figures))),
        );
    }
    out.gauge(
        "tgm_sync_last_success_timestamp_seconds",
        "When the stream last synced successfully (UNIX seconds).",
        per_stream(outcome, |s| {
            s.error.is_none().then_some(finished_unix as f64)
        }),
    );
    run_families(&mut out, outcome);
    // After the run-wide families: `write` carries earlier success timestamps over in
    // front of `tgm_sync_duration_seconds`, which must stay just after their own family.
    bot_families(&mut out, outcome);
    if let Some(lake) = &outcome.lake {
        lake_families(&mut out, lake);
    }
    out.text
}

/// One sample per bot and stream that `value` gives a value for.
fn per_stream(
    outcome: &RunOutcome,
    value: impl Fn(&StreamOutcome) -> Option<f64>,
) -> Vec<(String, f64)> {
    let value = &value;
    outcome
        .bots
        .iter()
        .flat_map(|b| {
            b.streams.iter().filter_map(move |s| {
                let labels = format!(
                    "bot_id=\"{}\",stream=\"{}\"",
                    b.bot_id,
                    escape(s.stream.as_str())
                );
                value(s).map(|v| (labels, v))
            })
        })
        .collect()
}

/// The run-wide gauges: wall time and, where known, peak memory.
fn run_families(out: &mut Exposition, outcome: &RunOutcome) {
    out.gauge(
        "tgm_sync_duration_seconds",
        "Wall time of the last run.",
        vec![(String::new(), outcome.elapsed_secs)],
    );
    if let Some(bytes) = outcome.peak_rss_bytes {
        out.gauge(
            "tgm_sync_peak_rss_bytes",
            "Peak resident memory of the last run.",
            vec![(String::new(), bytes as f64)],
        );
    }
}

/// Each bot's exit code and success, from its verdict.
fn bot_families(out: &mut Exposition, outcome: &RunOutcome) {
    let per_bot = |f: &dyn Fn(BotVerdict) -> f64| {
        outcome
            .bots
            .iter()
            .map(|b| (format!("bot_id=\"{}\"", b.bot_id), f(BotVerdict::of(b))))
            .collect::<Vec<_>>()
    };
    out.gauge(
        "tgm_sync_bot_exit_code",
        "The exit code a run of this bot alone would give (0, 3 partial, 4 key refused, 6 API unavailable).",
        per_bot(&|v| f64::from(v.exit().code())),
    );
    out.gauge(
        "tgm_sync_bot_success",
        "1 if every stream of the bot synced in the last run, else 0.",
        per_bot(&|v| if v == BotVerdict::Synced { 1.0 } else { 0.0 }),
    );
}

/// The lake's success, and each committed table's figures (none when it failed).
fn lake_families(out: &mut Exposition, lake: &LakeReport) {
    let published = match lake {
        LakeReport::Published(p) => p.tables.as_slice(),
        LakeReport::Failed(_) => &[],
    };
    let success = if matches!(lake, LakeReport::Published(_)) {
        1.0
    } else {
        0.0
    };
    out.gauge(
        "tgm_sync_lake_success",
        "1 if the lake output committed everything owed in the last run, else 0.",
        vec![(String::new(), success)],
    );
    for (name, help, figure) in LAKE_TABLE_FAMILIES {
        let samples = published
            .iter()
            .map(|t| (format!("table=\"{}\"", t.table), figure(t)))
            .collect();
        out.gauge(name, help, samples);
    }
}

/// This process's peak resident memory (`VmHWM` in `/proc/self/status`); `None` where
/// there is no such file. Unlike a parent's `wait4` figure, it starts afresh at `exec`:
/// Linux hands a child spawned with `vfork` (as `std::process::Command` does) its
/// parent's peak as a starting value.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_bytes(&status)
}

fn vm_hwm_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(value * 1024),
        _ => None,
    }
}

/// Writes the file atomically (temporary name in the same directory, then rename).
/// A previous success timestamp of a stream that failed this time is carried over.
pub(crate) fn write(path: &Path, outcome: &RunOutcome, finished_unix: i64) -> std::io::Result<()> {
    let mut text = render(outcome, finished_unix);
    if let Ok(previous) = std::fs::read_to_string(path) {
        for line in previous.lines() {
            if line.starts_with("tgm_sync_last_success_timestamp_seconds{") {
                let labels = line.split('}').next().unwrap_or("");
                if !text.contains(&format!("{labels}}}")) {
                    text = text.replacen(
                        "# HELP tgm_sync_duration_seconds",
                        &format!("{line}\n# HELP tgm_sync_duration_seconds"),
                        1,
                    );
                }
            }
        }
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::vm_hwm_bytes;

    #[test]
    fn reads_vm_hwm_in_bytes() {
        let status =
            "Name:\ttgm-sync\nVmPeak:\t  900000 kB\nVmHWM:\t  175204 kB\nVmRSS:\t  1000 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(175_204 * 1024));
        assert_eq!(vm_hwm_bytes("VmRSS:\t 1000 kB\n"), None);
        assert_eq!(vm_hwm_bytes("VmHWM:\t 1000 MB\n"), None);
    }
}
