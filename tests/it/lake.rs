//! The Delta Lake output, read back by three readers that share no code with tgm-sync
//! (Python `deltalake`, `polars.scan_delta`, DuckDB 1.5's `delta` extension) and compared
//! row by row with the DuckDB warehouse; on a local S3 server (moto on 127.0.0.1), behind
//! a fault proxy where the test needs one, and on `file://` once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tgm_sync::currency::Currency;
use tgm_sync::sim::{OrderStatus, SimHandle, SimOptions};

use crate::lake_support::*;
use crate::s3_proxy::{Fault, Match, Outcome, Rule, S3Proxy};
use crate::support::*;

/// The harness itself: moto starts, the proxy forwards signed requests unchanged and
/// injects exactly the faults its rules name (boto3 retries them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_moto_and_the_fault_proxy() {
    let Some(envs) = py_envs("harness_moto_and_the_fault_proxy") else {
        return;
    };
    let moto = Moto::start(&envs);
    moto.create_bucket(BUCKET);
    let proxy = S3Proxy::start(
        moto.addr,
        vec![
            Rule::nth(Match::Read, 1, Fault::Status(503)),
            Rule::nth(Match::Read, 2, Fault::DropBeforeForward),
        ],
    )
    .await;
    let through_proxy = S3Access::new(proxy.endpoint());
    let listed = tokio::task::spawn_blocking({
        let envs = envs.clone();
        let access = through_proxy.clone();
        move || {
            let mut cmd = std::process::Command::new(envs.lake_python());
            cmd.arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/it/lake_py/s3_admin.py"
            ))
            .args(["list", BUCKET]);
            access.apply(&mut cmd);
            run_bounded(cmd, Duration::from_secs(60), "s3_admin.py list")
        }
    })
    .await
    .expect("lister");
    assert!(
        listed.status.success(),
        "listing through the proxy failed: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");
    assert_eq!((proxy.fired(0), proxy.fired(1)), (1, 1), "each fault once");
    let outcomes: Vec<Outcome> = proxy.seen().into_iter().map(|s| s.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Injected(Fault::Status(503)),
            Outcome::Injected(Fault::DropBeforeForward),
            Outcome::Forwarded(200)
        ],
        "503, a dropped connection, then the real answer"
    );
}

/// The harness's readers and comparator on a lake another writer made (Python
/// `deltalake`, from the Parquet mirror): they find it equal to the warehouse, and a
/// changed value is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_readers_and_comparator_on_a_lake_written_by_python() {
    let Some(envs) = py_envs("harness_readers_and_comparator_on_a_lake_written_by_python") else {
        return;
    };
    let moto = Moto::start(&envs);
    moto.create_bucket(BUCKET);
    let access = moto.access();
    let server = start_sim(sim_options(600, 120)).await;
    let dir = tempdir();
    let mut sync = sync_command(&server.base_url(), dir.path());
    sync.arg("--full-refresh");
    assert_ok(
        &run(sync, "sync").await,
        "sync to the warehouse and Parquet",
    );
    let root = s3_root("python");
    let mut write = Command::new(envs.lake_python());
    write
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/lake_py/mirror_to_delta.py"
        ))
        .arg(dir.path().join("parquet"))
        .arg(&root)
        .args(lake_tables().into_iter().map(|(t, _)| t));
    access.apply(&mut write);
    assert_ok(
        &run(write, "mirror_to_delta.py").await,
        "writing the Delta tables with Python",
    );
    assert_agree(
        "a lake written by Python",
        &envs,
        &root,
        Some(&access),
        vec![warehouse(dir.path())],
    )
    .await;

    // One changed amount is found, with its key and both values.
    let mut expected = expected_from(&[&warehouse(dir.path())]);
    let row = expected
        .get_mut("orders")
        .and_then(|r| r.first_mut())
        .expect("an order");
    row.insert(
        "amount".into(),
        serde_json::Value::String("0.000000000000000001".into()),
    );
    let read = read_all(
        &envs,
        Reader::Polars,
        &root,
        latest_of_all(),
        Some(&access),
        false,
    )
    .await;
    let diff = table_diff("orders", &expected["orders"], read.get("orders"))
        .expect_err("a changed amount is a difference");
    assert!(
        diff.contains("1 changed") && diff.contains("amount: lake"),
        "the difference names the row and column: {diff}"
    );
    server.shutdown().await;
}

// ---- How tgm-sync is told about the lake (names from the lake side's notes). ----

/// The lake flag of `tgm-sync sync` (TOML `lake_url`, env `TGM_LAKE_URL`).
const LAKE_URL_FLAG: &str = "--lake-url";
/// The exit code for storage credentials the object store refuses.
const LAKE_AUTH_EXIT: i32 = 8;

/// A second simulated bot, for the two-writer test.
const OTHER_BOT: u64 = 2_000_000_017;
const OTHER_KEY: &str = "TGMKEY-otherbot-91d3e07a44";

/// `tgm-sync sync` of `bot` at `sim_url` into `dir` (warehouse + Parquet) and the lake.
fn lake_sync(
    sim_url: &str,
    bot: u64,
    key: &str,
    dir: &Path,
    lake_url: &str,
    access: Option<&S3Access>,
) -> Command {
    let mut cmd = bin();
    cmd.args([
        "sync",
        "--no-progress",
        "--bot-id",
        &bot.to_string(),
        "--base-url",
        sim_url,
    ])
    .arg("--warehouse")
    .arg(dir.join("warehouse.duckdb"))
    .arg("--parquet-dir")
    .arg(dir.join("parquet"))
    .args([LAKE_URL_FLAG, lake_url])
    .env("TGM_API_KEY", key)
    .env_remove("TGM_LAKE_URL");
    if let Some(access) = access {
        access.apply(&mut cmd);
    }
    cmd
}

/// `tgm-sync lake vacuum` of `lake_url` with retention 0 (everything unreferenced goes);
/// settings through the environment, as a scheduled job has them.
fn lake_vacuum(dir: &Path, lake_url: &str, access: Option<&S3Access>) -> Command {
    let mut cmd = bin();
    cmd.args(["lake", "vacuum", "--allow-short-retention"])
        .env("TGM_LAKE_URL", lake_url)
        .env("TGM_LAKE_RETENTION_DAYS", "0")
        .env("TGM_WAREHOUSE", dir.join("warehouse.duckdb"))
        .env("TGM_BOT_ID", BOT_ID.to_string())
        .env("TGM_API_KEY", TEST_KEY);
    if let Some(access) = access {
        access.apply(&mut cmd);
    }
    cmd
}

/// The lake tests need the lake output in the binary: a clear failure instead of a
/// confusing one when it is missing (this branch ahead of the lake code).
fn require_lake_output() {
    let out = bin()
        .args(["sync", "--help"])
        .output()
        .expect("tgm-sync --help runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(LAKE_URL_FLAG),
        "this tgm-sync has no {LAKE_URL_FLAG}: the lake output (issue 14) is not built in"
    );
}

/// Runs a child to its end off the runtime's threads (the simulator keeps serving).
async fn run(cmd: Command, what: &'static str) -> Output {
    tokio::task::spawn_blocking(move || run_bounded(cmd, Duration::from_secs(240), what))
        .await
        .expect("child runner")
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_secret(out, what);
}

/// The S3 secret never reaches the terminal.
fn assert_no_secret(out: &Output, what: &str) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(LAKE_SECRET),
            "{what} printed the S3 secret on {stream}"
        );
    }
}

async fn read_all(
    envs: &PyEnvs,
    reader: Reader,
    root: &str,
    tables: Vec<(&'static str, Option<i64>)>,
    access: Option<&S3Access>,
    files: bool,
) -> BTreeMap<String, TableRead> {
    let (envs, root, access) = (envs.clone(), root.to_string(), access.cloned());
    tokio::task::spawn_blocking(move || {
        read_lake_with(&envs, reader, &root, &tables, access.as_ref(), files)
    })
    .await
    .expect("reader")
}

async fn assert_agree(
    label: &str,
    envs: &PyEnvs,
    root: &str,
    access: Option<&S3Access>,
    warehouses: Vec<PathBuf>,
) {
    let (label, envs, root, access) = (
        label.to_string(),
        envs.clone(),
        root.to_string(),
        access.cloned(),
    );
    tokio::task::spawn_blocking(move || {
        let paths: Vec<&Path> = warehouses.iter().map(PathBuf::as_path).collect();
        let expected = expected_from(&paths);
        assert!(
            expected["orders"].len() > 100,
            "{label}: the warehouse holds too few orders to mean anything"
        );
        assert_readers_agree(&label, &envs, &root, access.as_ref(), &expected, paths[0]);
    })
    .await
    .expect("comparison");
}

/// Mutations between two runs: a new sale with 18 decimal places, a refund, a removed
/// (then soft-deleted) order, a new plan. Returns the new sale's key.
fn mutate(handle: &SimHandle, now: i64) -> String {
    let data = handle.data();
    let plan = data.plans.first().expect("a plan");
    let sale = handle.add_sale(
        plan.plan_id,
        "12.345678901234567891".parse().expect("decimal"),
        plan.currency,
        now - 3_600,
    );
    let newest = data.orders.front().expect("orders").order_key.clone();
    assert!(handle.set_order_status(&newest, OrderStatus::Refunded));
    let oldest = data.orders.back().expect("orders").order_key.clone();
    assert_eq!(handle.remove_orders(&[oldest]), 1);
    handle.add_plan(
        "Lake plan",
        "7.000000000000000001".parse().expect("decimal"),
        Currency::Eur,
    );
    sale
}

/// A lake test on S3: the Python environments and a moto server holding the test bucket,
/// with the lake output required of the binary; `None` (the test says "skipped") only
/// where Python is missing outside CI.
fn s3_lake_test(test: &str) -> Option<(PyEnvs, Moto)> {
    let envs = py_envs(test)?;
    require_lake_output();
    let moto = Moto::start(&envs);
    moto.create_bucket(BUCKET);
    Some((envs, moto))
}

fn s3_root(prefix: &str) -> String {
    format!("s3://{BUCKET}/{prefix}")
}

fn warehouse(dir: &Path) -> PathBuf {
    dir.join("warehouse.duckdb")
}

/// Object keys ending in `.parquet`.
fn parquet_keys(listing: &BTreeMap<String, u64>) -> BTreeSet<String> {
    listing
        .keys()
        .filter(|k| k.ends_with(".parquet") && !k.contains("/_delta_log/"))
        .cloned()
        .collect()
}

/// Commit versions of every table are 0, 1, 2, … without a gap.
fn assert_consecutive_versions(label: &str, listing: &BTreeMap<String, u64>) {
    for (table, _) in lake_tables() {
        let versions = commit_versions(listing.keys().map(String::as_str), table);
        assert!(!versions.is_empty(), "{label}: {table} has no commit");
        let expected: Vec<u64> = (0..versions.len() as u64).collect();
        assert_eq!(
            versions, expected,
            "{label}: {table}'s log versions have a gap"
        );
    }
}

/// A first run commits each table's rows once: either as version 0, or as version 1
/// after a version 0 that only creates the (empty) table.
async fn assert_one_data_commit(
    envs: &PyEnvs,
    root: &str,
    access: Option<&S3Access>,
    listing: &BTreeMap<String, u64>,
    label: &str,
) {
    let mut creations = Vec::new();
    for (table, _) in lake_tables() {
        let versions = commit_versions(listing.keys().map(String::as_str), table);
        match versions.as_slice() {
            [0] => {}
            [0, 1] => creations.push((table, Some(0))),
            other => panic!("{label}: {table} has commits {other:?} after one run"),
        }
    }
    if creations.is_empty() {
        return;
    }
    let read = read_all(
        envs,
        Reader::DeltaLake,
        root,
        creations.clone(),
        access,
        false,
    )
    .await;
    for (table, _) in creations {
        let v0 = &read[table];
        assert!(
            v0.missing.is_none() && v0.rows.is_empty(),
            "{label}: {table}'s version 0 precedes its data commit, so it holds no rows ({} rows, {:?})",
            v0.rows.len(),
            v0.missing
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_on_s3_reads_the_same_in_three_readers() {
    let Some((envs, moto)) = s3_lake_test("full_sync_on_s3_reads_the_same_in_three_readers") else {
        return;
    };
    let server = start_sim(sim_options(1_500, 300)).await;
    let dir = tempdir();
    let root = s3_root("lake");
    let mut sync = lake_sync(
        &server.base_url(),
        BOT_ID,
        TEST_KEY,
        dir.path(),
        &root,
        Some(&moto.access()),
    );
    // As a user with a local S3 server sets it: the `http://` endpoint alone, no
    // AWS_ALLOW_HTTP.
    sync.env_remove("AWS_ALLOW_HTTP");
    let out = run(sync, "sync").await;
    assert_ok(&out, "sync to S3");
    assert_agree(
        "first sync",
        &envs,
        &root,
        Some(&moto.access()),
        vec![warehouse(dir.path())],
    )
    .await;
    let listing = moto.list(BUCKET, "lake/", &moto.access());
    assert_consecutive_versions("first sync", &listing);
    assert_one_data_commit(&envs, &root, Some(&moto.access()), &listing, "first sync").await;
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).expect("read back");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(LAKE_SECRET),
            "{} holds the S3 secret",
            file.display()
        );
    }
    // Same partitioning as the Parquet mirror: bot_id, and order_month for orders.
    let bot_dir = format!("lake/orders/bot_id={BOT_ID}/order_month=");
    assert!(
        parquet_keys(&listing)
            .iter()
            .any(|k| k.starts_with(&bot_dir)),
        "orders are partitioned by bot_id and order_month: {:?}",
        parquet_keys(&listing).iter().take(5).collect::<Vec<_>>()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_adds_a_version_and_the_old_one_stays_readable() {
    let test = "a_second_sync_adds_a_version_and_the_old_one_stays_readable";
    let Some((envs, moto)) = s3_lake_test(test) else {
        return;
    };
    let now = pinned_now();
    let access = moto.access();
    let server = start_sim(sim_options(1_200, 250)).await;
    let dir = tempdir();
    let root = s3_root("lake");
    let sync = || {
        lake_sync(
            &server.base_url(),
            BOT_ID,
            TEST_KEY,
            dir.path(),
            &root,
            Some(&access),
        )
    };
    assert_ok(&run(sync(), "sync").await, "first sync");
    let before = expected_from(&[&warehouse(dir.path())]);
    let first = read_all(
        &envs,
        Reader::DeltaLake,
        &root,
        latest_of_all(),
        Some(&access),
        false,
    )
    .await;

    let sale = mutate(&server.handle(), now);
    let mut second = sync();
    second.arg("--full-refresh");
    assert_ok(&run(second, "sync").await, "second sync");
    assert_agree(
        "second sync",
        &envs,
        &root,
        Some(&access),
        vec![warehouse(dir.path())],
    )
    .await;
    let after = expected_from(&[&warehouse(dir.path())]);
    assert!(
        after["orders"]
            .iter()
            .any(|r| r["order_key"] == sale.as_str() && r["amount"] == "12.345678901234567891"),
        "the new sale is in the warehouse with its 18 decimal places"
    );
    assert!(
        after["orders"].iter().any(|r| !r["_deleted_at"].is_null()),
        "the removed order is soft-deleted in the warehouse (and so must be in the lake)"
    );

    let now_read = read_all(
        &envs,
        Reader::DeltaLake,
        &root,
        latest_of_all(),
        Some(&access),
        false,
    )
    .await;
    let v_orders = |r: &BTreeMap<String, TableRead>| r["orders"].version.expect("a version");
    assert!(
        v_orders(&now_read) > v_orders(&first),
        "orders changed, so the second run committed a new version ({} → {})",
        v_orders(&first),
        v_orders(&now_read)
    );
    // The previous versions, by number, still hold the first run's rows, in every reader.
    let old: Vec<(&'static str, Option<i64>)> = lake_tables()
        .into_iter()
        .map(|(t, _)| (t, Some(first[t].version.expect("a version"))))
        .collect();
    for reader in READERS {
        let read = read_all(&envs, reader, &root, old.clone(), Some(&access), false).await;
        for (table, _) in lake_tables() {
            assert_table_matches(
                &format!("{table} at the first run's version ({reader:?})"),
                table,
                &before[table],
                read.get(table),
            );
        }
    }
    assert_consecutive_versions("two syncs", &moto.list(BUCKET, "lake/", &access));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_between_upload_and_commit_leaves_before_or_after_only() {
    let test = "a_run_killed_between_upload_and_commit_leaves_before_or_after_only";
    let Some((envs, moto)) = s3_lake_test(test) else {
        return;
    };
    let now = pinned_now();
    let access = moto.access();
    let server = start_sim(sim_options(1_200, 250)).await;
    let dir = tempdir();
    let root = s3_root("lake");
    let direct = || {
        lake_sync(
            &server.base_url(),
            BOT_ID,
            TEST_KEY,
            dir.path(),
            &root,
            Some(&access),
        )
    };
    assert_ok(&run(direct(), "sync").await, "first sync");
    let before = expected_from(&[&warehouse(dir.path())]);
    let uploaded_before = parquet_keys(&moto.list(BUCKET, "lake/", &access));
    mutate(&server.handle(), now);

    // Every commit is held by the proxy: the run uploads its files, then waits on its
    // first commit, and is killed there.
    let hold_commits = Rule {
        matcher: Match::CommitPut(None),
        first: 1,
        times: usize::MAX,
        fault: Fault::Hold,
    };
    let proxy = S3Proxy::start(moto.addr, vec![hold_commits]).await;
    let mut killed = lake_sync(
        &server.base_url(),
        BOT_ID,
        TEST_KEY,
        dir.path(),
        &root,
        Some(&S3Access::new(proxy.endpoint())),
    );
    killed
        .arg("--full-refresh")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = killed.spawn().expect("sync starts");
    let reached = proxy.wait_held(1, Duration::from_secs(180)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(reached, "the run never reached a commit");
    let uploaded = parquet_keys(&moto.list(BUCKET, "lake/", &access));
    let orphans: Vec<&String> = uploaded.difference(&uploaded_before).collect();
    assert!(
        !orphans.is_empty(),
        "the kill landed after the upload: new data files exist, unreferenced"
    );
    let at_kill: Vec<BTreeMap<String, TableRead>> = {
        let mut v = Vec::new();
        for reader in READERS {
            v.push(read_all(&envs, reader, &root, latest_of_all(), Some(&access), false).await);
        }
        v
    };

    // The rerun finishes the work; then every reader sees the warehouse.
    let mut rerun = direct();
    rerun.arg("--full-refresh");
    assert_ok(&run(rerun, "sync").await, "rerun after the kill");
    assert_agree(
        "rerun after a kill",
        &envs,
        &root,
        Some(&access),
        vec![warehouse(dir.path())],
    )
    .await;
    let after = expected_from(&[&warehouse(dir.path())]);
    for (reader, read) in READERS.iter().zip(&at_kill) {
        for (table, _) in lake_tables() {
            let as_before = table_diff(table, &before[table], read.get(table));
            let as_after = table_diff(table, &after[table], read.get(table));
            assert!(
                as_before.is_ok() || as_after.is_ok(),
                "{reader:?} saw {table} half-written after the kill:\n  vs before: {}\n  vs after: {}",
                as_before.err().unwrap_or_default(),
                as_after.err().unwrap_or_default()
            );
        }
    }

    // Vacuum with retention 0: only the files of the latest versions stay.
    assert_ok(
        &run(lake_vacuum(dir.path(), &root, Some(&access)), "vacuum").await,
        "lake vacuum",
    );
    let listing = moto.list(BUCKET, "lake/", &access);
    let latest = read_all(
        &envs,
        Reader::DeltaLake,
        &root,
        latest_of_all(),
        Some(&access),
        true,
    )
    .await;
    let referenced: BTreeSet<String> = latest
        .values()
        .flat_map(|t| t.files.iter())
        .map(|uri| {
            uri.strip_prefix(&format!("s3://{BUCKET}/"))
                .unwrap_or(uri)
                .to_string()
        })
        .collect();
    let stored = parquet_keys(&listing);
    assert_eq!(
        stored.difference(&referenced).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "after vacuum no unreferenced data file is left"
    );
    assert_eq!(
        referenced.difference(&stored).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "vacuum removed no file the latest versions need"
    );
    assert_agree(
        "after vacuum",
        &envs,
        &root,
        Some(&access),
        vec![warehouse(dir.path())],
    )
    .await;
    drop(proxy);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_commit_disjoint_bots_to_the_same_tables_at_once() {
    let test = "two_processes_commit_disjoint_bots_to_the_same_tables_at_once";
    let Some((envs, moto)) = s3_lake_test(test) else {
        return;
    };
    let access = moto.access();
    let one = start_sim(sim_options(900, 200)).await;
    let other = start_sim(SimOptions {
        seed: 7,
        bot_id: OTHER_BOT,
        api_key: OTHER_KEY.to_string(),
        ..sim_options(700, 150)
    })
    .await;
    // Both runs' first orders commits are held until both have arrived, then sent
    // together: they race for the same log version, and one must retry on the new one.
    // Where a first commit only creates the table, the next two race again.
    let gate = |first| Rule {
        matcher: Match::CommitPut(Some("orders")),
        first,
        times: 2,
        fault: Fault::Gate(2, Duration::from_secs(if first == 1 { 90 } else { 20 })),
    };
    let proxy = S3Proxy::start(moto.addr, vec![gate(1), gate(3)]).await;
    let via_proxy = S3Access::new(proxy.endpoint());
    let (dir_one, dir_other) = (tempdir(), tempdir());
    let root = s3_root("shared");
    let a = run(
        lake_sync(
            &one.base_url(),
            BOT_ID,
            TEST_KEY,
            dir_one.path(),
            &root,
            Some(&via_proxy),
        ),
        "sync one",
    );
    let b = run(
        lake_sync(
            &other.base_url(),
            OTHER_BOT,
            OTHER_KEY,
            dir_other.path(),
            &root,
            Some(&via_proxy),
        ),
        "sync other",
    );
    let (a, b) = tokio::join!(a, b);
    assert_ok(&a, "the first bot's sync");
    assert_ok(&b, "the second bot's sync");
    assert_eq!(proxy.fired(0), 2, "both runs reached the gate");
    assert!(
        !proxy.gate_timed_out(0),
        "the two commits were sent together"
    );
    let conflicts = proxy
        .seen()
        .iter()
        .filter(|s| {
            Match::CommitPut(Some("orders")).matches_seen(s) && s.outcome == Outcome::Forwarded(412)
        })
        .count();
    // The second gate meets only where the first race was over creating the table.
    let races = if proxy.gate_timed_out(1) { 1 } else { 2 };
    assert!(
        conflicts >= races,
        "in each of the {races} races one commit was refused by the conditional write (412), \
         {conflicts} refusals seen: {:?}",
        proxy.seen()
    );
    assert_agree(
        "two writers",
        &envs,
        &root,
        Some(&access),
        vec![warehouse(dir_one.path()), warehouse(dir_other.path())],
    )
    .await;
    assert_consecutive_versions("two writers", &moto.list(BUCKET, "shared/", &access));
    one.shutdown().await;
    other.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_and_dropped_connections_are_retried_without_half_commits() {
    let test = "s3_errors_and_dropped_connections_are_retried_without_half_commits";
    let Some((envs, moto)) = s3_lake_test(test) else {
        return;
    };
    let access = moto.access();
    let server = start_sim(sim_options(1_000, 200)).await;
    let rules = vec![
        Rule::nth(Match::DataPut, 1, Fault::Status(503)),
        Rule::nth(Match::DataPut, 3, Fault::Status(500)),
        Rule::nth(Match::DataPut, 5, Fault::DropBeforeForward),
        Rule::nth(Match::DataPut, 7, Fault::DropAfterForward),
        Rule::nth(Match::CommitPut(None), 1, Fault::Status(503)),
        Rule::nth(Match::CommitPut(None), 3, Fault::Status(500)),
        Rule::nth(Match::CommitPut(None), 5, Fault::DropBeforeForward),
        Rule::nth(Match::Read, 2, Fault::Status(500)),
        Rule::nth(Match::Read, 4, Fault::DropBeforeForward),
        Rule::nth(Match::Read, 6, Fault::DropAfterForward),
    ];
    let count = rules.len();
    let proxy = S3Proxy::start(moto.addr, rules).await;
    let dir = tempdir();
    let root = s3_root("lake");
    let out = run(
        lake_sync(
            &server.base_url(),
            BOT_ID,
            TEST_KEY,
            dir.path(),
            &root,
            Some(&S3Access::new(proxy.endpoint())),
        ),
        "sync",
    )
    .await;
    assert_ok(&out, "sync through the faulty S3");
    let unfired: Vec<usize> = (0..count).filter(|i| proxy.fired(*i) == 0).collect();
    assert!(
        unfired.is_empty(),
        "fault rules {unfired:?} never fired: {:?}",
        proxy.seen()
    );
    assert_agree(
        "after S3 faults",
        &envs,
        &root,
        Some(&access),
        vec![warehouse(dir.path())],
    )
    .await;
    let listing = moto.list(BUCKET, "lake/", &access);
    assert_consecutive_versions("after S3 faults", &listing);
    assert_one_data_commit(&envs, &root, Some(&access), &listing, "after S3 faults").await;
    server.shutdown().await;
}

/// A commit that reached the store but whose answer was lost: the retry meets its own
/// commit (412) and must not apply it a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_not_applied_twice() {
    let test = "a_commit_whose_answer_is_lost_is_not_applied_twice";
    let Some((envs, moto)) = s3_lake_test(test) else {
        return;
    };
    let access = moto.access();
    let server = start_sim(sim_options(800, 150)).await;
    let proxy = S3Proxy::start(
        moto.addr,
        vec![Rule::nth(
            Match::CommitPut(Some("orders")),
            1,
            Fault::DropAfterForward,
        )],
    )
    .await;
    let dir = tempdir();
    let root = s3_root("lake");
    let via_proxy = S3Access::new(proxy.endpoint());
    let sync = || {
        lake_sync(
            &server.base_url(),
            BOT_ID,
            TEST_KEY,
            dir.path(),
            &root,
            Some(&via_proxy),
        )
    };
    let out = run(sync(), "sync").await;
    assert_eq!(proxy.fired(0), 1, "the orders commit's answer was dropped");
    assert_no_secret(&out, "sync");
    if !out.status.success() {
        // A run may also stop with a clear error here; the next one then finishes.
        assert_ok(
            &run(sync(), "sync").await,
            "the run after a lost commit answer",
        );
    }
    assert_agree(
        "after a lost commit answer",
        &envs,
        &root,
        Some(&access),
        vec![warehouse(dir.path())],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_s3_credentials_stop_with_a_clear_error_and_write_nothing() {
    let test = "wrong_s3_credentials_stop_with_a_clear_error_and_write_nothing";
    let Some(envs) = py_envs(test) else {
        return;
    };
    require_lake_output();
    let moto = Moto::start(&envs);
    let good = moto.lock(BUCKET);
    let server = start_sim(sim_options(300, 60)).await;
    let dir = tempdir();
    let root = s3_root("lake");
    // The lake's key id with a wrong secret, then an unknown key id.
    for wrong in [
        S3Access {
            secret: LAKE_SECRET.to_string(),
            ..good.clone()
        },
        moto.access(),
    ] {
        let out = run(
            lake_sync(
                &server.base_url(),
                BOT_ID,
                TEST_KEY,
                dir.path(),
                &root,
                Some(&wrong),
            ),
            "sync",
        )
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(LAKE_AUTH_EXIT),
            "wrong S3 credentials exit with their own code; stderr: {stderr}"
        );
        assert_no_secret(&out, "sync with wrong credentials");
        assert!(
            !stderr.contains(&good.secret),
            "the error does not print any secret"
        );
        let lower = stderr.to_lowercase();
        assert!(
            (lower.contains("credential")
                || lower.contains("access key")
                || lower.contains("denied")
                || lower.contains("forbidden"))
                && (stderr.contains(BUCKET) || stderr.contains("lake")),
            "the error names the refusal and the lake: {stderr}"
        );
        assert_eq!(
            moto.list(BUCKET, "", &good),
            BTreeMap::new(),
            "nothing was written to the bucket"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_url_lake_reads_the_same_in_three_readers() {
    let Some(envs) = py_envs("a_file_url_lake_reads_the_same_in_three_readers") else {
        return;
    };
    require_lake_output();
    let now = pinned_now();
    let server = start_sim(sim_options(1_000, 200)).await;
    let dir = tempdir();
    let lake_dir = dir.path().join("lake");
    std::fs::create_dir_all(&lake_dir).expect("lake dir");
    let root = format!("file://{}", lake_dir.display());
    let sync = || {
        lake_sync(
            &server.base_url(),
            BOT_ID,
            TEST_KEY,
            dir.path(),
            &root,
            None,
        )
    };
    assert_ok(&run(sync(), "sync").await, "sync to a file:// lake");
    mutate(&server.handle(), now);
    let mut second = sync();
    second.arg("--full-refresh");
    assert_ok(&run(second, "sync").await, "second sync to a file:// lake");
    assert_agree(
        "file:// lake",
        &envs,
        &root,
        None,
        vec![warehouse(dir.path())],
    )
    .await;
    let keys: Vec<String> = files_under(&lake_dir)
        .iter()
        .filter_map(|p| p.strip_prefix(&lake_dir).ok())
        .map(|p| p.display().to_string())
        .collect();
    for (table, _) in lake_tables() {
        let versions = commit_versions(keys.iter().map(String::as_str), table);
        assert_eq!(
            versions,
            (0..versions.len() as u64).collect::<Vec<_>>(),
            "{table}'s log versions have no gap"
        );
    }
    server.shutdown().await;
}
