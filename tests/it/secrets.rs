//! The key in no output and no file: every command, successful and failing, at trace
//! level and in JSON, with the key also planted where an API could echo it (an error
//! description, a row that gets rejected). Outputs are scanned as text, DuckDB tables
//! cell by cell (its files are compressed), Parquet files decoded; file modes checked.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use arrow::util::pretty::pretty_format_batches;
use duckdb::Connection;
use serde_json::{Value, json};
use tgm_sync::sim::{RequestInfo, SimServer};

use crate::support::*;

/// The forms a key can take on its way out: as is, percent-encoded in a URL, escaped in
/// JSON. A leak in any of them is a leak.
fn forms(key: &str) -> Vec<String> {
    let mut out = vec![key.to_string()];
    let url = url_form(key);
    // A server or proxy may echo the escapes with lower-case hex digits.
    let mut lower = String::new();
    let mut hex_left = 0;
    for c in url.chars() {
        if hex_left > 0 {
            lower.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            hex_left = if c == '%' { 2 } else { 0 };
            lower.push(c);
        }
    }
    let json = serde_json::to_string(key).expect("json");
    for f in [url, lower, json.trim_matches('"').to_string()] {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The key as one percent-encoded URL path segment (RFC 3986 unreserved characters kept).
fn url_form(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn assert_output_clean(what: &str, out: &Output, key: &str) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        for f in forms(key) {
            assert!(
                !text.contains(&f),
                "{what}: {stream} contains the key (as `{f}`):\n{text}"
            );
        }
    }
}

/// Every file under `dir`: raw bytes; DuckDB files also cell by cell; Parquet decoded.
/// Returns how many files were checked.
fn assert_files_clean(dir: &Path, key: &str) -> usize {
    let mut checked = 0;
    for path in files_under(dir) {
        let bytes = std::fs::read(&path).expect("readable");
        for f in forms(key) {
            assert!(
                !bytes.windows(f.len()).any(|w| w == f.as_bytes()),
                "{} contains the key (as `{f}`)",
                path.display()
            );
        }
        let name = path.to_string_lossy();
        for f in forms(key) {
            if name.ends_with(".duckdb") {
                assert_eq!(
                    duckdb_cells_with(&path, &f),
                    0,
                    "{name}: a cell holds the key (as `{f}`)"
                );
            } else if name.ends_with(".parquet") {
                let text = parquet_text(&path);
                assert!(
                    !text.contains(&f),
                    "{name}: a value holds the key (as `{f}`)"
                );
            }
        }
        checked += 1;
    }
    checked
}

/// Cells of any table (every column, as text) that contain `needle`.
fn duckdb_cells_with(path: &Path, needle: &str) -> i64 {
    let conn = Connection::open(path).expect("warehouse opens");
    let tables: Vec<String> = conn
        .prepare("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(!tables.is_empty());
    tables
        .iter()
        .map(|t| {
            conn.query_row(
                &format!("SELECT count(*) FROM \"{t}\" t WHERE contains(CAST(t AS VARCHAR), ?)"),
                [needle],
                |r| r.get::<_, i64>(0),
            )
            .expect("scan")
        })
        .sum()
}

fn parquet_text(path: &Path) -> String {
    let file = std::fs::File::open(path).expect("file");
    let batches: Vec<_> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader")
            .map(|b| b.expect("batch"))
            .collect();
    pretty_format_batches(&batches).expect("format").to_string()
}

/// Files the binary created must give the world nothing.
fn assert_private(paths: &[PathBuf]) -> usize {
    for p in paths {
        let mode = std::fs::metadata(p).expect("metadata").permissions().mode();
        assert_eq!(
            mode & 0o007,
            0,
            "{} has mode {:o}",
            p.display(),
            mode & 0o777
        );
    }
    paths.len()
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

/// A config file and a key file, both readable by others (mode 644): each must be warned about.
fn setup(server: &SimServer, key: &str) -> Setup {
    let dir = tempdir();
    let key_file = dir.path().join("api.key");
    std::fs::write(&key_file, format!("{key}\n")).expect("key file");
    let config = dir.path().join("tgm-sync.toml");
    std::fs::write(
        &config,
        format!(
            "warehouse = {:?}\nparquet_dir = {:?}\nbase_url = {:?}\napi_key_file = {:?}\n\
             max_attempts = 3\nmax_retry_secs = 2\ntimeout_secs = 5\n[[bots]]\nbot_id = {BOT_ID}\n",
            dir.path().join("out/warehouse.duckdb"),
            dir.path().join("out/parquet"),
            server.base_url(),
            key_file,
        ),
    )
    .expect("config");
    for f in [&key_file, &config] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    Setup { dir, config }
}

fn run(setup: &Setup, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    cmd.arg("--config").arg(&setup.config).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(setup.dir.path())
        .output()
        .expect("binary runs")
}

/// Plants the key where a careless API could echo it: the description of an error on
/// /coupons (the key as is, and the request path as it arrived, percent-encoded), the
/// `path` of every envelope, and one /orders row that will be rejected.
fn echo_the_key(server: &SimServer, key: &str) {
    let key = key.to_string();
    let sent = url_form(&key);
    server
        .handle
        .set_response_hook(Some(Arc::new(move |info: &RequestInfo, body: &mut Value| {
            body["path"] = json!(format!("/v1/bot{BOT_ID}/{key}/{}", info.raw_method));
            if info.method_path == "coupons" {
                *body = json!({"ok": false, "code": 400,
                    "description": format!("Bad Request: GET /v1/bot{BOT_ID}/{key}/coupons?limit=100 \
                        (as received: /v1/bot{BOT_ID}/{sent}/coupons)")});
            } else if info.method_path == "orders" && info.param("offset") == Some("0") {
                body["result"][5]["order_date"] = json!(format!("see /v1/bot{BOT_ID}/{key}/x"));
            }
        })));
}

/// Runs every command against one warehouse with `key`; checks outputs, files, modes.
/// Returns (commands run, files checked).
async fn every_command_leaks_nothing(key: &str) -> (usize, usize) {
    let mut options = sim_options(220, 60);
    options.api_key = key.to_string();
    let server = start_sim(options).await;
    let s = setup(&server, key);
    let mut commands = 0;
    let check = |what: &str, out: &Output, code: i32| {
        assert_output_clean(what, out, key);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{what}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        1
    };

    // A clean sync at trace level, JSON, with metrics; both files warned about.
    let metrics = s.dir.path().join("out/tgm.prom");
    let metrics_arg = metrics.to_string_lossy().to_string();
    let out = run(
        &s,
        &[
            "sync",
            "-vv",
            "--log-format",
            "json",
            "--metrics-file",
            &metrics_arg,
        ],
        &[],
    );
    commands += check("sync -vv json", &out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for what in ["config file", "API key file"] {
        assert!(
            stderr.contains(what) && stderr.contains("readable by other users"),
            "{what} readable by others is warned about: {stderr}"
        );
    }
    assert!(stderr.lines().count() > 20, "trace logging is on: {stderr}");
    // Everything hyper, reqwest and h2 say, too.
    let out = run(&s, &["sync", "--full-refresh"], &[("RUST_LOG", "trace")]);
    commands += check("sync RUST_LOG=trace", &out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connecting to 127.0.0.1"),
        "dependency trace logs are on"
    );
    let out = run(&s, &["sync", "--dry-run", "-vv"], &[("RUST_LOG", "trace")]);
    commands += check("sync --dry-run", &out, 0);
    let out = run(&s, &["status", "-vv"], &[]);
    commands += check("status", &out, 0);
    let out = run(
        &s,
        &["verify", "--currency", "eur", "-vv"],
        &[("RUST_LOG", "trace")],
    );
    assert_output_clean("verify", &out, key);
    assert!(
        matches!(out.status.code(), Some(0 | 7)),
        "verify ran: {out:?}"
    );
    commands += 1;
    let rates = s.dir.path().join("rates.csv");
    std::fs::write(&rates, "from_currency,to_currency,rate\nEUR,USD,1.1\n").expect("csv");
    let out = run(&s, &["fx", "import", &rates.to_string_lossy(), "-vv"], &[]);
    commands += check("fx import", &out, 0);
    for scheduler in ["systemd", "cron"] {
        let out_dir = s.dir.path().join("out/schedule");
        let out = run(
            &s,
            &[
                "schedule",
                scheduler,
                "--out-dir",
                &out_dir.to_string_lossy(),
            ],
            &[],
        );
        commands += check("schedule", &out, 0);
    }

    // Failing paths. An API that echoes the key in errors and rows.
    echo_the_key(&server, key);
    let out = run(
        &s,
        &["sync", "--full-refresh", "-vv", "--log-format", "json"],
        &[("RUST_LOG", "trace")],
    );
    commands += check("sync with echoed key", &out, 3);
    server.handle.set_response_hook(None);
    // 401: a wrong key, itself recognisable, leaks neither.
    let wrong = format!("{key}-but-wrong");
    let wrong_file = s.dir.path().join("wrong.key");
    std::fs::write(&wrong_file, &wrong).expect("key");
    let out = run(
        &s,
        &[
            "sync",
            "-vv",
            "--api-key-file",
            &wrong_file.to_string_lossy(),
        ],
        &[("RUST_LOG", "trace")],
    );
    commands += check("sync 401", &out, 4);
    assert_output_clean("sync 401 (wrong key)", &out, &wrong);
    // The API down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let down = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let out = run(
        &s,
        &["sync", "-vv", "--base-url", &down, "--max-attempts", "2"],
        &[("RUST_LOG", "trace")],
    );
    commands += check("sync, API down", &out, 6);
    // Bad configuration after the key was read.
    let out = run(
        &s,
        &["sync", "-vv", "--base-url", "http://example.com"],
        &[],
    );
    commands += check("sync, bad base URL", &out, 2);
    let out = run(&s, &["sync", "-vv", "--streams", "nonsense"], &[]);
    commands += check("sync, bad stream", &out, 2);
    // The lock held by another run.
    let holder = tgm_sync::warehouse::Warehouse::open(&s.dir.path().join("out/warehouse.duckdb"))
        .expect("lock taken");
    let out = run(
        &s,
        &["sync", "-vv", "--log-format", "json"],
        &[("RUST_LOG", "trace")],
    );
    commands += check("sync, lock held", &out, 5);
    drop(holder);

    // What the runs left: the echoed key redacted in _rejected and the error columns.
    let conn = Connection::open(s.dir.path().join("out/warehouse.duckdb")).expect("warehouse");
    let (raw, reason): (String, String) = conn
        .query_row("SELECT raw_json, reason FROM _rejected LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the row with the key was rejected");
    assert!(
        raw.contains("/***/x") && reason.contains("order_date"),
        "{raw} {reason}"
    );
    let error: String = conn
        .query_row(
            "SELECT error FROM _sync_runs WHERE error LIKE '%/coupons%' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("the coupons error was recorded");
    assert!(error.contains("/***/coupons"), "{error}");
    drop(conn);

    let out_dir = s.dir.path().join("out");
    let created = files_under(&out_dir);
    let private = assert_private(&created);
    assert!(
        created
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "parquet"))
            && private > 10,
        "warehouse, Parquet, metrics, schedule files: {created:?}"
    );
    // The config and key files are the user's; everything the binary wrote is scanned.
    let checked = assert_files_clean(&out_dir, key);
    server.shutdown().await;
    (commands, checked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_leaks_the_key_in_any_output_table_or_file() {
    let (commands, files) = every_command_leaks_nothing(TEST_KEY).await;
    assert_eq!(commands, 14);
    assert!(files > 10, "{files} files scanned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_characters_urls_and_json_escape_is_redacted_in_every_form() {
    // Spaces and a quote: percent-encoded in the URL, escaped in JSON logs.
    let (commands, _) = every_command_leaks_nothing("TGMKEY nasty\"quote 5f0c").await;
    assert_eq!(commands, 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_characters_a_url_path_escapes_is_redacted_as_sent() {
    // `+ / = % :` stay as they are in a URL the `url` crate normalises, but the client
    // sends each as %XX: the form that reaches the wire (and an echoing server) differs.
    let (commands, files) = every_command_leaks_nothing("TGM+key/with=odd%chars:5f0c").await;
    assert_eq!(commands, 14);
    assert!(files > 10, "{files} files scanned");
}

#[test]
fn the_scanners_find_a_planted_key() {
    // The checks above must be able to fail: a DuckDB cell and a Parquet value holding
    // the key are found although both files are compressed.
    let dir = tempdir();
    let db = dir.path().join("planted.duckdb");
    {
        let conn = Connection::open(&db).expect("db");
        conn.execute_batch("CREATE TABLE t (a INTEGER, b VARCHAR)")
            .expect("table");
        for i in 0..2000 {
            conn.execute(
                "INSERT INTO t VALUES (?, ?)",
                duckdb::params![
                    i,
                    if i == 1234 {
                        format!("x{TEST_KEY}y")
                    } else {
                        "filler".into()
                    }
                ],
            )
            .expect("insert");
        }
        conn.execute_batch("CHECKPOINT").expect("checkpoint");
    }
    assert_eq!(duckdb_cells_with(&db, TEST_KEY), 1);
    assert!(forms("a b\"c").contains(&"a%20b%22c".to_string()));
    assert!(forms("a b\"c").contains(&"a b\\\"c".to_string()));

    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("s", arrow::datatypes::DataType::Utf8, false),
    ]));
    let values = arrow::array::StringArray::from(vec!["filler", &format!("<{TEST_KEY}>")]);
    let batch =
        arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).expect("batch");
    let path = dir.path().join("planted.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).expect("file"),
        schema,
        Some(props),
    )
    .expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    assert!(parquet_text(&path).contains(TEST_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_made_of_quotes_and_sql_round_trip_unchanged_in_duckdb_and_parquet() {
    use tgm_sync::sim::{SQL_COUPON_NAME, SQL_PLAN_NAME};
    let server = start_sim(sim_options(300, 80)).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    // A rename through the API with more SQL in it: the update path binds it too.
    let renamed = "x'); DELETE FROM orders; --\\ \"z\"";
    let second_plan = server.handle.data().plans[1].plan_id;
    crate::sync::sync_once(&settings).await;
    server.handle.rename_plan(second_plan, renamed);
    crate::sync::sync_once(&settings).await;

    let data = server.handle.data();
    let sql_plan = data
        .plans
        .iter()
        .find(|p| p.plan_name == SQL_PLAN_NAME)
        .expect("the simulator has the SQL-named plan")
        .plan_id;
    let conn = crate::sync::open(&settings);
    let name_of = |plan: u64| -> String {
        conn.query_row(
            "SELECT plan_name FROM plans WHERE plan_id = ?",
            [plan as i64],
            |r| r.get(0),
        )
        .expect("plan")
    };
    assert_eq!(name_of(sql_plan), SQL_PLAN_NAME);
    assert_eq!(name_of(second_plan), renamed);
    let coupon: i64 = conn
        .query_row(
            "SELECT count(*) FROM coupons WHERE name = ?",
            [SQL_COUPON_NAME],
            |r| r.get(0),
        )
        .expect("coupon");
    assert_eq!(coupon, 1, "the SQL-named coupon, unchanged");
    // Nothing the names say was executed: every table holds the simulator's rows.
    crate::sync::assert_equals_sim(&conn, &data);
    let orders_with_name: i64 = conn
        .query_row(
            "SELECT count(*) FROM orders WHERE plan_name = ?",
            [SQL_PLAN_NAME],
            |r| r.get(0),
        )
        .expect("orders");
    let want = data.orders.iter().filter(|o| o.plan_id == sql_plan).count();
    assert_eq!(orders_with_name as usize, want);
    crate::sync::assert_parquet_equals_duckdb(&conn, settings.parquet_dir.as_deref().expect("on"));
    // And byte for byte in Parquet, read without DuckDB.
    let root = settings.parquet_dir.clone().expect("parquet on");
    let plans = parquet_text(&root.join(format!("plans/bot_id={BOT_ID}/part-0.parquet")));
    let coupons = parquet_text(&root.join(format!("coupons/bot_id={BOT_ID}/part-0.parquet")));
    assert!(
        plans.contains(SQL_PLAN_NAME) && plans.contains(renamed),
        "{plans}"
    );
    assert!(coupons.contains(SQL_COUPON_NAME), "{coupons}");
    server.shutdown().await;
}
