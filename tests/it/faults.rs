//! The fault-injection matrix: every fault the network and the API can produce, injected
//! by the simulator (dice for transport faults, a response hook for malformed answers).
//!
//! Each case ends one of two ways: the run completes with exactly the simulator's data
//! (no row lost, none duplicated), or it stops with the documented exit code and a
//! message naming the stream, the endpoint and the cause, and every table the failed
//! streams own is byte for byte as it was before the run (Parquet files included).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::util::pretty::pretty_format_batches;
use duckdb::Connection;
use serde_json::{Value, json};
use tgm_sync::api::Method;
use tgm_sync::api::retry::RetryPolicy;
use tgm_sync::cli::sync::exit_for;
use tgm_sync::config::Settings;
use tgm_sync::exit::Exit;
use tgm_sync::sim::{FaultOptions, Quirks, RequestInfo, SimServer};
use tgm_sync::sync::{self, FailureKind, RunOutcome, SyncOptions};

use crate::support::*;
use crate::sync::{
    assert_equals_sim, assert_parquet_equals_duckdb, open, sim_orders, warehouse_orders,
};

/// Runs the library's sync and maps the outcome to the exit code the binary would give.
async fn run(settings: &Settings, options: &SyncOptions) -> (RunOutcome, Exit) {
    let outcome = sync::run(settings, options).await.expect("run starts");
    let exit = exit_for(&outcome);
    (outcome, exit)
}

fn failures(outcome: &RunOutcome) -> Vec<String> {
    outcome
        .failures()
        .map(|(_, s, f)| format!("{}: {}", s.stream, f.message))
        .collect()
}

/// A small data set: orders span 4 pages of 100 (overlapping by 2), the rest one page each.
fn small_sim() -> tgm_sync::sim::SimOptions {
    sim_options(330, 120)
}

/// The exact-data checks after a run that must have completed: same rows as the
/// simulator, each order once, Parquet equal to DuckDB.
fn assert_complete(settings: &Settings, server: &SimServer, case: &str) {
    let conn = open(settings);
    assert_equals_sim(&conn, &server.handle.data());
    let (rows, keys): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT order_key) FROM orders",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!(
        (rows, keys),
        (server.handle.data().orders.len() as i64, rows),
        "{case}: every order exactly once"
    );
    assert_parquet_equals_duckdb(&conn, settings.parquet_dir.as_deref().expect("parquet on"));
}

/// What a failed stream must leave untouched: its tables (every column), its sync state
/// and its Parquet files (bytes).
fn snapshot(settings: &Settings, tables: &[&str]) -> String {
    let conn = Connection::open(&settings.warehouse).expect("warehouse");
    let mut out = String::new();
    let dump = |sql: &str, out: &mut String| {
        let batches: Vec<_> = conn
            .prepare(sql)
            .expect("query")
            .query_arrow([])
            .expect("arrow")
            .collect();
        out.push_str(&format!(
            "{sql}\n{}\n",
            pretty_format_batches(&batches).expect("format")
        ));
    };
    for table in tables {
        dump(&format!("SELECT * FROM {table} ORDER BY ALL"), &mut out);
        dump(
            &format!("SELECT * FROM _sync_state WHERE stream = '{table}' ORDER BY ALL"),
            &mut out,
        );
        let mut files = BTreeMap::new();
        let mut stack = vec![
            settings
                .parquet_dir
                .as_deref()
                .expect("parquet on")
                .join(table),
        ];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let mut h = DefaultHasher::new();
                    std::fs::read(&path).expect("file").hash(&mut h);
                    files.insert(path.display().to_string(), h.finish());
                }
            }
        }
        out.push_str(&format!("parquet {table}: {files:?}\n"));
    }
    let owed: i64 = conn
        .query_row("SELECT count(*) FROM _parquet_dirty", [], |r| r.get(0))
        .expect("owed");
    out.push_str(&format!("owed partitions: {owed}\n"));
    out
}

const DATA_TABLES: [&str; 6] = [
    "orders",
    "members",
    "plans",
    "projects",
    "coupons",
    "payment_methods",
];

/// A first, clean run, then changes in the API that a second run would bring over.
async fn synced_then_changed(server: &SimServer, settings: &Settings) {
    crate::sync::sync_once(settings).await;
    let h = &server.handle;
    h.add_orders(25);
    h.refund(5);
    h.remove_memberships(4);
    let plan = h.data().plans[0].plan_id;
    h.rename_plan(plan, "Renamed during the fault test");
}

fn with_retry(settings: &mut Settings, attempts: u32) {
    settings.retry = RetryPolicy {
        max_attempts: attempts,
        ..fast_retry()
    };
}

// ---------------------------------------------------------------------------------------
// Transient faults: the run completes with the exact data set.
// ---------------------------------------------------------------------------------------

/// One transient fault kind at a share of requests; which counter proves it was injected.
struct Transient {
    name: &'static str,
    faults: FaultOptions,
    injected: fn(&tgm_sync::sim::FaultCounts) -> u64,
}

fn transient_cases() -> Vec<Transient> {
    vec![
        Transient {
            name: "429 without Retry-After",
            faults: FaultOptions {
                share_429: 0.1,
                retry_after_secs: None,
                ..FaultOptions::default()
            },
            injected: |c| c.rate_limited,
        },
        Transient {
            name: "429 with Retry-After: 0 header",
            faults: FaultOptions {
                share_429: 0.1,
                retry_after_secs: Some(0),
                ..FaultOptions::default()
            },
            injected: |c| c.rate_limited,
        },
        Transient {
            name: "429 with retry_after in the body",
            faults: FaultOptions {
                share_429: 0.1,
                retry_after_secs: Some(0),
                retry_after_in_body: true,
                ..FaultOptions::default()
            },
            injected: |c| c.rate_limited,
        },
        Transient {
            name: "5xx",
            faults: FaultOptions {
                share_5xx: 0.35,
                ..FaultOptions::default()
            },
            injected: |c| c.server_errors,
        },
        Transient {
            name: "truncated JSON",
            faults: FaultOptions {
                share_truncated: 0.35,
                ..FaultOptions::default()
            },
            injected: |c| c.truncated,
        },
        Transient {
            name: "dropped connection",
            faults: FaultOptions {
                share_dropped: 0.35,
                ..FaultOptions::default()
            },
            injected: |c| c.dropped,
        },
        Transient {
            name: "ok:false under HTTP 200",
            faults: FaultOptions {
                share_ok_false_200: 0.35,
                ..FaultOptions::default()
            },
            injected: |c| c.ok_false,
        },
        Transient {
            name: "all of them at once",
            faults: FaultOptions {
                share_429: 0.04,
                retry_after_secs: Some(0),
                share_5xx: 0.08,
                share_truncated: 0.08,
                share_dropped: 0.08,
                share_ok_false_200: 0.08,
                ..FaultOptions::default()
            },
            injected: |c| c.total(),
        },
    ]
}

/// One transient case: a first run (full scan) under the fault, and for `incremental`
/// a change in the API and an incremental run under the fault as well.
async fn check_transient(server: &SimServer, case: &Transient, incremental: bool) {
    let dir = tempdir();
    let settings = settings_for(server, dir.path());
    server.handle.reset_counts();
    let mut runs = vec![false];
    if incremental {
        runs.push(true);
    }
    let mut retries = 0;
    for second in runs {
        if second {
            server.handle.add_orders(7);
            server.handle.refund(2);
        }
        server.handle.set_faults(case.faults.clone());
        let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
        server.handle.set_faults(FaultOptions::default());
        assert_eq!(
            exit,
            Exit::Success,
            "{}: {:?}",
            case.name,
            failures(&outcome)
        );
        assert_complete(&settings, server, case.name);
        retries += outcome.bots[0]
            .streams
            .iter()
            .map(|s| s.figures.retries)
            .sum::<u64>();
    }
    let counts = server.handle.requests().faults;
    let injected = (case.injected)(&counts);
    assert!(
        injected > 0,
        "{}: the fault was injected ({counts:?})",
        case.name
    );
    let conn = open(&settings);
    let recorded: i64 = conn
        .query_row("SELECT sum(retries) FROM _sync_runs", [], |r| r.get(0))
        .expect("retries");
    assert!(
        recorded > 0 && recorded as u64 >= retries,
        "{}: retries made ({retries}) and recorded in _sync_runs ({recorded})",
        case.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_transport_faults_end_in_the_exact_data_set() {
    let server = start_sim(small_sim()).await;
    let cases: Vec<Transient> = transient_cases()
        .into_iter()
        .filter(|c| !c.name.starts_with("429"))
        .collect();
    assert_eq!(cases.len(), 5);
    for case in &cases {
        check_transient(&server, case, case.name == "all of them at once").await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_with_and_without_retry_after_end_in_the_exact_data_set() {
    let server = start_sim(small_sim()).await;
    let cases: Vec<Transient> = transient_cases()
        .into_iter()
        .filter(|c| c.name.starts_with("429"))
        .collect();
    assert_eq!(cases.len(), 3);
    for case in &cases {
        check_transient(&server, case, false).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_for_from_the_header_and_from_the_body() {
    let server = start_sim(sim_options(30, 10)).await;
    for in_body in [false, true] {
        server.handle.reset_counts();
        server.handle.set_faults(FaultOptions {
            share_429: 0.5,
            retry_after_secs: Some(1),
            retry_after_in_body: in_body,
            ..FaultOptions::default()
        });
        let client = client_for(&server);
        let started = Instant::now();
        // Sequential requests until one 429 was answered (the dice are seeded; bounded).
        for _ in 0..10 {
            client.get(&Method::Plans, &[]).await.expect("retried");
            if server.handle.requests().faults.rate_limited > 0 {
                break;
            }
        }
        let limited = server.handle.requests().faults.rate_limited;
        assert!(limited > 0, "a 429 was served");
        // The backoff alone would wait at most 20 ms per retry.
        assert!(
            started.elapsed() >= Duration::from_secs(limited),
            "waited Retry-After (in body: {in_body}): {:?} for {limited} 429s",
            started.elapsed()
        );
        assert_eq!(client.stats().rate_limited(), limited);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_retried_until_the_api_answers_in_time() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    settings.timeout = Duration::from_millis(250);
    server.handle.set_faults(FaultOptions {
        latency_ms: 700,
        ..FaultOptions::default()
    });
    // Heal once a request has timed out and been sent again: `/plans` fits one page
    // (one request per run), so a second `/plans` request is a retry. Bounded wait,
    // however long the warehouse takes to open on a busy machine.
    let handle = server.handle.clone();
    let healer = tokio::spawn(async move {
        for _ in 0..600 {
            if handle.requests().get("plans") >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        handle.set_faults(FaultOptions::default());
    });
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    healer.await.expect("healer");
    assert_eq!(exit, Exit::Success, "{:?}", failures(&outcome));
    let retries: u64 = outcome.bots[0]
        .streams
        .iter()
        .map(|s| s.figures.retries)
        .sum();
    assert!(retries > 0, "requests timed out and were retried");
    assert_complete(&settings, &server, "timeouts");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_quirks_load_the_same_data_and_unknown_fields_land_in_extra() {
    let server = start_sim(small_sim()).await;
    let quirks = [
        Quirks {
            ids_as_strings: true,
            ..Quirks::default()
        },
        Quirks {
            money_as_numbers: true,
            ..Quirks::default()
        },
        Quirks {
            omit_ok: true,
            ..Quirks::default()
        },
        Quirks {
            extra_fields: true,
            ..Quirks::default()
        },
        Quirks {
            float_revenue: true,
            ..Quirks::default()
        },
    ];
    for q in quirks {
        server.handle.set_quirks(q);
        let dir = tempdir();
        let settings = settings_for(&server, dir.path());
        let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
        assert_eq!(exit, Exit::Success, "{q:?}: {:?}", failures(&outcome));
        assert_eq!(outcome.rows_rejected(), 0, "{q:?}: nothing rejected");
        assert_complete(&settings, &server, &format!("{q:?}"));
        let conn = open(&settings);
        // users_count_history too: /users/count keeps unknown fields like every stream.
        for table in DATA_TABLES.into_iter().chain(["users_count_history"]) {
            let extras: Vec<Option<String>> = conn
                .prepare(&format!("SELECT _extra::VARCHAR FROM {table}"))
                .expect("query")
                .query_map([], |r| r.get(0))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert!(!extras.is_empty(), "{table} has rows");
            for extra in extras {
                if q.extra_fields {
                    let v: Value = serde_json::from_str(extra.as_deref().unwrap_or("null"))
                        .expect("_extra is JSON");
                    assert_eq!(
                        (v.get("sim_extra"), v.get("sim_meta")),
                        (
                            Some(&json!("unknown field")),
                            Some(&json!({"version": 2, "tags": ["a", "b"]}))
                        ),
                        "{table}: unknown fields kept as sent"
                    );
                } else {
                    assert_eq!(extra, None, "{table} {q:?}: nothing unknown");
                }
            }
        }
    }
    server.shutdown().await;
}

/// The `offset` of an `/orders` request, if it is one.
fn orders_offset(info: &RequestInfo) -> Option<u64> {
    (info.method_path == "orders")
        .then(|| info.param("offset").and_then(|o| o.parse().ok()))
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_or_repeated_page_served_once_does_not_lose_rows() {
    let server = start_sim(small_sim()).await;
    // Once: the second page of /orders comes back empty.
    let served = Arc::new(Mutex::new(0u32));
    let count = Arc::clone(&served);
    server.handle.set_response_hook(Some(Arc::new(
        move |info: &RequestInfo, body: &mut Value| {
            let mut n = count.lock().expect("lock");
            if orders_offset(info) == Some(98) && *n == 0 {
                *n += 1;
                body["result"] = json!([]);
            }
        },
    )));
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    assert_eq!(
        *served.lock().expect("lock"),
        1,
        "the empty page was served"
    );
    assert_eq!(exit, Exit::Success, "{:?}", failures(&outcome));
    assert_complete(&settings, &server, "empty page once");

    // Once: the third page of /orders repeats the first (served alone, so always before it).
    let second: Arc<Mutex<(Option<Value>, u32)>> = Arc::new(Mutex::new((None, 0)));
    let state = Arc::clone(&second);
    server.handle.set_response_hook(Some(Arc::new(
        move |info: &RequestInfo, body: &mut Value| {
            let mut s = state.lock().expect("lock");
            match orders_offset(info) {
                Some(0) if s.0.is_none() => s.0 = Some(body["result"].clone()),
                Some(196) if s.1 == 0 => {
                    if let Some(page) = s.0.clone() {
                        s.1 += 1;
                        body["result"] = page;
                    }
                }
                _ => {}
            }
        },
    )));
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    assert_eq!(
        second.lock().expect("lock").1,
        1,
        "the repeated page was served"
    );
    assert_eq!(exit, Exit::Success, "{:?}", failures(&outcome));
    assert_complete(&settings, &server, "repeated page once");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Persistent faults: the run stops with its exit code, naming stream, endpoint and
// cause, and the failed streams' tables are as before the run.
// ---------------------------------------------------------------------------------------

/// Every stream failed for `cause`, each message naming its stream's endpoint.
fn assert_all_failed(outcome: &RunOutcome, cause: &str, case: &str) {
    let bot = &outcome.bots[0];
    assert!(!bot.streams.is_empty(), "{case}: streams ran");
    for s in &bot.streams {
        let failure = s
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{case}: {} failed", s.stream));
        let endpoint = match s.stream.as_str() {
            "payment_methods" => "/paymentMethods".to_string(),
            "users_count" => "/users/count".to_string(),
            other => format!("/{other}"),
        };
        assert_eq!(
            failure.kind,
            FailureKind::Unavailable,
            "{case}: {}",
            failure.message
        );
        assert!(
            failure.message.contains(&endpoint) && failure.message.contains(cause),
            "{case}: {} names {endpoint} and `{cause}`: {}",
            s.stream,
            failure.message
        );
        assert!(!failure.message.contains(TEST_KEY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistently_failing_api_stops_with_exit_6_and_leaves_the_warehouse_as_it_was() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    synced_then_changed(&server, &settings).await;
    let before = snapshot(&settings, &DATA_TABLES);
    with_retry(&mut settings, 3);
    let cases: [(&str, FaultOptions, &str); 4] = [
        (
            "5xx",
            FaultOptions {
                share_5xx: 1.0,
                ..FaultOptions::default()
            },
            "server error (HTTP 5",
        ),
        (
            "truncated",
            FaultOptions {
                share_truncated: 1.0,
                ..FaultOptions::default()
            },
            "malformed JSON body",
        ),
        (
            "dropped",
            FaultOptions {
                share_dropped: 1.0,
                ..FaultOptions::default()
            },
            "connection broke while reading the body",
        ),
        (
            "ok:false under 200",
            FaultOptions {
                share_ok_false_200: 1.0,
                ..FaultOptions::default()
            },
            "Service Unavailable",
        ),
    ];
    for (case, faults, cause) in cases {
        server.handle.set_faults(faults);
        let started = Instant::now();
        let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
        assert_eq!(exit, Exit::Unavailable, "{case}: {:?}", failures(&outcome));
        assert_all_failed(&outcome, cause, case);
        assert_eq!(outcome.bots[0].streams.len(), 7, "{case}: every stream ran");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{case}: gave up within the bound ({:?})",
            started.elapsed()
        );
        assert_eq!(
            snapshot(&settings, &DATA_TABLES),
            before,
            "{case}: warehouse unchanged"
        );
        let conn = open(&settings);
        let (status, error): (String, String) = conn
            .query_row(
                "SELECT status, error FROM _sync_runs ORDER BY run_id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("run recorded");
        assert_eq!(status, "failed", "{case}");
        assert!(
            error.contains("orders: /orders") && error.contains(cause),
            "{case}: {error}"
        );
    }
    // Timeouts: every answer later than the timeout.
    settings.timeout = Duration::from_millis(150);
    server.handle.set_faults(FaultOptions {
        latency_ms: 400,
        ..FaultOptions::default()
    });
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    assert_eq!(
        exit,
        Exit::Unavailable,
        "timeouts: {:?}",
        failures(&outcome)
    );
    assert_all_failed(&outcome, "timed out", "timeouts");
    assert_eq!(
        snapshot(&settings, &DATA_TABLES),
        before,
        "timeouts: warehouse unchanged"
    );

    // The API recovers: the next run brings everything over.
    server.handle.set_faults(FaultOptions::default());
    settings.timeout = Duration::from_secs(10);
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    assert_eq!(exit, Exit::Success, "{:?}", failures(&outcome));
    assert_complete(&settings, &server, "after recovery");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_rate_limit_stops_with_exit_6_within_the_bound() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    synced_then_changed(&server, &settings).await;
    let before = snapshot(&settings, &DATA_TABLES);
    // One stream: after each 429 the pacer doubles the spacing of all requests of the bot
    // (up to 5 s), so the bound is the number of requests times that.
    with_retry(&mut settings, 3);
    settings.streams = vec![tgm_sync::streams::StreamName::Plans];
    server.handle.set_faults(FaultOptions {
        share_429: 1.0,
        retry_after_secs: Some(0),
        ..FaultOptions::default()
    });
    let started = Instant::now();
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    assert_eq!(exit, Exit::Unavailable, "{:?}", failures(&outcome));
    assert_all_failed(&outcome, "rate limited (HTTP 429)", "429");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up within the bound ({:?})",
        started.elapsed()
    );
    assert_eq!(
        snapshot(&settings, &DATA_TABLES),
        before,
        "429: warehouse unchanged"
    );
    server.shutdown().await;
}

/// A hook that breaks only `/orders`, every time, so the orders stream fails and the
/// others commit.
struct OrdersBreak {
    name: &'static str,
    hook: tgm_sync::sim::ResponseHook,
    exit: Exit,
    kind: FailureKind,
    cause: &'static str,
}

fn orders_breaks() -> Vec<OrdersBreak> {
    let remembered: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    vec![
        OrdersBreak {
            name: "ok:false with code 400 under HTTP 200",
            hook: Arc::new(|info, body| {
                if orders_offset(info) == Some(98) {
                    *body = json!({"ok": false, "code": 400, "description": "Bad Request: limit is out of range"});
                }
            }),
            exit: Exit::Partial,
            kind: FailureKind::Other,
            cause: "rejected the request (HTTP 400): Bad Request: limit is out of range",
        },
        OrdersBreak {
            name: "result is not a list",
            hook: Arc::new(|info, body| {
                if orders_offset(info) == Some(98) {
                    body["result"] = json!({"orders": "soon"});
                }
            }),
            exit: Exit::Partial,
            kind: FailureKind::Other,
            cause: "expected a list, got an object",
        },
        OrdersBreak {
            name: "an empty page in the middle, every time",
            hook: Arc::new(|info, body| {
                if orders_offset(info) == Some(98) {
                    body["result"] = json!([]);
                }
            }),
            exit: Exit::Partial,
            kind: FailureKind::Other,
            cause: "empty page",
        },
        OrdersBreak {
            name: "a page repeated, every time",
            hook: Arc::new(move |info, body| {
                let mut page = remembered.lock().expect("lock");
                match orders_offset(info) {
                    Some(0) => *page = Some(body["result"].clone()),
                    Some(196) => {
                        if let Some(p) = page.clone() {
                            body["result"] = p;
                        }
                    }
                    _ => {}
                }
            }),
            exit: Exit::Partial,
            kind: FailureKind::Other,
            cause: "repeats",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_orders_answer_fails_orders_alone_and_leaves_its_tables_as_they_were() {
    let server = start_sim(small_sim()).await;
    let mut tried = 0;
    for case in orders_breaks() {
        let dir = tempdir();
        let mut settings = settings_for(&server, dir.path());
        with_retry(&mut settings, 3);
        server.handle.set_response_hook(None);
        crate::sync::sync_once(&settings).await;
        server.handle.add_orders(12);
        server.handle.refund(3);
        let before = snapshot(&settings, &["orders"]);
        server.handle.set_response_hook(Some(case.hook));
        let (outcome, exit) = run(
            &settings,
            &SyncOptions {
                full_refresh: true,
                ..SyncOptions::default()
            },
        )
        .await;
        server.handle.set_response_hook(None);
        assert_eq!(exit, case.exit, "{}: {:?}", case.name, failures(&outcome));
        let failed: Vec<_> = outcome.failures().collect();
        assert_eq!(
            failed.len(),
            1,
            "{}: orders alone failed: {:?}",
            case.name,
            failures(&outcome)
        );
        let (_, stream, failure) = failed[0];
        assert_eq!(stream.stream.as_str(), "orders", "{}", case.name);
        assert_eq!(
            failure.kind, case.kind,
            "{}: {}",
            case.name, failure.message
        );
        assert!(
            failure.message.contains("/orders") && failure.message.contains(case.cause),
            "{}: message names /orders and `{}`: {}",
            case.name,
            case.cause,
            failure.message
        );
        assert_eq!(
            snapshot(&settings, &["orders"]),
            before,
            "{}: orders unchanged",
            case.name
        );
        // The next run, with the API healed, completes.
        let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
        assert_eq!(
            exit,
            Exit::Success,
            "{}: {:?}",
            case.name,
            failures(&outcome)
        );
        assert_complete(&settings, &server, case.name);
        tried += 1;
    }
    assert_eq!(tried, 4);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_stops_the_run_with_exit_4_before_writing_anything() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    synced_then_changed(&server, &settings).await;
    let before = snapshot(&settings, &DATA_TABLES);
    settings.bots[0].api_key = tgm_sync::secret::ApiKey::new("wrong-key-for-fault-test");
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    assert_eq!(exit, Exit::Auth, "{:?}", failures(&outcome));
    let (_, _, first) = outcome.failures().next().expect("a failure");
    assert!(
        first.message.contains(&BOT_ID.to_string()) && first.message.contains("HTTP 401"),
        "{}",
        first.message
    );
    assert_eq!(snapshot(&settings, &DATA_TABLES), before);
    server.shutdown().await;
}

/// An HTTP 200 whose body has no `ok` but an error `code` is classified by that code, as
/// the same code in the HTTP status would be. Regression: `{"code": 401}` under HTTP 200
/// was retried until the budget ran out (two minutes by default), then reported as exit 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_code_in_a_200_body_without_ok_is_classified_by_that_code() {
    let server = start_sim(small_sim()).await;
    struct Case {
        code: u16,
        exit: Exit,
        retried: bool,
    }
    let cases = [
        Case {
            code: 401,
            exit: Exit::Auth,
            retried: false,
        },
        Case {
            code: 403,
            exit: Exit::Auth,
            retried: false,
        },
        Case {
            code: 404,
            exit: Exit::Partial,
            retried: false,
        },
        Case {
            code: 503,
            exit: Exit::Unavailable,
            retried: true,
        },
    ];
    for case in cases {
        let code = case.code;
        server
            .handle
            .set_response_hook(Some(Arc::new(move |_info, body: &mut Value| {
                // What the API text's `/orders` sample looks like, minus `ok`, plus an error.
                *body = json!({"request_id": "1", "method": "GET", "code": code,
                               "description": format!("error {code} from the body")});
            })));
        let dir = tempdir();
        let mut settings = settings_for(&server, dir.path());
        with_retry(&mut settings, 3);
        let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
        server.handle.set_response_hook(None);
        assert_eq!(exit, case.exit, "code {code}: {:?}", failures(&outcome));
        let streams = &outcome.bots[0].streams;
        assert!(!streams.is_empty(), "code {code}: streams ran");
        for s in streams {
            let failure = s
                .error
                .as_ref()
                .unwrap_or_else(|| panic!("code {code}: {} did not fail", s.stream));
            assert!(
                failure.message.contains(&format!("HTTP {code}"))
                    && failure
                        .message
                        .contains(&format!("error {code} from the body")),
                "code {code}: {} says what the body said: {}",
                s.stream,
                failure.message
            );
            if case.retried {
                assert!(s.figures.retries > 0, "code {code}: {} retried", s.stream);
            } else {
                // On a 404, `/paymentMethods` is tried once more as `/payment_methods`
                // (the API text's sample spelling); nothing else is asked twice.
                let tries = if code == 404 && s.stream.as_str() == "payment_methods" {
                    2
                } else {
                    1
                };
                assert_eq!(
                    (s.figures.requests, s.figures.retries),
                    (tries, 0),
                    "code {code}: {} gave up after its first request",
                    s.stream
                );
            }
        }
    }
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Rows that cannot be read: `_rejected`, exit 3, and `--strict`.
// ---------------------------------------------------------------------------------------

/// Installs [`wrong_types_hook`] on `server`; returns the rows it broke, as sent.
fn break_a_few_rows(server: &SimServer) -> Arc<Mutex<BTreeMap<String, Value>>> {
    let sent = Arc::new(Mutex::new(BTreeMap::new()));
    server
        .handle
        .set_response_hook(Some(wrong_types_hook(Arc::clone(&sent))));
    sent
}

/// Breaks a few rows of `/orders` (first page) and `/members`; remembers each as sent.
fn wrong_types_hook(sent: Arc<Mutex<BTreeMap<String, Value>>>) -> tgm_sync::sim::ResponseHook {
    Arc::new(move |info, body| {
        let Some(rows) = body.get_mut("result").and_then(Value::as_array_mut) else {
            return;
        };
        let mut sent = sent.lock().expect("lock");
        if orders_offset(info) == Some(0) {
            for (i, field, bad) in [
                (3, "order_date", json!("yesterday")),
                (7, "amount", json!({"value": "12.5"})),
                (11, "member_id", json!([1, 2])),
            ] {
                rows[i][field] = bad;
                let key = rows[i]["order_key"].as_str().expect("key").to_string();
                sent.insert(format!("orders {key}"), rows[i].clone());
            }
        } else if info.method_path == "members" && info.param("offset") == Some("0") {
            rows[0]["member_id"] = json!("not-a-number");
            sent.insert("members 0".into(), rows[0].clone());
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_with_wrong_types_go_to_rejected_with_raw_json_and_reason_and_strict_fails() {
    let server = start_sim(small_sim()).await;
    let sent = break_a_few_rows(&server);
    let dir = tempdir();
    let out = sync_quickly_failing(&server, dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "rows rejected: exit 3\n{stdout}\n{stderr}"
    );
    let sent = sent.lock().expect("lock").clone();
    assert_eq!(sent.len(), 4);
    // The summary says how many, per stream.
    let rejected_of = |stream: &str| -> Option<u64> {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(stream))
            .and_then(|l| l.split_whitespace().nth(5))
            .and_then(|n| n.parse().ok())
    };
    assert_eq!(rejected_of("orders"), Some(3), "{stdout}");
    assert_eq!(rejected_of("members"), Some(1), "{stdout}");

    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    let mut stmt = conn
        .prepare("SELECT stream, reason, raw_json FROM _rejected ORDER BY stream, reason")
        .expect("query");
    let rejected: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    for (stream, reason, raw) in &rejected {
        let raw: Value = serde_json::from_str(raw).expect("raw JSON kept");
        let key = match stream.as_str() {
            "orders" => format!("orders {}", raw["order_key"].as_str().expect("key")),
            _ => "members 0".to_string(),
        };
        assert_eq!(Some(&raw), sent.get(&key), "raw JSON as sent for {key}");
        let field = ["order_date", "amount", "member_id"]
            .into_iter()
            .find(|f| reason.contains(&format!("`{f}`")))
            .unwrap_or_else(|| panic!("reason names the field: {reason}"));
        assert_ne!(raw[field], Value::Null, "{reason}");
    }
    let run_rejected: i64 = conn
        .query_row("SELECT rows_rejected FROM _sync_runs", [], |r| r.get(0))
        .expect("run");
    assert_eq!(run_rejected, 4, "_sync_runs counts the rejected rows");
    // Every other row is in, none twice.
    let data = server.handle.data();
    let mut want = sim_orders(&data);
    for key in sent.keys().filter_map(|k| k.strip_prefix("orders ")) {
        want.remove(key);
    }
    assert_eq!(warehouse_orders(&conn), want, "the other orders are loaded");
    let members: i64 = conn
        .query_row("SELECT count(*) FROM members", [], |r| r.get(0))
        .expect("members");
    assert_eq!(members as usize, data.memberships.len() - 1);
    drop(conn);

    // --strict: the same rows make the streams fail and nothing of theirs is written.
    let dir = tempdir();
    server.handle.set_response_hook(None);
    let clean = sync_quickly_failing(&server, dir.path(), &[]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    server.handle.add_orders(9);
    let settings = settings_for(&server, dir.path());
    let before = snapshot(&settings, &["orders", "members"]);
    server
        .handle
        .set_response_hook(Some(wrong_types_hook(Arc::new(
            Mutex::new(BTreeMap::new()),
        ))));
    let out = sync_quickly_failing(&server, dir.path(), &["--strict", "--full-refresh"]);
    server.handle.set_response_hook(None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "--strict: exit 3\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 rows could not be read and --strict is set (first: field `order_date`"),
        "{stdout}"
    );
    assert_eq!(
        snapshot(&settings, &["orders", "members"]),
        before,
        "--strict wrote nothing"
    );
    // ... but what could not be read is kept for diagnosis.
    let conn = duckdb::Connection::open(&settings.warehouse).expect("warehouse");
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM _rejected WHERE stream = 'orders' \
             AND run_id = (SELECT max(run_id) FROM _sync_runs)",
            [],
            |r| r.get(0),
        )
        .expect("rejected rows");
    assert_eq!(kept, 3, "--strict keeps the unreadable rows in _rejected");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_api_through_the_binary_names_stream_endpoint_and_cause() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let ok = sync_quickly_failing(&server, dir.path(), &[]);
    assert_eq!(ok.status.code(), Some(0));
    let settings = settings_for(&server, dir.path());
    server.handle.add_orders(5);
    let before = snapshot(&settings, &DATA_TABLES);
    server.handle.set_faults(FaultOptions {
        share_5xx: 1.0,
        ..FaultOptions::default()
    });
    let out = sync_quickly_failing(&server, dir.path(), &["--log-format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stdout}\n{stderr}");
    // With JSON logs the summary is JSON lines too: one per stream.
    let line = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "stream summary" && v["stream"] == "orders")
        .unwrap_or_else(|| panic!("a summary line for orders: {stdout}"));
    assert_eq!(line["status"], "failed", "{line}");
    assert!(
        line["error"].as_str().is_some_and(|e| {
            e.contains("/orders unavailable after 3 attempts") && e.contains("server error (HTTP 5")
        }),
        "{line}"
    );
    let logged = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|v| {
            v["stream"] == "orders" && v["message"].as_str().is_some_and(|m| m.contains("/orders"))
        });
    assert!(
        logged,
        "a JSON log line names stream and endpoint: {stderr}"
    );
    assert_eq!(snapshot(&settings, &DATA_TABLES), before);
    server.shutdown().await;
}

/// Regression: a stream that committed with rows it could not read (`partial`) was shown
/// as failed in the metrics (`tgm_sync_stream_success` 0), like one that wrote nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_stream_counts_as_synced_in_the_metrics() {
    let server = start_sim(small_sim()).await;
    break_a_few_rows(&server);
    let dir = tempdir();
    let metrics = dir.path().join("tgm.prom");
    let out = sync_quickly_failing(
        &server,
        dir.path(),
        &["--metrics-file", metrics.to_str().expect("utf-8")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "rows rejected: exit 3\n{stdout}"
    );
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    let status_of = |stream: &str| -> String {
        conn.query_row(
            "SELECT status FROM _sync_run_streams WHERE stream = ?",
            [stream],
            |r| r.get(0),
        )
        .expect("stream recorded")
    };
    let text = std::fs::read_to_string(&metrics).expect("metrics file");
    let sample = |name: &str, stream: &str| -> Option<String> {
        let prefix = format!("{name}{{bot_id=\"{BOT_ID}\",stream=\"{stream}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    };
    // The hook broke rows of these two streams only; the others synced whole.
    for (stream, status) in [
        ("orders", "partial"),
        ("members", "partial"),
        ("plans", "success"),
    ] {
        assert_eq!(status_of(stream), status, "{stream} in _sync_run_streams");
        assert_eq!(
            sample("tgm_sync_stream_success", stream).as_deref(),
            Some("1"),
            "{stream} ({status}) synced: 1 in the metrics\n{text}"
        );
        assert!(
            sample("tgm_sync_last_success_timestamp_seconds", stream).is_some(),
            "{stream} has a last-success time\n{text}"
        );
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("orders") && l.ends_with("partial")),
        "the summary says partial\n{stdout}"
    );
    server.shutdown().await;
}

/// The gateways table of a warehouse: (code, display name) in order.
fn gateway_rows(settings: &Settings) -> Vec<(String, String)> {
    let conn = open(settings);
    let mut stmt = conn
        .prepare("SELECT code, coalesce(display_name, '') FROM gateways ORDER BY code")
        .expect("gateways query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("gateways")
        .map(|r| r.expect("row"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_gateway_report_rows_are_kept_in_rejected_and_make_the_run_partial() {
    let server = start_sim(small_sim()).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    assert_eq!(exit, Exit::Success, "{:?}", failures(&outcome));
    let good = gateway_rows(&settings);
    assert!(!good.is_empty(), "the simulator reports gateways");

    // Two rows /paymentMethods/report cannot mean: a number, and a gateway without a name.
    server
        .handle
        .set_response_hook(Some(Arc::new(|info: &RequestInfo, body: &mut Value| {
            if info.method_path == "paymentmethods/report"
                && let Some(rows) = body["result"].as_array_mut()
            {
                rows.push(json!(17));
                rows.push(json!({"display_name": "Nameless", "count": 1}));
            }
        })));
    let (outcome, exit) = run(&settings, &SyncOptions::default()).await;
    server.handle.set_response_hook(None);
    assert_eq!(exit, Exit::Partial, "{:?}", outcome.bots[0].warnings);
    let warning = outcome.bots[0].warnings.join("; ");
    assert!(
        warning.contains("2 /paymentMethods/report rows could not be read"),
        "{warning}"
    );
    // The readable rows still make the map; the unreadable ones are kept, as sent.
    assert_eq!(
        gateway_rows(&settings),
        good,
        "gateways from the readable rows"
    );
    let conn = open(&settings);
    let mut stmt = conn
        .prepare(
            "SELECT raw_json FROM _rejected WHERE stream = 'report_inputs' \
             AND run_id = (SELECT max(run_id) FROM _sync_runs) ORDER BY raw_json",
        )
        .expect("rejected query");
    let raw: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("rejected")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(raw.len(), 2, "{raw:?}");
    assert!(raw.iter().any(|r| r == "17"), "{raw:?}");
    assert!(raw.iter().any(|r| r.contains("Nameless")), "{raw:?}");
    server.shutdown().await;
}
