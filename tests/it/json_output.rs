//! `--log-format json` and `status --format json`: every line a program writes, on stdout
//! and stderr, is one JSON object, the sync's summary included (per bot and stream: rows
//! read, written, deleted, rejected, requests, status), for a good, a partial and a
//! failing run.

use std::path::Path;
use std::process::Output;

use duckdb::Connection;
use serde_json::Value;
use tgm_sync::sim::FaultOptions;

use crate::support::*;

/// Every non-empty line of stdout and stderr, parsed; a line that is not a JSON object
/// fails the test, naming it.
fn json_lines(out: &Output) -> (Vec<Value>, Vec<Value>) {
    let parse = |name: &str, bytes: &[u8]| -> Vec<Value> {
        let text = String::from_utf8_lossy(bytes);
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match serde_json::from_str::<Value>(l) {
                Ok(v) if v.is_object() => v,
                _ => panic!("a {name} line that is not a JSON object: {l:?}\n--- {name}:\n{text}"),
            })
            .collect()
    };
    (parse("stdout", &out.stdout), parse("stderr", &out.stderr))
}

fn sync_json(base_url: &str, dir: &Path, extra: &[&str]) -> Output {
    sync_command(base_url, dir)
        .args([
            "--log-format",
            "json",
            "--max-attempts",
            "2",
            "--max-retry-secs",
            "1",
        ])
        .args(extra)
        .output()
        .expect("tgm-sync runs")
}

/// The summary line of one stream.
fn stream_line<'a>(stdout: &'a [Value], stream: &str) -> &'a Value {
    stdout
        .iter()
        .find(|v| v["message"] == "stream summary" && v["stream"] == stream)
        .unwrap_or_else(|| panic!("a summary line for {stream}: {stdout:#?}"))
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_of_a_json_sync_is_a_json_object_and_the_summary_has_each_stream() {
    let server = start_sim(sim_options(420, 90)).await;
    let dir = tempdir();
    let out = sync_json(&server.base_url(), dir.path(), &["-v"]);
    let (stdout, stderr) = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout:#?}\n{stderr:#?}");
    assert!(!stderr.is_empty(), "the log is on stderr");
    for line in stdout.iter().chain(&stderr) {
        assert!(
            line["level"].is_string() && line["timestamp"].is_string(),
            "{line}"
        );
    }

    let run = stdout
        .iter()
        .find(|v| v["message"] == "run summary")
        .unwrap_or_else(|| panic!("a run summary: {stdout:#?}"));
    assert_eq!(
        (run["bots"].as_u64(), run["bots_synced"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(run["run_id"].as_i64().is_some(), "{run}");

    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    let data = server.handle.data();
    for (stream, table) in [
        ("orders", "orders"),
        ("members", "members"),
        ("plans", "plans"),
    ] {
        let line = stream_line(&stdout, stream);
        let rows = count(&conn, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(line["bot_id"], BOT_ID, "{line}");
        assert_eq!(line["rows_written"].as_i64(), Some(rows), "{line}");
        assert_eq!(line["rows_deleted"], 0, "{line}");
        assert_eq!(line["rows_rejected"], 0, "{line}");
        assert!(line["requests"].as_u64().is_some_and(|r| r >= 1), "{line}");
        assert_eq!(line["status"], "success", "{line}");
        assert!(line["error"].is_null(), "{line}");
    }
    // Pages overlap (2 rows of 100), so every order is read at least once, some twice.
    let orders = stream_line(&stdout, "orders");
    assert_eq!(
        orders["rows_written"].as_u64(),
        Some(data.orders.len() as u64)
    );
    assert!(
        orders["rows_read"]
            .as_u64()
            .is_some_and(|r| r >= data.orders.len() as u64),
        "{orders}"
    );
    // A stream's requests as the simulator counted them (full-scan streams ask their one
    // endpoint only).
    let counted = server.handle.requests();
    for stream in ["members", "plans", "projects", "coupons"] {
        assert_eq!(
            stream_line(&stdout, stream)["requests"].as_u64(),
            Some(counted.get(stream)),
            "requests of {stream}"
        );
    }
    let verdict = stdout
        .iter()
        .find(|v| v["message"] == "bot summary")
        .expect("a bot summary");
    assert_eq!(
        (verdict["verdict"].as_str(), verdict["exit_code"].as_u64()),
        (Some("synced"), Some(0))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_and_a_refused_run_are_json_lines_too() {
    let server = start_sim(sim_options(200, 40)).await;
    let dir = tempdir();
    // The API down for every request: exit 6, each stream failed, all of it JSON.
    server.handle.set_faults(FaultOptions {
        share_5xx: 1.0,
        ..FaultOptions::default()
    });
    let out = sync_json(&server.base_url(), dir.path(), &[]);
    let (stdout, stderr) = json_lines(&out);
    assert_eq!(out.status.code(), Some(6), "{stdout:#?}\n{stderr:#?}");
    let orders = stream_line(&stdout, "orders");
    assert_eq!(orders["status"], "failed", "{orders}");
    assert!(
        orders["error"]
            .as_str()
            .is_some_and(|e| e.contains("/orders")),
        "{orders}"
    );
    assert_eq!(orders["level"], "ERROR");
    let verdict = stdout
        .iter()
        .find(|v| v["message"] == "bot summary")
        .expect("a bot summary");
    assert_eq!(verdict["exit_code"], 6, "{verdict}");
    assert!(
        stderr
            .iter()
            .any(|v| v["level"] == "ERROR" || v["level"] == "WARN")
    );

    // Refused before anything runs (a bad setting): the failure is one JSON line.
    let out = sync_json(&server.base_url(), dir.path(), &["--pages-in-flight", "0"]);
    let (stdout, stderr) = json_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr:#?}");
    assert!(stdout.is_empty(), "{stdout:#?}");
    let failure = stderr.last().expect("the failure");
    assert_eq!(failure["level"], "ERROR", "{failure}");
    assert_eq!(failure["exit_code"], 2, "{failure}");
    assert!(
        failure["message"]
            .as_str()
            .is_some_and(|m| m.contains("pages_in_flight")),
        "{failure}"
    );
    let all = format!("{stdout:?}{stderr:?}");
    assert!(!all.contains(TEST_KEY), "the key never reaches the output");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_format_json_is_one_object_per_section() {
    let server = start_sim(sim_options(150, 30)).await;
    let dir = tempdir();
    let out = sync_json(&server.base_url(), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0));
    let warehouse = dir.path().join("warehouse.duckdb");
    let out = bin()
        .args([
            "status",
            "--format",
            "json",
            "--log-format",
            "json",
            "--warehouse",
        ])
        .arg(&warehouse)
        .output()
        .expect("status runs");
    let (stdout, stderr) = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr:#?}");
    assert_eq!(
        stdout[0]["warehouse"].as_str(),
        warehouse.to_str(),
        "{stdout:#?}"
    );
    let sections: Vec<&str> = stdout[1..]
        .iter()
        .filter_map(|v| v["section"].as_str())
        .collect();
    assert_eq!(
        sections,
        [
            "Last runs",
            "Rows per table",
            "Stream state",
            "Lake tables",
            "Exchange rates"
        ]
    );
    let conn = Connection::open(&warehouse).expect("warehouse");
    let orders = count(&conn, "SELECT count(*) FROM orders");
    let rows = stdout[2]["rows"].as_array().expect("rows");
    let orders_row = rows
        .iter()
        .find(|r| r["table"] == "orders")
        .unwrap_or_else(|| panic!("an orders row: {rows:#?}"));
    assert_eq!(orders_row["live"].as_i64(), Some(orders), "{orders_row}");
    assert_eq!(orders_row["bot_id"], BOT_ID, "{orders_row}");
    let runs = stdout[1]["rows"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "success", "{runs:#?}");
    server.shutdown().await;
}
