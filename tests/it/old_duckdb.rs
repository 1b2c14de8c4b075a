//! The warehouse as DuckDB 1.x reads it: Python `duckdb` 1.5 (the `duckdb15` environment
//! of `.ci/python-env`) opens a synced warehouse read-only and runs every report macro,
//! with the same results as the DuckDB 2.0 the sync wrote it with; `storage_version`
//! chooses a newer format, and an existing 2.0-format file keeps its format.

use std::path::{Path, PathBuf};
use std::process::Command;

use duckdb::{AccessMode, Config, Connection};
use serde_json::Value;

use crate::lake_support::pyenv_root;
use crate::support::*;
use crate::sync::sync_once;

/// Runs each query (argv[2], a JSON list) on the warehouse (argv[1]) opened read-only and
/// prints one JSON object: the DuckDB version and, per query, its result or its error.
const READER: &str = r#"
import json, sys
import duckdb
out = {"version": duckdb.__version__, "results": []}
try:
    con = duckdb.connect(sys.argv[1], read_only=True)
except Exception as e:
    out["open_error"] = str(e)
    print(json.dumps(out))
    sys.exit(0)
for q in json.loads(sys.argv[2]):
    try:
        rows, text = con.execute(q).fetchone()
        out["results"].append({"rows": rows, "text": text})
    except Exception as e:
        out["results"].append({"error": str(e)})
print(json.dumps(out))
"#;

/// The pinned clock as a SQL timestamp, for the macros' `now_ts`.
const NOW_TS: &str = "TIMESTAMP '2026-06-17 12:00:00'";

/// Every report macro, with its optional arguments both ways, and the report views that
/// do not read the real clock (the others run but are compared by row count only).
fn report_calls() -> Vec<String> {
    let bot = BOT_ID;
    [
        "revenue(NULL, NULL, NULL)".to_string(),
        format!("revenue(1735689600, 1780272000, 'EUR', bot := {bot})"),
        format!("orders_count('month', 12, NULL, now_ts := {NOW_TS})"),
        format!("orders_count('day', 7, 'USD', now_ts := {NOW_TS}, bot := {bot})"),
        format!("orders_count('year', 2, 'JPY', now_ts := {NOW_TS})"),
        format!("plans_report(NULL, now_ts := {NOW_TS})"),
        format!("plans_report('GBP', now_ts := {NOW_TS}, bot := {bot})"),
        format!("plans_report_converted('EUR', now_ts := {NOW_TS})"),
        "payment_methods_report(NULL)".to_string(),
        format!("payment_methods_report('BTC', bot := {bot})"),
        "users_count()".to_string(),
        format!("users_count(bot := {bot})"),
        "sales_in('EUR', NULL, NULL, NULL)".to_string(),
        "report_target(NULL, NULL)".to_string(),
        "report_revenue_all_time".to_string(),
        "report_payment_methods".to_string(),
        "report_users_count".to_string(),
        "coupon_plans".to_string(),
    ]
    .into_iter()
    .map(|call| format!("SELECT * FROM {call}"))
    .collect()
}

/// The views whose rows depend on the real clock: run, compared by row count.
const CLOCK_VIEWS: [&str; 3] = [
    "report_orders_count_monthly",
    "report_plans",
    "report_plans_converted",
];

/// A query's rows as one text (each row cast to text by the engine, sorted) and a count.
fn as_text(query: &str) -> String {
    format!(
        "SELECT count(*), coalesce(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR)), '') FROM ({query}) AS t"
    )
}

fn as_count(query: &str) -> String {
    format!("SELECT count(*), '' FROM ({query}) AS t")
}

/// The Python of the `duckdb15` environment, or `None` after `skip_unless_ci`.
fn duckdb1_python(test: &str) -> Option<PathBuf> {
    let Some(root) = pyenv_root() else {
        skip_unless_ci(test, "neither TGM_PYENV_DIR nor HOME is set");
        return None;
    };
    let env = root.join("duckdb15");
    if !env.join(".pins").exists() {
        skip_unless_ci(
            test,
            &format!(
                "{} is missing: run .ci/python-env to install duckdb 1.5",
                env.display()
            ),
        );
        return None;
    }
    Some(env.join("bin/python"))
}

/// What Python duckdb 1.x makes of the warehouse and the queries.
fn read_with_duckdb1(python: &Path, warehouse: &Path, queries: &[String]) -> Value {
    let out = Command::new(python)
        .arg("-c")
        .arg(READER)
        .arg(warehouse)
        .arg(serde_json::to_string(queries).expect("queries as JSON"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("reader prints JSON");
    assert!(
        got["version"].as_str().is_some_and(|v| v.starts_with("1.")),
        "the reader is DuckDB 1.x: {got}"
    );
    got
}

/// The warehouse opened read-only by this crate's DuckDB (2.0).
fn open_read_only(warehouse: &Path) -> Connection {
    let config = Config::default()
        .access_mode(AccessMode::ReadOnly)
        .expect("read-only config");
    Connection::open_with_flags(warehouse, config).expect("warehouse opens")
}

/// The storage format DuckDB reports for the open warehouse, e.g. `v1.0.0+`.
fn storage_version(conn: &Connection) -> String {
    conn.query_row(
        "SELECT map_extract_value(tags, 'storage_version') FROM duckdb_databases() \
         WHERE database_name = current_database()",
        [],
        |r| r.get(0),
    )
    .expect("storage version")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_1_5_opens_a_new_warehouse_and_runs_every_report_macro() {
    let test = "duckdb_1_5_opens_a_new_warehouse_and_runs_every_report_macro";
    let Some(python) = duckdb1_python(test) else {
        return;
    };
    let server = start_sim(sim_options(1_500, 300)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;

    let calls = report_calls();
    let mut queries: Vec<String> = calls.iter().map(|q| as_text(q)).collect();
    queries.extend(
        CLOCK_VIEWS
            .iter()
            .map(|v| as_count(&format!("SELECT * FROM {v}"))),
    );
    let got = read_with_duckdb1(&python, &settings.warehouse, &queries);
    assert!(
        got.get("open_error").is_none(),
        "DuckDB 1.x opens it: {got}"
    );

    let conn = open_read_only(&settings.warehouse);
    assert_eq!(storage_version(&conn), "v1.0.0+");
    let results = got["results"].as_array().expect("results");
    assert_eq!(results.len(), queries.len());
    let mut non_empty = 0;
    for ((query, result), shown) in queries
        .iter()
        .zip(results)
        .zip(calls.iter().map(String::as_str).chain(CLOCK_VIEWS))
    {
        assert!(
            result.get("error").is_none(),
            "DuckDB 1.x fails on {shown}: {}",
            result["error"]
        );
        let (rows, text): (i64, String) = conn
            .query_row(query, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or_else(|e| panic!("DuckDB 2.0 runs {shown}: {e}"));
        assert_eq!(result["rows"], rows, "rows of {shown}");
        assert_eq!(result["text"], text.as_str(), "{shown}");
        non_empty += usize::from(rows > 0);
    }
    assert!(
        non_empty >= queries.len() - 2,
        "the calls return rows ({non_empty} of {} do)",
        queries.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_version_chooses_a_newer_format_and_an_existing_file_keeps_its_own() {
    let test = "storage_version_chooses_a_newer_format_and_an_existing_file_keeps_its_own";
    let Some(python) = duckdb1_python(test) else {
        return;
    };
    let server = start_sim(sim_options(300, 60)).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    settings.storage_version = "latest".into();
    sync_once(&settings).await;
    let version = storage_version(&open_read_only(&settings.warehouse));
    assert_eq!(version, "v2.0.0+");
    let count = vec![as_count("SELECT * FROM orders")];
    let got = read_with_duckdb1(&python, &settings.warehouse, &count);
    assert!(
        got["open_error"]
            .as_str()
            .is_some_and(|e| e.contains("version")),
        "DuckDB 1.x refuses the 2.0 format: {got}"
    );

    // The default on the existing 2.0 file: the sync works and the format stays.
    settings.storage_version = tgm_sync::warehouse::open::DEFAULT_STORAGE_VERSION.into();
    sync_once(&settings).await;
    let conn = open_read_only(&settings.warehouse);
    assert_eq!(storage_version(&conn), "v2.0.0+");
    let orders: i64 = conn
        .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
        .expect("orders");
    assert_eq!(orders, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_storage_version_is_a_configuration_error_naming_the_setting() {
    let server = start_sim(sim_options(50, 10)).await;
    let dir = tempdir();
    let out = sync_command(&server.base_url(), dir.path())
        .args(["--storage-version", "v9.9.9"])
        .output()
        .expect("tgm-sync runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("storage_version") && stderr.contains("v9.9.9"),
        "{stderr}"
    );
}
