//! The lake output on a file system (`file://`, no Python needed): the Delta tables are
//! read back through deltalake's own log API and the raw `_delta_log` JSON, their
//! Parquet files decoded with arrow 60 and compared row by row with the warehouse; a
//! second run after changes, a run killed between upload and commit, two processes
//! sharing the lake, `lake vacuum`, and refused S3 credentials (a stand-in S3 on
//! 127.0.0.1 that answers 403).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use arrow::array::{Array, RecordBatch, TimestampMicrosecondArray};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use duckdb::Connection;
use serde_json::Value;
use tgm_sync::sim::SimOptions;
use tgm_sync::streams::mirrored_tables;
use tgm_sync::streams::plans::PLANS;
use tgm_sync::streams::table::TableSpec;

use crate::support::*;

fn lake_url(dir: &Path) -> String {
    format!("file://{}", dir.join("lake").display())
}

/// The settings of a `file://` lake at `dir/lake`, with the default retention (7 days).
fn file_lake(dir: &Path) -> tgm_sync::config::LakeSettings {
    tgm_sync::config::LakeSettings {
        url: tgm_sync::lake::LakeUrl::parse(&lake_url(dir)).expect("lake URL"),
        retention: std::time::Duration::from_secs(7 * 86_400),
    }
}

/// `tgm-sync sync` into `dir` with the lake at `dir/lake`.
fn lake_sync(base_url: &str, dir: &Path) -> std::process::Command {
    let mut cmd = sync_command(base_url, dir);
    cmd.args(["-q", "--lake-url", &lake_url(dir)]);
    cmd
}

fn run_ok(cmd: &mut std::process::Command, what: &str) -> Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One action line of a commit file.
#[derive(Debug, Clone)]
struct FileAction {
    path: String,
    partition: BTreeMap<String, String>,
    stats: Option<Value>,
}

/// The adds and removes of `_delta_log/<version>.json`, read as plain JSON.
fn commit_actions(
    table_dir: &Path,
    version: u64,
) -> (Vec<FileAction>, Vec<FileAction>, Vec<Value>) {
    let path = table_dir
        .join("_delta_log")
        .join(format!("{version:020}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is not readable: {e}", path.display()));
    let (mut adds, mut removes, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let action: Value = serde_json::from_str(line).expect("a JSON action per line");
        let file = |v: &Value| FileAction {
            path: v["path"].as_str().expect("path").to_string(),
            partition: v["partitionValues"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            stats: v["stats"]
                .as_str()
                .map(|s| serde_json::from_str(s).expect("stats JSON")),
        };
        if let Some(add) = action.get("add") {
            adds.push(file(add));
        } else if let Some(remove) = action.get("remove") {
            removes.push(file(remove));
        } else {
            others.push(action);
        }
    }
    (adds, removes, others)
}

/// The active files of a table at a version, through deltalake's own snapshot.
async fn snapshot_files(
    table_dir: &Path,
    version: Option<u64>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let url = url::Url::from_directory_path(table_dir).expect("absolute");
    let table = match version {
        Some(v) => deltalake::open_table_with_version(url, v).await,
        None => deltalake::open_table(url).await,
    }
    .unwrap_or_else(|e| panic!("deltalake opens {}: {e}", table_dir.display()));
    let snapshot = table.snapshot().expect("loaded");
    snapshot
        .log_data()
        .iter()
        .map(|f| {
            let values = f
                .partition_values_map()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect();
            (f.path().to_string(), values)
        })
        .collect()
}

/// Each row of `batches` as text, one cell per column in `columns`' order.
fn rows_as_text(batches: &[RecordBatch], columns: &[String]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = columns
            .iter()
            .map(|c| {
                let column = batch
                    .column_by_name(c)
                    .unwrap_or_else(|| panic!("column {c} missing from a file"));
                ArrayFormatter::try_new(column.as_ref(), &options).expect("formatter")
            })
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            rows.push(cells.join(" | "));
        }
    }
    rows.sort();
    rows
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{} is not a whole Parquet file: {e}", path.display()))
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

/// The warehouse's rows of one bot's table (every column but `bot_id`), as text.
fn warehouse_rows(conn: &Connection, spec: &TableSpec, bot_id: u64) -> (Vec<String>, Vec<String>) {
    let cast = if spec.name == "plans" {
        " REPLACE (CAST(duration_interval AS VARCHAR) AS duration_interval)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT * EXCLUDE (bot_id){cast} FROM {} WHERE bot_id = {bot_id}",
        spec.name
    );
    let batches: Vec<RecordBatch> = conn
        .prepare(&sql)
        .expect("query")
        .query_arrow([])
        .expect("arrow")
        .collect();
    let columns: Vec<String> = match batches.first() {
        Some(b) => b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        None => Vec::new(),
    };
    (rows_as_text(&batches, &columns), columns)
}

/// `2025-03` for a timestamp in microseconds (UTC).
fn month_of(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("in range")
        .format("%Y-%m")
        .to_string()
}

/// Every active file of every table holds exactly the warehouse's rows of its partition:
/// compared row by row; stats' record counts match the files; orders' rows sit in the
/// month their partition value names. Returns the active file count.
async fn assert_lake_equals_warehouse(dir: &Path, bot_id: u64) -> usize {
    assert_bot_in_lake_equals_warehouse(dir, bot_id, true).await
}

/// [`assert_lake_equals_warehouse`] for one bot of several (`alone`: no other bot's
/// files may be in the lake).
async fn assert_bot_in_lake_equals_warehouse(dir: &Path, bot_id: u64, alone: bool) -> usize {
    assert_bot_in_lake_at_equals_warehouse(dir, &dir.join("lake"), bot_id, alone).await
}

/// [`assert_bot_in_lake_equals_warehouse`] for the lake at `lake` (a directory).
async fn assert_bot_in_lake_at_equals_warehouse(
    dir: &Path,
    lake: &Path,
    bot_id: u64,
    alone: bool,
) -> usize {
    let conn = Connection::open(dir.join("warehouse.duckdb")).expect("warehouse");
    let mut total = 0;
    let bot_value = bot_id.to_string();
    for spec in mirrored_tables() {
        let table_dir = lake.join(spec.name);
        let mut files = snapshot_files(&table_dir, None).await;
        if !alone {
            files.retain(|_, values| values.get("bot_id") == Some(&bot_value));
        }
        let (want, columns) = warehouse_rows(&conn, spec, bot_id);
        let mut got_batches = Vec::new();
        for (path, values) in &files {
            assert_eq!(
                values.get("bot_id"),
                Some(&bot_value),
                "{}: {path} has partition values {values:?}",
                spec.name
            );
            let batches = read_parquet(&table_dir.join(path));
            for batch in &batches {
                assert!(
                    batch.column_by_name("bot_id").is_none(),
                    "{}: partition column bot_id is inside {path}",
                    spec.name
                );
                if spec.month_partition.is_some() {
                    let month = values.get("order_month").expect("order_month");
                    let dates = batch
                        .column_by_name("order_date")
                        .expect("order_date")
                        .as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .expect("UTC microsecond timestamps");
                    for i in 0..dates.len() {
                        assert_eq!(
                            &month_of(dates.value(i)),
                            month,
                            "orders: a row of {path} is outside its partition"
                        );
                    }
                }
            }
            got_batches.extend(batches);
        }
        let got = rows_as_text(&got_batches, &columns);
        assert_eq!(
            got.len(),
            want.len(),
            "{}: the lake holds {} rows, the warehouse {}",
            spec.name,
            got.len(),
            want.len()
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g, w,
                "{}: row {i} (sorted) differs between lake and warehouse",
                spec.name
            );
        }
        total += files.len();
    }
    total
}

fn scalar(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_readable_delta_tables_equal_to_the_warehouse_and_a_second_run_replaces_only_changed_partitions()
 {
    let server = start_sim(sim_options(1_200, 300)).await;
    let dir = tempdir();
    run_ok(&mut lake_sync(&server.base_url(), dir.path()), "first run");

    // Protocol at its most readable, schema and partitioning as documented.
    for spec in mirrored_tables() {
        let table_dir = dir.path().join("lake").join(spec.name);
        let (_, _, create) = commit_actions(&table_dir, 0);
        let protocol = create
            .iter()
            .find_map(|a| a.get("protocol"))
            .unwrap_or_else(|| panic!("{}: no protocol action in version 0", spec.name));
        assert_eq!(protocol["minReaderVersion"], 1, "{}: {protocol}", spec.name);
        assert_eq!(protocol["minWriterVersion"], 2, "{}: {protocol}", spec.name);
        assert!(
            protocol.get("readerFeatures").is_none() && protocol.get("writerFeatures").is_none(),
            "{}: table features in {protocol}",
            spec.name
        );
        let metadata = create
            .iter()
            .find_map(|a| a.get("metaData"))
            .expect("metaData");
        let want_parts: Vec<&str> = if spec.month_partition.is_some() {
            vec!["bot_id", "order_month"]
        } else {
            vec!["bot_id"]
        };
        assert_eq!(
            metadata["partitionColumns"],
            serde_json::json!(want_parts),
            "{}",
            spec.name
        );
        let schema: Value =
            serde_json::from_str(metadata["schemaString"].as_str().expect("schema")).expect("json");
        let types: BTreeMap<String, Value> = schema_fields(&schema).into_iter().collect();
        assert_eq!(types["_synced_at"], "timestamp", "{}: {types:?}", spec.name);
        assert_eq!(types["bot_id"], "long", "{}", spec.name);
        if spec.name == "orders" {
            assert_eq!(types["amount"], "decimal(38,18)");
            assert_eq!(types["order_month"], "string");
        }
        if spec.name == "coupons" {
            assert_eq!(types["plans"]["type"], "array");
            assert_eq!(types["plans"]["elementType"], "long");
            assert_eq!(types["payment_gateways"]["elementType"], "string");
        }
    }

    let files_v1 = assert_lake_equals_warehouse(dir.path(), BOT_ID).await;
    let orders_dir = dir.path().join("lake").join("orders");
    let (adds, removes, _) = commit_actions(&orders_dir, 1);
    assert!(
        removes.is_empty(),
        "a first run removes nothing: {removes:?}"
    );
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    let months = scalar(
        &conn,
        "SELECT count(DISTINCT strftime(order_date::TIMESTAMP, '%Y-%m')) FROM orders",
    );
    assert_eq!(adds.len() as i64, months, "one orders file per month");
    for add in &adds {
        let stats = add.stats.as_ref().expect("stats on every add");
        let file_rows = read_parquet(&orders_dir.join(&add.path))
            .iter()
            .map(RecordBatch::num_rows)
            .sum::<usize>();
        assert_eq!(stats["numRecords"], file_rows, "numRecords of {}", add.path);
        let month = &add.partition["order_month"];
        let min = stats["minValues"]["order_date"]
            .as_str()
            .expect("min order_date");
        let max = stats["maxValues"]["order_date"]
            .as_str()
            .expect("max order_date");
        assert!(
            min.starts_with(month.as_str()) && max.starts_with(month.as_str()),
            "{}: order_date bounds {min} … {max} outside {month}",
            add.path
        );
        assert_eq!(stats["nullCount"]["order_key"], 0, "{}", add.path);
    }
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM _lake_dirty"),
        0,
        "marks left"
    );
    drop(conn);

    // Changes: new orders (the newest month), a renamed plan, memberships gone.
    let handle = server.handle();
    let new_keys = handle.add_orders(3);
    let plan_id = handle.data().plans[0].plan_id;
    handle.rename_plan(plan_id, "Renamed for the lake test");
    let orders_v1 = snapshot_files(&orders_dir, Some(1)).await;
    run_ok(&mut lake_sync(&server.base_url(), dir.path()), "second run");
    assert_lake_equals_warehouse(dir.path(), BOT_ID).await;

    // Orders: one new version, whose removes are exactly the v1 files of the months the
    // new orders fall in, replaced by one file each; other months keep their files.
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    // The months whose rows the second run wrote, as the warehouse records them.
    let mut changed_months = BTreeSet::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT DISTINCT strftime(order_date::TIMESTAMP, '%Y-%m') FROM orders \
                 WHERE _run_id = (SELECT max(run_id) FROM _sync_runs)",
            )
            .expect("query");
        let months = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .expect("months");
        for month in months {
            changed_months.insert(month.expect("month"));
        }
    }
    for key in &new_keys {
        let micros: i64 = conn
            .query_row(
                "SELECT epoch_us(order_date) FROM orders WHERE order_key = ?",
                [key],
                |r| r.get(0),
            )
            .expect("the new order is in the warehouse");
        assert!(
            changed_months.contains(&month_of(micros)),
            "the new order {key} is not in a month the second run wrote"
        );
    }
    let (adds, removes, _) = commit_actions(&orders_dir, 2);
    let removed_months: BTreeSet<String> = removes
        .iter()
        .map(|r| r.partition["order_month"].clone())
        .collect();
    assert_eq!(removed_months, changed_months, "orders partitions replaced");
    let want_removed: BTreeSet<String> = orders_v1
        .iter()
        .filter(|(_, v)| changed_months.contains(&v["order_month"]))
        .map(|(p, _)| p.clone())
        .collect();
    let got_removed: BTreeSet<String> = removes.iter().map(|r| r.path.clone()).collect();
    assert_eq!(got_removed, want_removed, "the files removed in version 2");
    assert_eq!(
        adds.len(),
        changed_months.len(),
        "one new file per changed month"
    );
    let orders_v2 = snapshot_files(&orders_dir, None).await;
    for (path, values) in &orders_v1 {
        if !changed_months.contains(&values["order_month"]) {
            assert!(
                orders_v2.contains_key(path),
                "unchanged {path} was rewritten"
            );
        }
    }
    // Version 1 is still readable: its files are all still there.
    for path in orders_v1.keys() {
        assert!(
            orders_dir.join(path).exists(),
            "{path} of version 1 is gone before vacuum"
        );
    }
    // Plans: the renamed plan's partition (the bot's only one) replaced in one commit.
    let plans_dir = dir.path().join("lake").join(PLANS.name);
    let (plan_adds, plan_removes, _) = commit_actions(&plans_dir, 2);
    assert_eq!(
        (plan_adds.len(), plan_removes.len()),
        (1, 1),
        "plans version 2"
    );

    // Vacuum: a dry run lists exactly the removed files; the real one deletes them and
    // leaves the current version whole.
    let mut removed_all: BTreeSet<String> = got_removed.clone();
    removed_all.extend(plan_removes.iter().map(|r| r.path.clone()));
    let out = run_ok(
        bin()
            .args([
                "lake",
                "vacuum",
                "--dry-run",
                "--lake-retention-days",
                "0",
                "--allow-short-retention",
                "--lake-url",
            ])
            .arg(lake_url(dir.path())),
        "vacuum --dry-run",
    );
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    for path in &removed_all {
        assert!(
            listed.contains(path.as_str()),
            "dry run does not list {path}:\n{listed}"
        );
    }
    for path in &got_removed {
        assert!(orders_dir.join(path).exists(), "a dry run deleted {path}");
    }
    run_ok(
        bin()
            .args(["lake", "vacuum", "--allow-short-retention"])
            .args(["--lake-retention-days", "0", "--lake-url"])
            .arg(lake_url(dir.path())),
        "vacuum",
    );
    for path in &got_removed {
        assert!(!orders_dir.join(path).exists(), "vacuum left {path}");
    }
    let active = assert_lake_equals_warehouse(dir.path(), BOT_ID).await;
    assert!(active >= files_v1 - 1, "{active} active files after vacuum");
    server.shutdown().await;
}

/// Files under `dir` that end in `.parquet`, relative to it, outside `_delta_log`.
fn data_files(dir: &Path) -> BTreeSet<String> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "_delta_log"))
        .map(|p| p.strip_prefix(dir).expect("inside").display().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_between_upload_and_commit_leaves_only_unreferenced_files_and_the_rerun_finishes()
 {
    let server = start_sim(sim_options(800, 200)).await;
    let dir = tempdir();
    // The hook writes the table's name to the marker and waits: SIGKILL it there.
    let marker = dir.path().join("halted");
    let mut child = lake_sync(&server.base_url(), dir.path())
        .env(tgm_sync::lake::HALT_BEFORE_COMMIT_VAR, &marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_to_string(&marker).map_or(true, |t| t.trim().is_empty()) {
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the run ended before reaching the hook"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the hook was never reached"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let table = std::fs::read_to_string(&marker).expect("marker");
    let orders_dir = dir.path().join("lake").join(table.trim());
    let uploaded = data_files(&orders_dir);
    assert!(!uploaded.is_empty(), "files were uploaded before the abort");
    // No version references them: the table has only its creation.
    let committed = snapshot_files(&orders_dir, None).await;
    assert!(
        committed.is_empty(),
        "committed after the abort: {committed:?}"
    );
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    assert_eq!(
        scalar(&conn, "SELECT count(*) FROM _lake_published"),
        0,
        "nothing was recorded as published"
    );
    assert!(
        scalar(
            &conn,
            &format!(
                "SELECT count(*) FROM _lake_dirty WHERE table_name = '{}'",
                table.trim()
            )
        ) > 0,
        "the {table} marks were cleared before a commit"
    );
    drop(conn);

    run_ok(&mut lake_sync(&server.base_url(), dir.path()), "rerun");
    assert_lake_equals_warehouse(dir.path(), BOT_ID).await;
    let active: BTreeSet<String> = snapshot_files(&orders_dir, None)
        .await
        .into_keys()
        .collect();
    assert!(
        active.is_disjoint(&uploaded),
        "the rerun committed files of the killed run"
    );
    // The killed run's files are orphans: vacuum (retention 0) deletes exactly those.
    run_ok(
        bin()
            .args(["lake", "vacuum", "--allow-short-retention"])
            .args(["--lake-retention-days", "0", "--lake-url"])
            .arg(lake_url(dir.path())),
        "vacuum",
    );
    assert_eq!(data_files(&orders_dir), active, "files left after vacuum");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_syncing_different_bots_into_one_lake_both_commit() {
    let other_bot = BOT_ID + 1;
    let first = start_sim(sim_options(600, 100)).await;
    let second = start_sim(SimOptions {
        bot_id: other_bot,
        seed: 99,
        ..sim_options(600, 100)
    })
    .await;
    let shared = tempdir();
    let (a, b) = (tempdir(), tempdir());
    let lake = lake_url(shared.path());
    let spawn = |url: String, dir: &Path, bot: u64| {
        let mut cmd = bin();
        cmd.args([
            "sync",
            "-q",
            "--no-progress",
            "--base-url",
            &url,
            "--lake-url",
            &lake,
        ])
        .args(["--bot-id", &bot.to_string()])
        .arg("--warehouse")
        .arg(dir.join("warehouse.duckdb"))
        .arg("--parquet-dir")
        .arg(dir.join("parquet"))
        .env("TGM_API_KEY", TEST_KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        cmd.spawn().expect("spawn")
    };
    let one = spawn(first.base_url(), a.path(), BOT_ID);
    let two = spawn(second.base_url(), b.path(), other_bot);
    let (one, two) = (
        one.wait_with_output().expect("first"),
        two.wait_with_output().expect("second"),
    );
    for (name, out) in [("first", &one), ("second", &two)] {
        assert!(
            out.status.success(),
            "{name} process: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for spec in mirrored_tables() {
        let table_dir = shared.path().join("lake").join(spec.name);
        let files = snapshot_files(&table_dir, None).await;
        let bots: BTreeSet<String> = files.values().map(|v| v["bot_id"].clone()).collect();
        let want: BTreeSet<String> = [BOT_ID, other_bot].iter().map(u64::to_string).collect();
        assert_eq!(
            bots, want,
            "{}: bots with files in the shared table",
            spec.name
        );
    }
    // Each bot's rows equal its own warehouse's.
    for (dir, bot) in [(a.path(), BOT_ID), (b.path(), other_bot)] {
        let conn = Connection::open(dir.join("warehouse.duckdb")).expect("warehouse");
        for spec in mirrored_tables() {
            let table_dir = shared.path().join("lake").join(spec.name);
            let files = snapshot_files(&table_dir, None).await;
            let (want, columns) = warehouse_rows(&conn, spec, bot);
            let batches: Vec<RecordBatch> = files
                .iter()
                .filter(|(_, v)| v["bot_id"] == bot.to_string())
                .flat_map(|(p, _)| read_parquet(&table_dir.join(p)))
                .collect();
            assert_eq!(
                rows_as_text(&batches, &columns),
                want,
                "{}: bot {bot}'s rows in the shared lake",
                spec.name
            );
        }
    }
    first.shutdown().await;
    second.shutdown().await;
}

/// A stand-in S3 endpoint on 127.0.0.1 that refuses every request as S3 does an unknown
/// key, echoing the key id in its body as S3 does.
async fn refusing_s3() -> (String, tokio::task::JoinHandle<()>) {
    refusing_s3_saying("").await
}

/// [`refusing_s3`] whose error message ends with `echo` (a store that quotes what it got).
async fn refusing_s3_saying(echo: &str) -> (String, tokio::task::JoinHandle<()>) {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code>\
         <Message>The AWS Access Key Id you provided does not exist in our records.{echo}</Message>\
         <AWSAccessKeyId>AKIALAKELEAKCHECK42</AWSAccessKeyId><RequestId>1</RequestId></Error>"
    );
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                axum::http::StatusCode::FORBIDDEN,
                [("content-type", "application/xml")],
                body,
            )
                .into_response()
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_exit_8_before_anything_is_written_and_never_show_the_secret() {
    let server = start_sim(sim_options(50, 10)).await;
    let (endpoint, s3) = refusing_s3().await;
    let dir = tempdir();
    let secret = "lake-secret-LEAKCHECK-9d1e7";
    let key_id = "AKIALAKELEAKCHECK42";
    let mut cmd = sync_command(&server.base_url(), dir.path());
    cmd.args(["-vv", "--lake-url", "s3://bucket/prefix"])
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true");
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(8), "exit code; stderr:\n{stderr}");
    assert!(
        stderr.contains("refused the credentials") && stderr.contains("InvalidAccessKeyId"),
        "the error says what happened:\n{stderr}"
    );
    for text in [&stderr, &stdout] {
        assert!(!text.contains(secret), "the secret key leaked:\n{text}");
        assert!(!text.contains(key_id), "the key id leaked:\n{text}");
    }
    assert!(
        !dir.path().join("warehouse.duckdb").exists(),
        "the warehouse was written before the lake check"
    );
    assert!(
        files_under(dir.path()).is_empty(),
        "files written: {:?}",
        files_under(dir.path())
    );
    s3.abort();
    server.shutdown().await;
}

#[test]
fn a_lake_url_with_credentials_in_it_is_a_configuration_error() {
    let dir = tempdir();
    let out = sync_command("http://127.0.0.1:9", dir.path())
        .args(["--lake-url", "s3://AKIAX:hunter2secret@bucket/p"])
        .env("TGM_API_KEY", TEST_KEY)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lake_url"), "names the setting:\n{stderr}");
    let _: PathBuf = dir.path().to_path_buf();
}

/// The Delta schema's fields of a table's latest version: name → type (as JSON).
async fn delta_schema(table_dir: &Path) -> Vec<(String, Value)> {
    let url = url::Url::from_directory_path(table_dir).expect("absolute");
    let table = deltalake::open_table(url)
        .await
        .unwrap_or_else(|e| panic!("deltalake opens {}: {e}", table_dir.display()));
    let schema = table.snapshot().expect("loaded").schema();
    schema_fields(&serde_json::to_value(schema.as_ref()).expect("schema as JSON"))
}

/// The fields of a Delta schema (its JSON form): name → type, in order.
fn schema_fields(schema: &Value) -> Vec<(String, Value)> {
    schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name").to_string(),
                f["type"].clone(),
            )
        })
        .collect()
}

/// Replaces `table` in the lake by an empty Delta table whose columns are the warehouse's
/// export with `change` applied: a lake written by another version of tgm-sync.
async fn replace_table_schema(
    dir: &Path,
    spec: &'static TableSpec,
    change: impl Fn(&arrow::datatypes::Field) -> Option<arrow::datatypes::Field>,
) {
    let table_dir = dir.join("lake").join(spec.name);
    std::fs::remove_dir_all(&table_dir).expect("the table's directory");
    let conn = Connection::open(dir.join("warehouse.duckdb")).expect("warehouse");
    let exported = tgm_sync::lake::datafile::file_schema(&conn, spec).expect("export schema");
    let fields: Vec<arrow::datatypes::Field> =
        exported.fields().iter().filter_map(|f| change(f)).collect();
    let narrowed = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
    let lake = tgm_sync::lake::LakeUrl::parse(&lake_url(dir)).expect("lake URL");
    tgm_sync::lake::table::open_or_create(&lake, spec, &narrowed)
        .await
        .expect("the older table is created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_warehouse_columns_widen_the_delta_schema_and_a_changed_type_is_refused_by_name() {
    use tgm_sync::streams::orders::ORDERS;
    use tgm_sync::streams::projects::PROJECTS;
    let server = start_sim(sim_options(600, 100)).await;
    let dir = tempdir();
    run_ok(&mut lake_sync(&server.base_url(), dir.path()), "first run");
    let orders_dir = dir.path().join("lake").join(ORDERS.name);
    let orders_before = snapshot_files(&orders_dir, None).await;
    let orders_version = snapshot_version(&orders_dir).await;

    // As if an older tgm-sync, without plans' `_deleted_at`, had written the lake; and as
    // if the orders files had been written with other columns than today's.
    replace_table_schema(dir.path(), &PLANS, |f| {
        (f.name() != "_deleted_at").then(|| f.clone())
    })
    .await;
    let plans_dir = dir.path().join("lake").join(PLANS.name);
    assert!(
        !delta_schema(&plans_dir)
            .await
            .iter()
            .any(|(n, _)| n == "_deleted_at"),
        "the stand-in older table has no _deleted_at"
    );
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    conn.execute(
        "UPDATE _lake_published SET columns = 'as an older version wrote them' \
         WHERE table_name IN ('orders', 'plans')",
        [],
    )
    .expect("older columns recorded");
    drop(conn);

    run_ok(
        &mut lake_sync(&server.base_url(), dir.path()),
        "run after the change",
    );
    // Plans: the commit carries the wider schema, `_deleted_at` last, as a timestamp.
    let (_, _, others) = commit_actions(&plans_dir, 1);
    assert!(
        others.iter().any(|a| a.get("metaData").is_some()),
        "plans' commit carries no metaData action: {others:?}"
    );
    let fields = delta_schema(&plans_dir).await;
    assert_eq!(
        fields.last(),
        Some(&("_deleted_at".to_string(), Value::from("timestamp"))),
        "plans' schema after the run: {fields:?}"
    );
    // Orders: the bot published whole again, every earlier file replaced in one commit.
    let (adds, removes, _) = commit_actions(&orders_dir, orders_version + 1);
    let removed: BTreeSet<String> = removes.iter().map(|r| r.path.clone()).collect();
    let before: BTreeSet<String> = orders_before.keys().cloned().collect();
    assert_eq!(removed, before, "every orders file of the bot replaced");
    assert_eq!(adds.len(), orders_before.len(), "one new file per month");
    assert_lake_equals_warehouse(dir.path(), BOT_ID).await;
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM _lake_published WHERE columns LIKE 'as an older%'"
        ),
        0,
        "the new columns are recorded"
    );
    // A lake whose `project_name` is a number: refused, naming table, column and types,
    // with exit 8, and nothing committed to that table.
    conn.execute(
        "UPDATE _lake_published SET columns = 'changed' WHERE table_name = 'projects'",
        [],
    )
    .expect("older columns recorded");
    drop(conn);
    replace_table_schema(dir.path(), &PROJECTS, |f| {
        Some(if f.name() == "project_name" {
            arrow::datatypes::Field::new("project_name", arrow::datatypes::DataType::Int64, true)
        } else {
            f.clone()
        })
    })
    .await;
    let out = lake_sync(&server.base_url(), dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "stderr:\n{stderr}");
    assert!(
        stderr.contains("projects") && stderr.contains("`project_name`") && stderr.contains("long"),
        "the error names the table, the column and the types:\n{stderr}"
    );
    let projects_dir = dir.path().join("lake").join(PROJECTS.name);
    assert_eq!(
        snapshot_version(&projects_dir).await,
        0,
        "nothing committed"
    );
    server.shutdown().await;
}

/// The latest version of a Delta table.
async fn snapshot_version(table_dir: &Path) -> u64 {
    let url = url::Url::from_directory_path(table_dir).expect("absolute");
    let table = deltalake::open_table(url).await.expect("opens");
    table.version().expect("a version") as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_metrics_and_status_show_each_tables_delta_version() {
    let server = start_sim(sim_options(300, 50)).await;
    let dir = tempdir();
    let metrics = dir.path().join("tgm.prom");
    let out = run_ok(
        sync_command(&server.base_url(), dir.path())
            .args(["--lake-url", &lake_url(dir.path())])
            .arg("--metrics-file")
            .arg(&metrics),
        "lake sync",
    );
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    let metrics = std::fs::read_to_string(&metrics).expect("metrics file");
    assert!(metrics.contains("\ntgm_sync_lake_success 1\n"), "{metrics}");
    let out = run_ok(
        bin()
            .arg("status")
            .arg("--warehouse")
            .arg(dir.path().join("warehouse.duckdb")),
        "status",
    );
    let status = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(status.contains("Lake tables"), "{status}");
    for spec in mirrored_tables() {
        // The version as the Delta log itself has it, not as tgm-sync reports it.
        let version = snapshot_version(&dir.path().join("lake").join(spec.name)).await;
        let line = summary
            .lines()
            .find(|l| l.split_whitespace().take(2).eq(["lake", spec.name]))
            .unwrap_or_else(|| panic!("no summary line for {}:\n{summary}", spec.name));
        assert!(
            line.contains(&format!("version {version:>5}:")),
            "{line} (the log is at {version})"
        );
        let sample = format!(
            "tgm_sync_lake_version{{table=\"{}\"}} {version}\n",
            spec.name
        );
        assert!(metrics.contains(&sample), "no `{sample}` in:\n{metrics}");
        let row = status
            .lines()
            .find(|l| l.contains(&format!("| {} ", spec.name)) && l.contains("file://"))
            .unwrap_or_else(|| panic!("no status row for {}:\n{status}", spec.name));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(
            cells.contains(&version.to_string().as_str()),
            "status row {row} lacks version {version}"
        );
    }
    // A run with nothing owed commits nothing and says so.
    let out = run_ok(
        sync_command(&server.base_url(), dir.path()).args(["--lake-url", &lake_url(dir.path())]),
        "second lake sync",
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("lake: nothing owed, no commit"),
        "{summary}"
    );
    server.shutdown().await;
}

#[test]
fn vacuum_of_a_lake_without_tables_creates_nothing() {
    let dir = tempdir();
    std::fs::create_dir_all(dir.path().join("lake")).expect("lake root");
    let out = run_ok(
        bin()
            .args(["lake", "vacuum", "--allow-short-retention"])
            .args(["--lake-retention-days", "0", "--lake-url"])
            .arg(lake_url(dir.path())),
        "vacuum",
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("lake"))
        .expect("lake root")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        left.is_empty(),
        "vacuum created {left:?}; it said:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_whose_key_is_refused_is_left_out_of_the_lake_and_the_others_are_complete() {
    use tgm_sync::sync::{self, LakeReport, SyncOptions};
    use tgm_sync::sync::{BotVerdict, worst};

    let server = start_sim(SimOptions {
        bots: 3,
        ..sim_options(300, 80)
    })
    .await;
    let dir = tempdir();
    let mut settings = settings_for_every_bot(&server, dir.path());
    settings.lake = Some(file_lake(dir.path()));
    let victim = server.handles[1].clone();
    victim.revoke_key(401);

    let outcome = sync::run(&settings, &SyncOptions::default())
        .await
        .expect("the run starts");
    assert_eq!(worst(&outcome.bots), BotVerdict::KeyRefused);
    assert!(
        matches!(outcome.lake, Some(LakeReport::Published(_))),
        "the lake output: {:?}",
        outcome.lake
    );
    for h in &server.handles {
        if h.bot_id() != victim.bot_id() {
            assert_bot_in_lake_equals_warehouse(dir.path(), h.bot_id(), false).await;
        }
    }
    let victim_value = victim.bot_id().to_string();
    for spec in mirrored_tables() {
        let files = snapshot_files(&dir.path().join("lake").join(spec.name), None).await;
        assert!(
            files.values().all(|v| v["bot_id"] != victim_value),
            "{}: the refused bot has files in the lake",
            spec.name
        );
    }

    // The key is back: the next run publishes that bot whole, the others owe nothing.
    victim.restore_key();
    let outcome = sync::run(&settings, &SyncOptions::default())
        .await
        .expect("the run starts");
    assert_eq!(worst(&outcome.bots), BotVerdict::Synced);
    let Some(LakeReport::Published(published)) = &outcome.lake else {
        panic!("the lake output: {:?}", outcome.lake);
    };
    assert!(!published.tables.is_empty(), "nothing published");
    for h in &server.handles {
        assert_bot_in_lake_equals_warehouse(dir.path(), h.bot_id(), false).await;
    }
    server.shutdown().await;
}

/// The newest modification time of the data files of one bot's table in the lake.
fn lake_files_written(dir: &Path, table: &str, bot_id: u64) -> Vec<std::time::SystemTime> {
    let bot_dir = dir
        .join("lake")
        .join(table)
        .join(format!("bot_id={bot_id}"));
    files_under(&bot_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| {
            std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .expect("mtime")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_bots_lake_files_go_up_while_a_slow_bot_still_syncs_and_each_table_commits_once() {
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;
    use tgm_sync::sim::FaultOptions;
    use tgm_sync::sync::{self, LakeReport, SyncOptions};
    use tgm_sync::sync::{BotVerdict, worst};

    let server = start_sim(SimOptions {
        bots: 2,
        ..sim_options(300, 80)
    })
    .await;
    let (fast, slow) = (server.handles[0].clone(), server.handles[1].clone());
    // The slow bot answers each request 100 ms late: its streams and exchange-rate reads
    // take seconds after the fast bot's streams are in. When it was last served:
    slow.set_faults(FaultOptions {
        latency_ms: 100,
        ..FaultOptions::default()
    });
    let last_served = Arc::new(Mutex::new(SystemTime::UNIX_EPOCH));
    let seen = Arc::clone(&last_served);
    slow.set_response_hook(Some(Arc::new(move |_, _| {
        *seen.lock().expect("lock") = SystemTime::now();
    })));
    let dir = tempdir();
    let mut settings = settings_for_every_bot(&server, dir.path());
    settings.bots_in_flight = 2;
    settings.lake = Some(file_lake(dir.path()));
    let outcome = sync::run(&settings, &SyncOptions::default())
        .await
        .expect("the run starts");
    assert_eq!(worst(&outcome.bots), BotVerdict::Synced);
    let Some(LakeReport::Published(published)) = &outcome.lake else {
        panic!("the lake output: {:?}", outcome.lake);
    };
    let slow_last = *last_served.lock().expect("lock");
    // The fast bot's files were uploaded while the slow bot was still being served (they
    // used to wait for the last bot).
    for spec in mirrored_tables() {
        let written = lake_files_written(dir.path(), spec.name, fast.bot_id());
        assert!(
            !written.is_empty(),
            "{}: no file of the fast bot",
            spec.name
        );
        assert!(
            written.iter().all(|t| *t < slow_last),
            "{}: the fast bot's lake files were written after the slow bot's last request",
            spec.name
        );
    }
    // One commit per table (version 0 is the table's creation), carrying both bots.
    assert_eq!(published.tables.len(), mirrored_tables().count());
    for table in &published.tables {
        assert_eq!(table.committed.version, 1, "{}: one commit", table.table);
    }
    for h in &server.handles {
        assert_bot_in_lake_equals_warehouse(dir.path(), h.bot_id(), false).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenth_version_of_a_table_writes_a_log_checkpoint() {
    let server = start_sim(sim_options(120, 20)).await;
    let dir = tempdir();
    let orders_log = dir.path().join("lake").join("orders").join("_delta_log");
    let handle = server.handle();
    // Version 0 creates the table, each run with a new order commits one more version.
    let mut version = 0;
    while version < 10 {
        handle.add_orders(1);
        run_ok(
            &mut lake_sync(&server.base_url(), dir.path()),
            &format!("run up to version {version}"),
        );
        version = snapshot_version(orders_log.parent().expect("table dir")).await;
    }
    assert!(
        orders_log
            .join("00000000000000000009.checkpoint.parquet")
            .is_file(),
        "no checkpoint at version 9 (the 10th): {:?}",
        std::fs::read_dir(&orders_log)
            .expect("log")
            .map(|e| e.expect("entry").file_name())
            .collect::<Vec<_>>()
    );
    let last: Value = serde_json::from_str(
        &std::fs::read_to_string(orders_log.join("_last_checkpoint")).expect("_last_checkpoint"),
    )
    .expect("JSON");
    assert_eq!(last["version"], 9, "{last}");
    assert!(
        !orders_log
            .join("00000000000000000008.checkpoint.parquet")
            .exists(),
        "a checkpoint before the interval"
    );
    assert_lake_equals_warehouse(dir.path(), BOT_ID).await;
    server.shutdown().await;
}

/// The soft `RLIMIT_CORE` raised to the hard limit in the child before it starts, so that
/// only the binary itself can have lowered it.
fn allow_core_dumps(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getrlimit/setrlimit are async-signal-safe and only touch the local struct.
    unsafe {
        cmd.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_CORE, &limit);
            }
            Ok(())
        });
    }
}

/// The soft and hard "Max core file size" of a process, from `/proc/<pid>/limits`.
fn core_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("a core size line");
    let mut fields = line["Max core file size".len()..].split_whitespace();
    (
        fields.next().expect("soft").to_string(),
        fields.next().expect("hard").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_holding_the_key_can_leave_no_core_dump() {
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct passed by reference.
    unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut own) };
    if own.rlim_max == 0 {
        skip_unless_ci(
            "a_run_holding_the_key_can_leave_no_core_dump",
            "the hard core size limit is already 0 here: the binary's own limit is not shown",
        );
        return;
    }
    let server = start_sim(sim_options(120, 30)).await;
    let dir = tempdir();
    // Stopped at the lake's test hook, mid-run, with the key loaded.
    let marker = dir.path().join("halted");
    let mut cmd = lake_sync(&server.base_url(), dir.path());
    cmd.env(tgm_sync::lake::HALT_BEFORE_COMMIT_VAR, &marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    allow_core_dumps(&mut cmd);
    let mut child = cmd.spawn().expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_to_string(&marker).map_or(true, |t| t.trim().is_empty()) {
        assert!(child.try_wait().expect("poll").is_none(), "ended early");
        assert!(std::time::Instant::now() < deadline, "hook never reached");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let limits = core_limits(child.id());
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_eq!(
        limits,
        ("0".to_string(), "0".to_string()),
        "the running binary's core size limit (soft, hard)"
    );

    // The hook that aborts: SIGABRT, and no core written, wherever the pattern points.
    let mut cmd = lake_sync(&server.base_url(), dir.path());
    cmd.env(tgm_sync::lake::HALT_BEFORE_COMMIT_VAR, "abort")
        .args(["--full-refresh"])
        .current_dir(dir.path());
    allow_core_dumps(&mut cmd);
    let out = cmd.output().expect("runs");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{:?}", out.status);
    assert!(!out.status.core_dumped(), "a core was dumped");
    assert!(
        !files_under(dir.path()).iter().any(|p| p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("core"))),
        "a core file in the working directory"
    );
    server.shutdown().await;
}

#[test]
fn a_lake_mirror_or_warehouse_inside_another_is_a_configuration_error_naming_both() {
    let dir = tempdir();
    let parquet = dir.path().join("parquet");
    let cases = [
        // The lake under the mirror (whose sweep would walk it).
        (
            format!("file://{}", parquet.join("lake").display()),
            None,
            ("parquet_dir", "lake_url"),
        ),
        // The mirror under the lake.
        (
            format!("file://{}", dir.path().display()),
            None,
            ("warehouse", "lake_url"),
        ),
        // The warehouse inside the mirror.
        (
            lake_url(dir.path()),
            Some(dir.path().join("parquet/warehouse.duckdb")),
            ("warehouse", "parquet_dir"),
        ),
    ];
    for (lake, warehouse, (first, second)) in cases {
        let mut cmd = bin();
        cmd.args(["sync", "--no-progress", "--base-url", "http://127.0.0.1:9"])
            .args(["--bot-id", &BOT_ID.to_string(), "--lake-url", &lake])
            .arg("--warehouse")
            .arg(warehouse.unwrap_or_else(|| dir.path().join("warehouse.duckdb")))
            .arg("--parquet-dir")
            .arg(&parquet)
            .env("TGM_API_KEY", TEST_KEY);
        let out = cmd.output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{lake}: {stderr}");
        assert!(
            stderr.contains(first) && stderr.contains(second) && stderr.contains("overlap"),
            "{lake}: the error names both settings:\n{stderr}"
        );
        assert!(
            files_under(dir.path()).is_empty(),
            "{lake}: files written: {:?}",
            files_under(dir.path())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_refuses_a_short_retention_and_never_runs_while_a_sync_holds_the_warehouse() {
    let server = start_sim(sim_options(40, 10)).await;
    let dir = tempdir();
    run_ok(&mut lake_sync(&server.base_url(), dir.path()), "sync");
    // A file no version references, as a run killed before its commit leaves.
    let plans_dir = dir.path().join("lake").join(PLANS.name);
    let orphan = plans_dir.join(format!("bot_id={BOT_ID}/part-orphan.zstd.parquet"));
    std::fs::write(&orphan, b"PAR1").expect("orphan");
    let warehouse = dir.path().join("warehouse.duckdb");
    let vacuum = |extra: &[&str]| {
        let mut cmd = bin();
        cmd.args(["lake", "vacuum", "--lake-url", &lake_url(dir.path())])
            .arg("--warehouse")
            .arg(&warehouse)
            .args(extra);
        cmd.output().expect("runs")
    };

    // Below Delta's 7 days: refused, naming the setting and the way out.
    for days in ["0", "6.9"] {
        let out = vacuum(&["--lake-retention-days", days]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "retention {days}: {stderr}");
        assert!(
            stderr.contains("lake_retention_days") && stderr.contains("--allow-short-retention"),
            "{stderr}"
        );
        assert!(orphan.exists(), "retention {days}: the orphan was deleted");
    }

    // A sync holds the warehouse (its run lock): vacuum does not run, exit 5.
    let holder = tgm_sync::warehouse::Warehouse::open(&warehouse).expect("lock taken");
    let out = vacuum(&["--lake-retention-days", "0", "--allow-short-retention"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("lake vacuum did not run"), "{stderr}");
    assert!(
        orphan.exists(),
        "vacuum deleted a file while a sync held the warehouse"
    );
    drop(holder);

    // Released, and told to: it runs.
    let out = vacuum(&["--lake-retention-days", "0", "--allow-short-retention"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !orphan.exists(),
        "the orphan is deleted once nothing holds the warehouse"
    );
    assert_lake_equals_warehouse(dir.path(), BOT_ID).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_down_at_the_start_leaves_the_warehouse_and_mirror_synced_and_the_lake_owed() {
    let server = start_sim(sim_options(120, 30)).await;
    let dir = tempdir();
    // An S3 endpoint nobody answers on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let endpoint = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let out = sync_command(&server.base_url(), dir.path())
        .args(["--lake-url", "s3://bucket/prefix"])
        .env("AWS_ACCESS_KEY_ID", "AKIALAKEDOWN0001")
        .env("AWS_SECRET_ACCESS_KEY", "lake-down-secret-0001")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("s3://bucket/prefix") && stdout.contains("lake: failed"),
        "the failure names the lake:\n{stdout}\n{stderr}"
    );
    // The warehouse and the mirror are whole, the lake owed everything.
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    crate::sync::assert_equals_sim(&conn, &server.handle().data());
    crate::sync::assert_parquet_equals_duckdb(&conn, &dir.path().join("parquet"));
    assert!(
        scalar(&conn, "SELECT count(*) FROM _lake_dirty") > 0,
        "the lake's marks were cleared although nothing was published"
    );
    assert_eq!(scalar(&conn, "SELECT count(*) FROM _lake_published"), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_the_lake_from_a_to_b_and_back_loses_nothing() {
    let server = start_sim(sim_options(300, 60)).await;
    let dir = tempdir();
    let (lake_a, lake_b) = (dir.path().join("lake"), dir.path().join("lake-b"));
    let sync_to = |lake: &Path, what: &str| {
        let mut cmd = sync_command(&server.base_url(), dir.path());
        cmd.args(["-q", "--lake-url", &format!("file://{}", lake.display())]);
        run_ok(&mut cmd, what);
    };
    let handle = server.handle();
    let plan_id = handle.data().plans[0].plan_id;
    sync_to(&lake_a, "first run, lake A");
    // Changes that only lake B sees being published.
    handle.add_orders(4);
    handle.rename_plan(plan_id, "Renamed while lake B was configured");
    sync_to(&lake_b, "second run, lake B");
    assert_bot_in_lake_at_equals_warehouse(dir.path(), &lake_b, BOT_ID, true).await;
    // Back on A, with one more change: A gets what it missed and the new one.
    handle.add_orders(2);
    sync_to(&lake_a, "third run, back on lake A");
    assert_bot_in_lake_at_equals_warehouse(dir.path(), &lake_a, BOT_ID, true).await;
    // And B, configured again, gets the change it missed.
    sync_to(&lake_b, "fourth run, lake B again");
    assert_bot_in_lake_at_equals_warehouse(dir.path(), &lake_b, BOT_ID, true).await;
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    assert_eq!(
        scalar(
            &conn,
            "SELECT count(*) FROM _lake_owed WHERE lake_url LIKE '%lake-b'"
        ),
        0,
        "lake B's debts settled"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_an_aws_profile_file_are_redacted_like_the_variables() {
    let server = start_sim(sim_options(50, 10)).await;
    let key_id = "AKIAPROFILELEAK0077";
    let secret = "profile/Secret+LEAK=0077";
    let token = "profileSessionTokenLEAK0077";
    // A store that quotes back every credential it was sent (as a misbehaving proxy or
    // a verbose error might).
    let (endpoint, s3) = refusing_s3_saying(&format!(" Got {key_id}, {secret}, {token}.")).await;
    let dir = tempdir();
    let aws = dir.path().join("aws");
    std::fs::create_dir_all(&aws).expect("aws dir");
    let credentials = aws.join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = AKIAOTHERPROFILE01\naws_secret_access_key = other\n\n\
             [lake]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n\
             aws_session_token = {token}\n"
        ),
    )
    .expect("credentials file");
    let mut cmd = sync_command(&server.base_url(), dir.path());
    cmd.args(["-vv", "--lake-url", "s3://bucket/prefix"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("HOME", dir.path())
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", aws.join("config"))
        .env("AWS_PROFILE", "lake")
        // With an endpoint set, delta-rs reads the AWS SDK's chain (profiles) only when
        // told to.
        .env("AWS_FORCE_CREDENTIAL_LOAD", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("RUST_LOG", "trace");
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(8), "exit code; stderr:\n{stderr}");
    assert!(
        stderr.contains("refused the credentials") && stderr.contains("Got ***"),
        "the store's echo is shown, redacted:\n{stderr}"
    );
    for text in [&stderr, &stdout] {
        for leak in [key_id, secret, token] {
            assert!(!text.contains(leak), "{leak} leaked:\n{text}");
        }
    }
    s3.abort();
    server.shutdown().await;
}

/// The paths a traced process synced (`fsync`/`fdatasync` of a descriptor opened on
/// them), from `strace -f -e trace=openat,fsync,fdatasync,close` output.
fn synced_paths(trace: &str) -> BTreeSet<String> {
    let mut open: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    let mut synced = BTreeSet::new();
    let path_of = |line: &str| -> Option<String> {
        let start = line.find("openat(")?;
        let rest = &line[start..];
        let q = rest.find('"')? + 1;
        let end = rest[q..].find('"')? + q;
        Some(rest[q..end].to_string())
    };
    let result = |line: &str| -> Option<String> {
        let (_, ret) = line.rsplit_once(" = ")?;
        let fd = ret.split_whitespace().next()?;
        fd.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n.to_string())
    };
    let fd_arg = |line: &str, call: &str| -> Option<String> {
        let start = line.find(&format!("{call}("))? + call.len() + 1;
        let end = line[start..].find(|c: char| !c.is_ascii_digit())? + start;
        Some(line[start..end].to_string())
    };
    for line in trace.lines() {
        let tid = line.split_whitespace().next().unwrap_or("").to_string();
        if line.contains("openat(") {
            let Some(path) = path_of(line) else { continue };
            if line.contains("<unfinished ...>") {
                pending.insert(tid, path);
            } else if let Some(fd) = result(line) {
                open.insert(fd, path);
            }
        } else if line.contains("<... openat resumed>") {
            if let (Some(path), Some(fd)) = (pending.remove(&tid), result(line)) {
                open.insert(fd, path);
            }
        } else {
            for call in ["fsync", "fdatasync"] {
                if let Some(fd) = fd_arg(line, call)
                    && let Some(path) = open.get(&fd)
                {
                    synced.insert(path.clone());
                }
            }
            if let Some(fd) = fd_arg(line, "close") {
                open.remove(&fd);
            }
        }
    }
    synced
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_lake_syncs_its_data_files_and_commit_to_disk() {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        skip_unless_ci(
            "a_file_lake_syncs_its_data_files_and_commit_to_disk",
            "strace is not installed, the fsync calls cannot be seen",
        );
        return;
    }
    let server = start_sim(sim_options(60, 15)).await;
    let dir = tempdir();
    let trace = dir.path().join("strace.txt");
    let sync = lake_sync(&server.base_url(), dir.path());
    let mut cmd = std::process::Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=openat,fsync,fdatasync,close",
        "-o",
    ])
    .arg(&trace)
    .arg(sync.get_program())
    .args(sync.get_args());
    for (k, v) in sync.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().expect("strace runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let synced = synced_paths(&std::fs::read_to_string(&trace).expect("trace"));
    let lake = dir.path().join("lake");
    let mut checked = 0;
    for spec in mirrored_tables() {
        let table_dir = lake.join(spec.name);
        if !table_dir.join("_delta_log").is_dir() {
            continue;
        }
        let commit = table_dir.join("_delta_log").join(format!("{:020}.json", 1));
        let mut want: Vec<PathBuf> = data_files(&table_dir)
            .iter()
            .map(|rel| table_dir.join(rel))
            .collect();
        want.push(commit);
        want.push(table_dir.join("_delta_log"));
        for path in want {
            assert!(
                synced.contains(&path.display().to_string()),
                "{} was never synced to disk",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "{checked} paths checked");
    server.shutdown().await;
}
