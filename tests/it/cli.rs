//! The binary as cron or systemd runs it: stderr not a terminal, exit codes, JSON logs,
//! metrics, and the key in no output or file.

use std::path::Path;
use std::process::Output;

use crate::support::*;

fn run_sync(base_url: &str, dir: &Path, key: &str, extra: &[&str]) -> Output {
    sync_command(base_url, dir)
        .args([
            "--log-format",
            "json",
            "--max-attempts",
            "3",
            "--max-retry-secs",
            "2",
            "--timeout-secs",
            "5",
        ])
        .args(extra)
        .env("TGM_API_KEY", key)
        .output()
        .expect("binary runs")
}

/// Every file under `dir`, as bytes, must not contain `needle`.
fn assert_no_file_contains(dir: &Path, needle: &str) {
    let mut checked = 0;
    for path in files_under(dir) {
        let bytes = std::fs::read(&path).expect("readable file");
        checked += 1;
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{} contains the API key",
            path.display()
        );
    }
    assert!(checked > 0, "no files under {}", dir.display());
}

fn assert_clean_output(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(TEST_KEY) && !stderr.contains(TEST_KEY),
        "key leaked:\n{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no terminal escape codes when stderr is not a terminal:\n{stderr}"
    );
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_logs_json_writes_metrics_and_leaks_no_key() {
    let server = start_sim(sim_options(400, 150)).await;
    let dir = tempdir();
    let metrics = dir.path().join("tgm.prom");
    let out = run_sync(
        &server.base_url(),
        dir.path(),
        TEST_KEY,
        &["--metrics-file", metrics.to_str().expect("utf-8")],
    );
    assert_clean_output(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l.starts_with('{')),
        "JSON log lines: {stderr}"
    );

    let text = std::fs::read_to_string(&metrics).expect("metrics file");
    let mut samples = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name_labels, value) = line.rsplit_once(' ').expect("sample has a value");
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("numeric value: {line}"));
        assert!(name_labels.starts_with("tgm_sync_"), "{line}");
        samples += 1;
    }
    assert!(
        samples >= 7 * 7,
        "a sample per stream and family: {samples}"
    );
    // The 400 list rows and nothing more: after the full scan only the old PENDING orders
    // the next run will re-read are re-read (for their email), and none is due in it:
    // each is at least the 3-day lookback old, so due no sooner than 3 runs after the scan
    // that read its status. The data has old PENDING orders to re-read.
    let data = server.handle.data();
    let newest = newest_order_date(&data);
    assert!(
        data.orders
            .iter()
            .any(|o| o.order_status.as_str() == "PENDING" && o.order_date < newest - 3 * 86_400),
        "the data has old PENDING orders"
    );
    let orders_read = "tgm_sync_rows_read{bot_id=\"1347378140\",stream=\"orders\"} 400".to_string();
    assert!(text.contains(&orders_read), "{orders_read} in\n{text}");
    // Peak memory: in the metrics and on the summary's first line, the same figure.
    let peak_bytes: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tgm_sync_peak_rss_bytes "))
        .expect("tgm_sync_peak_rss_bytes sample")
        .parse()
        .expect("numeric peak");
    assert!(
        (20.0 * 1024.0 * 1024.0..4096.0 * 1024.0 * 1024.0).contains(&peak_bytes),
        "a plausible peak for a process with DuckDB in it: {peak_bytes}"
    );
    // The run logs JSON, so its summary is JSON lines too: the run's line first.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary_bytes = stdout
        .lines()
        .next()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "run summary")
        .and_then(|v| v["peak_rss_bytes"].as_f64())
        .unwrap_or_else(|| panic!("peak memory on the summary line: {stdout}"));
    assert_eq!(
        summary_bytes, peak_bytes,
        "summary {summary_bytes} bytes, metrics {peak_bytes} bytes"
    );

    // Permissions: nothing readable by others.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("warehouse.duckdb"))
        .expect("warehouse")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o007,
        0,
        "warehouse mode {mode:o}: nothing for the world"
    );
    assert_no_file_contains(dir.path(), TEST_KEY);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_class_has_its_exit_code() {
    let server = start_sim(sim_options(30, 10)).await;
    let dir = tempdir();

    // 401: authentication, at once, naming the bot.
    let out = run_sync(&server.base_url(), dir.path(), "not-the-right-key-999", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains(&BOT_ID.to_string()), "{stderr}");
    assert!(!stderr.contains("not-the-right-key-999"), "{stderr}");

    // API down: a closed loopback port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let out = run_sync(&url, dir.path(), TEST_KEY, &[]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean_output(&out);

    // Bad configuration: plain http to a non-loopback host, an unknown stream.
    let out = run_sync("http://example.com", dir.path(), TEST_KEY, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("http://example.com"), "{stderr}");
    let out = run_sync(
        &server.base_url(),
        dir.path(),
        TEST_KEY,
        &["--streams", "orders,nonsense"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nonsense"), "{stderr}");
    server.shutdown().await;
}

/// The binary reads "now" from `TGM_NOW` (the tests hand it their pinned clock): its run
/// is stamped at the pinned instant, not today; an unreadable value is a config error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_on_the_clock_it_is_given() {
    let server = start_sim(sim_options(60, 20)).await;
    let dir = tempdir();
    let before = pinned_now();
    let out = sync_command(&server.base_url(), dir.path())
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = duckdb::Connection::open(dir.path().join("warehouse.duckdb")).expect("opens");
    let (started, finished): (i64, i64) = conn
        .query_row(
            "SELECT floor(epoch(started_at::TIMESTAMP))::BIGINT, floor(epoch(finished_at::TIMESTAMP))::BIGINT \
             FROM _sync_runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("one run");
    let after = pinned_now();
    assert!(
        before <= started && started <= finished && finished <= after,
        "run stamped {started}..{finished}, the pinned clock read {before} then {after}"
    );
    server.shutdown().await;

    let out = bin()
        .env(tgm_sync::clock::PIN_VAR, "yesterday")
        .args(["schedule", "cron"])
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TGM_NOW=\"yesterday\""), "{stderr}");
}
