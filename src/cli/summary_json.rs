//! The sync's summary as JSON lines (`--log-format json`): one object for the run, one
//! per bot and stream with its figures, one per bot with its verdict, one per lake table;
//! each line shaped like the log's own (`timestamp`, `level`, `message`, fields).

use serde_json::{Map, Value, json};

use crate::logging::json_line;
use crate::sync::BotVerdict;
use crate::sync::{LakeReport, RunOutcome};

/// The fields of a JSON object literal, as a map.
fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Every line of the summary, in order.
pub(super) fn lines(outcome: &RunOutcome) -> Vec<String> {
    let verdicts: Vec<BotVerdict> = outcome.bots.iter().map(BotVerdict::of).collect();
    let synced = verdicts
        .iter()
        .filter(|v| **v == BotVerdict::Synced)
        .count();
    let mut out = vec![json_line(
        "INFO",
        "run summary",
        fields(json!({
            "run_id": outcome.run_id,
            "dry_run": outcome.dry_run,
            "elapsed_secs": (outcome.elapsed_secs * 1000.0).round() / 1000.0,
            "peak_rss_bytes": outcome.peak_rss_bytes,
            "bots": outcome.bots.len(),
            "bots_synced": synced,
        })),
    )];
    for (bot, verdict) in outcome.bots.iter().zip(&verdicts) {
        for s in &bot.streams {
            let f = &s.figures;
            let level = if s.error.is_some() { "ERROR" } else { "INFO" };
            out.push(json_line(
                level,
                "stream summary",
                fields(json!({
                    "bot_id": bot.bot_id,
                    "stream": s.stream.as_str(),
                    "rows_read": f.rows_read,
                    "rows_written": f.rows_written,
                    "rows_deleted": f.rows_deleted,
                    "rows_rejected": f.rows_rejected,
                    "requests": f.requests,
                    "retries": f.retries,
                    "status": if s.error.is_some() { "failed".to_string() } else { f.status.to_string() },
                    "error": s.error.as_ref().map(|e| e.message.as_str()),
                })),
            ));
        }
        for w in &bot.warnings {
            out.push(json_line(
                "WARN",
                "bot warning",
                fields(json!({ "bot_id": bot.bot_id, "warning": w })),
            ));
        }
        out.push(json_line(
            if *verdict == BotVerdict::Synced {
                "INFO"
            } else {
                "ERROR"
            },
            "bot summary",
            fields(json!({
                "bot_id": bot.bot_id,
                "verdict": verdict.label(),
                "exit_code": verdict.exit().code(),
            })),
        ));
    }
    match &outcome.lake {
        None => {}
        Some(LakeReport::Failed(e)) => out.push(json_line(
            "ERROR",
            "lake failed",
            fields(json!({ "exit_code": 8, "error": e.to_string() })),
        )),
        Some(LakeReport::Published(published)) => {
            for t in &published.tables {
                out.push(json_line(
                    "INFO",
                    "lake table committed",
                    fields(json!({
                        "table": t.table,
                        "version": t.committed.version,
                        "partitions": t.partitions,
                        "rows": t.rows,
                        "files_added": t.committed.added,
                        "files_removed": t.committed.removed,
                        "commits_lost": t.committed.retries,
                    })),
                ));
            }
        }
    }
    out
}
