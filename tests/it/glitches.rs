//! An API that glitches (issue 20): answers that are well-formed but wrong must never
//! delete live rows, rows no column type can hold must not stop a stream, and a run is
//! bounded in body size, pages and time. Each glitch is a simulator switch
//! (`FaultOptions`), so they stay tested.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use duckdb::Connection;
use serde_json::Value;
use tgm_sync::api::pager::PageCap;
use tgm_sync::cli::sync::exit_for;
use tgm_sync::exit::Exit;
use tgm_sync::sim::{FaultOptions, SimServer, bad_rows};
use tgm_sync::sync::{self, SyncOptions};

use crate::support::*;
use crate::sync::{assert_equals_sim, assert_parquet_equals_duckdb, open, sim_orders};

/// Orders span 4 pages of 100 (overlapping by 2); the other lists one page each.
fn small_sim() -> tgm_sync::sim::SimOptions {
    sim_options(330, 120)
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The warehouse equals the simulator's data and the Parquet mirror equals the warehouse.
fn assert_exact(dir: &Path, server: &SimServer) {
    let conn = Connection::open(dir.join("warehouse.duckdb")).expect("warehouse");
    assert_equals_sim(&conn, &server.handle.data());
    assert_parquet_equals_duckdb(&conn, &dir.join("parquet"));
}

/// The summary's lines that refuse deletes.
fn refusal_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("refused to delete"))
        .map(str::to_string)
        .collect()
}

/// A first, good sync through the binary.
fn good_sync(server: &SimServer, dir: &Path) {
    let out = sync_quickly_failing(server, dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_exact(dir, server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_answered_empty_delete_nothing_and_exit_3() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    good_sync(&server, dir.path());
    let glitches = [
        (
            "ok:true with []",
            FaultOptions {
                empty_lists: true,
                ..FaultOptions::default()
            },
        ),
        (
            "ok:true without result",
            FaultOptions {
                lists_without_result: true,
                ..FaultOptions::default()
            },
        ),
    ];
    let data = server.handle.data();
    for (case, faults) in glitches {
        server.handle.set_faults(faults);
        let out = sync_quickly_failing(&server, dir.path(), &["--full-refresh"]);
        server.handle.set_faults(FaultOptions::default());
        assert_eq!(out.status.code(), Some(3), "{case}: exit 3\n{}", text(&out));
        assert_exact(dir.path(), &server);
        // One line per stream whose rows would have gone, naming it, the counts and the flag.
        let lines = refusal_lines(&out);
        let streams = [
            ("members", data.memberships.len()),
            ("plans", data.plans.len()),
            ("projects", data.projects.len()),
            ("coupons", data.coupons.len()),
            ("orders", data.orders.len()),
        ];
        for (stream, live) in streams {
            let found: Vec<&String> = lines
                .iter()
                .filter(|l| l.contains(&format!(" {stream}: ")))
                .collect();
            assert_eq!(found.len(), 1, "{case}: one line for {stream}: {lines:#?}");
            let line = found[0];
            assert!(
                line.contains(&BOT_ID.to_string())
                    && line.contains(&format!("refused to delete {live} of {live} live rows"))
                    && line.contains("--allow-large-deletes"),
                "{case}: {line}"
            );
        }
    }
    // The API is well again: a normal run is exact and exits 0.
    let out = sync_quickly_failing(&server, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(refusal_lines(&out).is_empty(), "{}", text(&out));
    assert_exact(dir.path(), &server);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_offset_is_an_error_naming_it_and_deletes_nothing() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    good_sync(&server, dir.path());
    server.handle.set_faults(FaultOptions {
        ignore_offset: true,
        ..FaultOptions::default()
    });
    let out = sync_quickly_failing(&server, dir.path(), &["--full-refresh"]);
    server.handle.set_faults(FaultOptions::default());
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    let orders_line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("orders"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        orders_line.contains("failed")
            && orders_line.contains("/orders")
            && orders_line.contains("offset 98"),
        "the orders stream fails naming the offset: {orders_line}\n{all}"
    );
    assert!(!all.contains(TEST_KEY));
    assert_exact(dir.path(), &server);
    let out = sync_quickly_failing(&server, dir.path(), &["--full-refresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_exact(dir.path(), &server);
    server.shutdown().await;
}

/// `_rejected`'s `(stream, reason, raw JSON)` rows of the latest run.
fn rejected_rows(dir: &Path) -> Vec<(String, String, Value)> {
    let conn = Connection::open(dir.join("warehouse.duckdb")).expect("warehouse");
    let mut stmt = conn
        .prepare(
            "SELECT stream, reason, raw_json FROM _rejected \
             WHERE run_id = (SELECT max(run_id) FROM _sync_runs) ORDER BY stream, reason",
        )
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))
        .expect("rows")
        .map(|row| {
            let (stream, reason, raw) = row.expect("row");
            (
                stream,
                reason,
                serde_json::from_str(&raw).expect("raw JSON"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_no_type_can_hold_are_rejected_with_their_reason_and_the_rest_load() {
    let server = start_sim(small_sim()).await;
    let data = server.handle.data();
    let bad = bad_rows(&data);
    assert_eq!(bad.len(), 7);
    server.handle.set_faults(FaultOptions {
        bad_rows: true,
        ..FaultOptions::default()
    });
    // A fresh warehouse: every good row loads, every bad one is in _rejected; twice, so
    // a later run with the same rows still works.
    let dir = tempdir();
    for run in ["first", "second"] {
        let out = sync_quickly_failing(&server, dir.path(), &[]);
        assert_eq!(out.status.code(), Some(3), "{run}: {}", text(&out));
        let rejected = rejected_rows(dir.path());
        assert_eq!(rejected.len(), bad.len(), "{run}: {rejected:#?}");
        for b in &bad {
            let reason = match (b.field, &b.value) {
                (field, None) => format!("field `{field}`: missing"),
                ("member_id", Some(v)) => {
                    format!("field `member_id`: {v} is beyond a 64-bit integer")
                }
                ("amount", Some(_)) => "does not fit DECIMAL(38,18)".to_string(),
                (field, Some(v)) if b.stream == "members" => {
                    format!("field `membership.{field}`: {v} is a date outside years 1 to 9999")
                }
                (field, Some(v)) => {
                    format!("field `{field}`: {v} is a date outside years 1 to 9999")
                }
            };
            let found = rejected.iter().any(|(stream, why, raw)| {
                stream == b.stream
                    && why.contains(&reason)
                    && match b.stream {
                        "orders" => {
                            raw.get("order_key").and_then(Value::as_str) == Some(b.key.as_str())
                                || (b.field == "order_key" && raw.get("order_key").is_none())
                        }
                        _ => b.key.starts_with(&format!("{}/", raw["member_id"])),
                    }
            });
            assert!(
                found,
                "{run}: {b:?} rejected with `{reason}`: {rejected:#?}"
            );
        }
        let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
        let mut want = sim_orders(&data);
        for b in bad.iter().filter(|b| b.stream == "orders") {
            want.remove(&b.key);
        }
        assert_eq!(
            crate::sync::warehouse_orders(&conn),
            want,
            "{run}: the good orders"
        );
        let members: i64 = conn
            .query_row(
                "SELECT count(*) FROM members WHERE _deleted_at IS NULL",
                [],
                |r| r.get(0),
            )
            .expect("members");
        assert_eq!(members as usize, data.memberships.len() - 2, "{run}");
        let (null_dates, owed_null): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM orders WHERE order_date IS NULL), \
                 (SELECT count(*) FROM _parquet_dirty WHERE partition IS NULL)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("nulls");
        assert_eq!((null_dates, owed_null), (0, 0), "{run}");
        assert_parquet_equals_duckdb(&conn, &dir.path().join("parquet"));
    }
    // The rows are fixed: a normal run loads them and is exact.
    server.handle.set_faults(FaultOptions::default());
    let out = sync_quickly_failing(&server, dir.path(), &["--full-refresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_exact(dir.path(), &server);

    // After a good sync, a full scan that rejects rows deletes none of them: those with a
    // readable key are kept as they were, and the order without one (it may be any live
    // order) stops the orders deletes, in one line.
    server.handle.set_faults(FaultOptions {
        bad_rows: true,
        ..FaultOptions::default()
    });
    let out = sync_quickly_failing(&server, dir.path(), &["--full-refresh"]);
    server.handle.set_faults(FaultOptions::default());
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_exact(dir.path(), &server);
    let lines = refusal_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains(" orders: refused to delete 1 of 330 live rows")
            && lines[0].contains("1 rows without a readable key"),
        "{}",
        lines[0]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_rows_vanishing_at_once_is_refused_until_allowed() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    good_sync(&server, dir.path());
    let live_members = |dir: &Path| -> i64 {
        Connection::open(dir.join("warehouse.duckdb"))
            .expect("warehouse")
            .query_row(
                "SELECT count(*) FROM members WHERE _deleted_at IS NULL",
                [],
                |r| r.get(0),
            )
            .expect("count")
    };
    // 80 of 120 (more than half) vanish.
    server.handle.remove_memberships(80);
    let out = sync_quickly_failing(&server, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let lines = refusal_lines(&out);
    assert_eq!(lines.len(), 1, "one line: {lines:#?}");
    assert!(
        lines[0].contains(&BOT_ID.to_string())
            && lines[0].contains(" members: refused to delete 80 of 120 live rows")
            && lines[0].contains("max_delete_share")
            && lines[0].contains("--allow-large-deletes"),
        "{}",
        lines[0]
    );
    assert_eq!(live_members(dir.path()), 120, "nothing deleted");
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    let (status, error): (String, String) = conn
        .query_row(
            "SELECT status, error FROM _sync_runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("run");
    assert_eq!(status, "partial");
    assert!(
        error.contains("members: refused to delete 80 of 120"),
        "{error}"
    );
    drop(conn);
    // The user says they are gone.
    let out = sync_quickly_failing(&server, dir.path(), &["--allow-large-deletes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(live_members(dir.path()), 40);
    assert_exact(dir.path(), &server);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_an_error_naming_the_endpoint_and_its_size() {
    let server = start_sim(sim_options(30, 10)).await;
    let dir = tempdir();
    server.handle.set_faults(FaultOptions {
        oversized_body_bytes: Some(300_000),
        ..FaultOptions::default()
    });
    let out = sync_quickly_failing(&server, dir.path(), &["--max-response-bytes", "200000"]);
    let all = text(&out);
    assert_ne!(out.status.code(), Some(0), "{all}");
    let plans = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("plans"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        plans.contains("/plans answered")
            && plans.contains("bytes, over the 200000-byte cap")
            && plans.contains("max_response_bytes"),
        "{plans}\n{all}"
    );
    assert!(!all.contains(TEST_KEY));
    // Not retried: the next answer would be as large.
    assert_eq!(server.handle.requests().get("plans"), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_its_deadline_stops_records_itself_and_releases_the_warehouse() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    settings.run_deadline = Some(Duration::from_secs(1));
    server.handle.set_faults(FaultOptions {
        latency_ms: 600,
        ..FaultOptions::default()
    });
    let started = std::time::Instant::now();
    let outcome = sync::run(&settings, &SyncOptions::default())
        .await
        .expect("the run starts");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped soon after the deadline: {:?}",
        started.elapsed()
    );
    assert_eq!(exit_for(&outcome), Exit::Deadline);
    assert_eq!(Exit::Deadline.code(), 9);
    let conn = open(&settings);
    let (status, error): (String, String) = conn
        .query_row(
            "SELECT status, error FROM _sync_runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the run is recorded");
    assert_ne!(status, "running");
    assert!(error.contains("deadline"), "{error}");
    drop(conn);
    // The warehouse is free again: a run without the deadline takes it and completes.
    server.handle.set_faults(FaultOptions::default());
    settings.run_deadline = None;
    let outcome = crate::sync::sync_once(&settings).await;
    assert_eq!(exit_for(&outcome), Exit::Success);
    assert_equals_sim(&open(&settings), &server.handle.data());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_past_its_page_cap_fails_its_stream_naming_the_count() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    // An empty warehouse allows 2 pages; orders need 4.
    settings.page_cap = PageCap {
        floor: 2,
        per_known_page: 1,
    };
    let outcome = sync::run(&settings, &SyncOptions::default())
        .await
        .expect("the run starts");
    let failures: Vec<String> = outcome
        .failures()
        .map(|(_, s, f)| format!("{}: {}", s.stream, f.message))
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("orders: /orders") && failures[0].contains("past 2 pages"),
        "{failures:?}"
    );
    assert_eq!(exit_for(&outcome), Exit::Partial);
    let orders: i64 = open(&settings)
        .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
        .expect("count");
    assert_eq!(orders, 0, "nothing of the capped stream committed");
    server.shutdown().await;
}
