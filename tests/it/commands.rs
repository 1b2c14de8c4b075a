//! The other commands through the binary: dry run, status, demo, a warehouse held open by
//! another program, and what request log lines carry.

use std::path::Path;
use std::process::Output;

use crate::support::*;

fn sync(base_url: &str, dir: &Path, extra: &[&str]) -> Output {
    sync_command(base_url, dir)
        .args(extra)
        .output()
        .expect("binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reads_everything_and_writes_nothing() {
    let server = start_sim(sim_options(321, 77)).await;
    let dir = tempdir();
    let out = sync(&server.base_url(), dir.path(), &["--dry-run"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("dry run (nothing written)"), "{stdout}");
    let orders_line = stdout
        .lines()
        .find(|l| l.contains(" orders "))
        .expect("orders line");
    assert!(
        orders_line.split_whitespace().any(|w| w == "321"),
        "all 321 orders read: {orders_line}"
    );
    assert!(
        !dir.path().join("warehouse.duckdb").exists(),
        "no warehouse written"
    );
    assert!(!dir.path().join("parquet").exists(), "no Parquet written");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_runs_tables_and_stream_state() {
    let server = start_sim(sim_options(150, 40)).await;
    let dir = tempdir();
    let url = server.base_url();
    assert_eq!(sync(&url, dir.path(), &[]).status.code(), Some(0));
    assert_eq!(sync(&url, dir.path(), &[]).status.code(), Some(0));
    let out = bin()
        .args(["status", "--warehouse"])
        .arg(dir.path().join("warehouse.duckdb"))
        .output()
        .expect("status runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for needle in [
        "Last runs",
        "Rows per table",
        "Stream state",
        "orders",
        "members",
        "success",
    ] {
        assert!(stdout.contains(needle), "status lacks {needle}:\n{stdout}");
    }
    let orders_row = stdout
        .lines()
        .find(|l| l.contains("| orders ") && l.contains(&BOT_ID.to_string()))
        .expect("orders row count");
    assert!(orders_row.contains("| 150 "), "{orders_row}");
    assert!(
        stdout.matches(&format!("| {BOT_ID} ")).count() >= 2,
        "two runs listed:\n{stdout}"
    );
    // The row counts are built from the stream registry: the same table as the query that
    // listed the tables by hand.
    let by_hand = rows_per_table_by_hand(&dir.path().join("warehouse.duckdb"));
    assert!(
        stdout.contains(&format!("\nRows per table\n{by_hand}\n")),
        "status's row counts differ from\n{by_hand}\nin\n{stdout}"
    );
    server.shutdown().await;
}

/// `status`'s "Rows per table" as `sql/status.sql` wrote it by hand before the table list
/// came from the stream registry, printed the way `status` prints a section.
fn rows_per_table_by_hand(warehouse: &Path) -> String {
    const BY_HAND: &str = r#"SELECT * FROM (
    SELECT 'orders' AS "table", bot_id, count(*) FILTER (WHERE _deleted_at IS NULL) AS live, count(*) FILTER (WHERE _deleted_at IS NOT NULL) AS deleted FROM orders GROUP BY bot_id
    UNION ALL SELECT 'members', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM members GROUP BY bot_id
    UNION ALL SELECT 'plans', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM plans GROUP BY bot_id
    UNION ALL SELECT 'projects', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM projects GROUP BY bot_id
    UNION ALL SELECT 'coupons', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM coupons GROUP BY bot_id
    UNION ALL SELECT 'payment_methods', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM payment_methods GROUP BY bot_id
    UNION ALL SELECT 'users_count_history', bot_id, count(*), 0 FROM users_count_history GROUP BY bot_id
    UNION ALL SELECT 'fx_rates', bot_id, count(*), 0 FROM fx_rates GROUP BY bot_id
    UNION ALL SELECT '_rejected', bot_id, count(*), 0 FROM _rejected GROUP BY bot_id
) ORDER BY bot_id, "table""#;
    let warehouse =
        tgm_sync::warehouse::Warehouse::open_read_only(warehouse).expect("open the warehouse");
    let batches: Vec<_> = warehouse
        .conn()
        .prepare(BY_HAND)
        .and_then(|mut stmt| stmt.query_arrow([]).map(|rows| rows.collect()))
        .expect("count rows");
    arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string()
}

#[test]
fn demo_builds_a_warehouse_and_shows_example_queries() {
    let dir = tempdir();
    let target = dir.path().join("demo");
    let out = bin()
        .args(["demo", "--orders", "400", "--members", "120"])
        .arg(&target)
        .output()
        .expect("demo runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    assert!(target.join("warehouse.duckdb").is_file());
    assert!(target.join("parquet/orders").is_dir());
    for (title, _) in tgm_sync::cli::demo::EXAMPLES {
        assert!(stdout.contains(title), "demo shows {title}");
    }
    assert!(
        !stdout.contains("failed:"),
        "every example query ran:\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_open_in_another_program_is_a_clear_error() {
    let server = start_sim(sim_options(40, 10)).await;
    let dir = tempdir();
    let url = server.base_url();
    assert_eq!(sync(&url, dir.path(), &[]).status.code(), Some(0));
    // Another program (here: this test process) has the DuckDB file open for writing.
    let other = duckdb::Connection::open(dir.path().join("warehouse.duckdb")).expect("open");
    let out = sync(&url, dir.path(), &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("open in another process") && stderr.contains("warehouse.duckdb"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(other);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_log_lines_carry_stream_page_and_attempt() {
    let mut options = sim_options(450, 30);
    options.faults = tgm_sync::sim::FaultOptions {
        share_5xx: 0.2,
        ..Default::default()
    };
    let server = start_sim(options).await;
    let dir = tempdir();
    let out = sync(
        &server.base_url(),
        dir.path(),
        &["--log-format", "json", "-vv", "--max-attempts", "12"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "request" && l["endpoint"] == "/orders")
        .collect();
    assert!(!requests.is_empty(), "request lines logged at -vv");
    for line in &requests {
        assert_eq!(line["stream"], "orders", "{line}");
        assert!(line["attempt"].as_u64().is_some_and(|a| a >= 1), "{line}");
        assert!(
            line["span"]["page"].as_u64().is_some(),
            "page of the request: {line}"
        );
    }
    let retries: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("retrying"))
        })
        .collect();
    assert!(!retries.is_empty(), "5xx answers were retried and logged");
    for line in retries {
        assert!(
            line["stream"].is_string() && line["attempt"].as_u64().is_some(),
            "{line}"
        );
    }
    assert!(!stderr.contains(TEST_KEY));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_sync_reads_members_plans_and_users() {
    let server = start_sim(sim_options(60, 90)).await;
    let dir = tempdir();
    let out = sync(&server.base_url(), dir.path(), &["--api-version", "legacy"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    let data = server.handle.data();
    let conn = duckdb::Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
    assert_eq!(
        count("SELECT count(*) FROM members") as usize,
        data.memberships.len()
    );
    assert_eq!(
        count("SELECT count(*) FROM plans") as usize,
        data.plans.len()
    );
    assert_eq!(count("SELECT count(*) FROM users_count_history"), 1);
    assert_eq!(
        count("SELECT count(*) FROM orders"),
        0,
        "the legacy API lists no orders"
    );
    let requests = server.handle.requests();
    assert_eq!(
        requests.legacy, requests.total,
        "only legacy URLs were called"
    );
    server.shutdown().await;
}

/// A legacy warehouse has no order data: `report` refuses each order report with "no
/// order data" instead of printing zeros; `users-count` still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_on_a_legacy_warehouse_say_no_order_data() {
    let server = start_sim(sim_options(60, 90)).await;
    let dir = tempdir();
    let out = sync(&server.base_url(), dir.path(), &["--api-version", "legacy"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let report = |name: &str| {
        bin()
            .args(["report", name, "--bot-id", &BOT_ID.to_string()])
            .arg("--warehouse")
            .arg(dir.path().join("warehouse.duckdb"))
            .output()
            .expect("binary runs")
    };
    for name in ["revenue", "orders-count", "plans", "payment-methods"] {
        let out = report(name);
        let (stdout, stderr) = text(&out);
        assert_ne!(out.status.code(), Some(0), "{name}: {stdout}");
        assert!(
            stderr.contains(&format!("no order data for bot {BOT_ID}")),
            "{name}: {stderr}"
        );
    }
    let out = report("users-count");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    server.shutdown().await;
}

/// Against the legacy API, verify compares `/users/count` (which the legacy API backs)
/// and says it skipped the order reports (the legacy API lists no orders, so every one
/// of them would "differ" against a warehouse without orders).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_verify_compares_users_and_names_what_it_skipped() {
    let server = start_sim(sim_options(60, 90)).await;
    let dir = tempdir();
    let url = server.base_url();
    let out = sync(&url, dir.path(), &["--api-version", "legacy"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    server.handle.reset_counts();
    let out = bin()
        .args(["verify", "--api-version", "legacy", "--currency", "all"])
        .args(["--bot-id", &BOT_ID.to_string(), "--base-url", &url])
        .arg("--warehouse")
        .arg(dir.path().join("warehouse.duckdb"))
        .env("TGM_API_KEY", TEST_KEY)
        .output()
        .expect("binary runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("DIFFERS"), "{stdout}");
    // users, leads, churned, members: compared and equal.
    assert!(
        stdout.contains("4 fields compared: 4 match, 0 differ"),
        "{stdout}"
    );
    for report in [
        "revenue",
        "orders/count",
        "plans/report",
        "paymentMethods/report",
    ] {
        let skipped: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains(&format!(" {report} ")) && l.trim_end().ends_with("skipped"))
            .collect();
        assert_eq!(
            skipped.len(),
            13,
            "{report} skipped in each currency:\n{stdout}"
        );
    }
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("not compared"))
        .unwrap_or_else(|| panic!("no line naming what was skipped:\n{stdout}"));
    assert!(
        summary.contains("revenue, orders/count, plans/report, paymentMethods/report")
            && summary.contains("no order data"),
        "{summary}"
    );
    let requests = server.handle.requests();
    assert_eq!(
        (requests.total, requests.get("users/count"), requests.legacy),
        (1, 1, 1),
        "verify asked the legacy API for /users/count only: {requests:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_a_warehouse_an_older_version_wrote_skips_the_newer_sections() {
    let server = start_sim(sim_options(60, 20)).await;
    let dir = tempdir();
    let path = dir.path().join("warehouse.duckdb");
    assert_eq!(
        sync(&server.base_url(), dir.path(), &[]).status.code(),
        Some(0)
    );
    // As the version before the lake output (007) left it: no lake tables, at 6.
    let latest = tgm_sync::warehouse::schema::latest_version();
    {
        let conn = duckdb::Connection::open(&path).expect("warehouse");
        conn.execute_batch(
            "DROP TABLE _lake_owed; DROP TABLE _lake_published; DROP TABLE _lake_dirty; \
             DELETE FROM _schema_version WHERE version >= 7;",
        )
        .expect("made older");
    }
    let out = bin()
        .args(["status", "--warehouse"])
        .arg(&path)
        .output()
        .expect("status runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    assert!(
        stdout.contains(&format!("schema version 6 of {latest}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("Lake tables\n(skipped: the warehouse predates it)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| orders ") && stdout.contains("Stream state"),
        "the other sections still show:\n{stdout}"
    );
    // A sync migrates it, and status is whole again.
    assert_eq!(
        sync(&server.base_url(), dir.path(), &[]).status.code(),
        Some(0)
    );
    let out = bin()
        .args(["status", "--warehouse"])
        .arg(&path)
        .output()
        .expect("status runs");
    let (stdout, _) = text(&out);
    assert!(!stdout.contains("skipped"), "{stdout}");
    assert!(!stdout.contains("schema version"), "{stdout}");
    server.shutdown().await;
}
