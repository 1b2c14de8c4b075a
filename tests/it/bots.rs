//! Many bots at once: one simulator serving several bots (each its own seeded data set
//! and key), synced concurrently into one warehouse. Each bot's rows and Parquet files
//! equal that bot's simulator data; a bot whose key is revoked or whose API is down is
//! reported with its exit code (summary, `status`, metrics) while the others sync
//! completely; one bot at a time and all at once give the same warehouse; `verify` passes
//! for every bot.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use duckdb::Connection;
use tgm_sync::config::Settings;
use tgm_sync::exit::Exit;
use tgm_sync::sim::{SimOptions, SimServer};
use tgm_sync::streams::mirrored_tables;
use tgm_sync::sync::BotVerdict;

use crate::support::*;
use crate::sync::{assert_equals_sim, assert_parquet_equals_duckdb, sync_once};

/// A simulator serving `bots` bots, each with a small data set of its own.
async fn start_bots(bots: usize) -> SimServer {
    start_sim(SimOptions {
        bots,
        ..sim_options(300, 120)
    })
    .await
}

/// Settings syncing every bot the simulator serves into `dir`, `bots_in_flight` at once.
fn settings_for_all(server: &SimServer, dir: &Path, bots_in_flight: usize) -> Settings {
    let mut settings = settings_for_every_bot(server, dir);
    settings.bots_in_flight = bots_in_flight;
    settings
}

/// An in-memory connection whose `orders`, `members`, ... views show one bot's rows of
/// the warehouse at `path`: the single-bot comparisons of `tests/it/sync.rs` then check
/// that bot alone.
fn one_bot_view(path: &Path, bot_id: u64) -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory database");
    conn.execute_batch(&format!(
        "ATTACH '{}' AS w (READ_ONLY)",
        path.display().to_string().replace('\'', "''")
    ))
    .expect("attach the warehouse");
    for spec in mirrored_tables() {
        conn.execute_batch(&format!(
            "CREATE TEMP VIEW {t} AS SELECT * FROM w.{t} WHERE bot_id = {bot_id}",
            t = spec.name
        ))
        .expect("per-bot view");
    }
    conn
}

/// A directory whose `<table>` entries are the bot's own Parquet partition directories
/// (`<parquet>/<table>/bot_id=<id>`), so the single-bot Parquet comparison reads that
/// bot's files alone.
fn one_bot_parquet(parquet: &Path, bot_id: u64, scratch: &Path) -> std::path::PathBuf {
    let root = scratch.join(format!("parquet-of-{bot_id}"));
    std::fs::create_dir_all(&root).expect("scratch root");
    for spec in mirrored_tables() {
        let dir = parquet.join(spec.name).join(format!("bot_id={bot_id}"));
        assert!(
            dir.is_dir(),
            "bot {bot_id} has no Parquet partition for {}",
            spec.name
        );
        std::os::unix::fs::symlink(&dir, root.join(spec.name)).expect("symlink");
    }
    root
}

/// Every bot's rows and Parquet files equal its own simulator data (`skip`: bots not
/// checked here).
fn assert_each_bot_equals_its_sim(server: &SimServer, settings: &Settings, skip: &[u64]) {
    let scratch = tempdir();
    for handle in &server.handles {
        if skip.contains(&handle.bot_id()) {
            continue;
        }
        let conn = one_bot_view(&settings.warehouse, handle.bot_id());
        assert_equals_sim(&conn, &handle.data());
        let parquet = settings.parquet_dir.as_deref().expect("a Parquet mirror");
        let root = one_bot_parquet(parquet, handle.bot_id(), scratch.path());
        assert_parquet_equals_duckdb(&conn, &root);
    }
}

/// Order keys of one bot in the warehouse.
fn order_keys(settings: &Settings, bot_id: u64) -> BTreeSet<String> {
    let conn = one_bot_view(&settings.warehouse, bot_id);
    let mut stmt = conn
        .prepare("SELECT order_key FROM orders WHERE _deleted_at IS NULL")
        .expect("query");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Every data table's rows without the columns that say when or by which run they were
/// written, sorted: what two warehouses synced from the same data must share.
fn data_rows(path: &Path) -> Vec<(String, Vec<String>)> {
    let conn = Connection::open(path).expect("warehouse opens");
    mirrored_tables()
        .map(|spec| {
            let sql = format!(
                "SELECT CAST(COLUMNS(lambda c: c NOT IN ('_synced_at', '_run_id')) AS VARCHAR) FROM {} ORDER BY ALL",
                spec.name
            );
            let mut stmt = conn.prepare(&sql).expect("query");
            let rows: Vec<String> = stmt
                .query_map([], |r| {
                    let cols = r.as_ref().column_count();
                    (0..cols)
                        .map(|i| r.get::<_, Option<String>>(i).map(|v| v.unwrap_or_default()))
                        .collect::<Result<Vec<_>, _>>()
                        .map(|v| v.join("|"))
                })
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows");
            (spec.name.to_string(), rows)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_bots_sync_concurrently_each_into_its_own_rows() {
    let server = start_bots(4).await;
    let dir = tempdir();
    let settings = settings_for_all(&server, dir.path(), 4);
    let outcome = sync_once(&settings).await;
    let ran: Vec<u64> = outcome.bots.iter().map(|b| b.bot_id.get()).collect();
    let configured: Vec<u64> = server.handles.iter().map(|h| h.bot_id()).collect();
    assert_eq!(
        ran, configured,
        "every bot ran, reported in the configured order"
    );
    assert!(
        outcome
            .bots
            .iter()
            .all(|b| BotVerdict::of(b) == BotVerdict::Synced),
        "every bot synced"
    );
    assert_each_bot_equals_its_sim(&server, &settings, &[]);
    // The data sets are the bots' own: no two bots share their order keys.
    let keys: Vec<BTreeSet<String>> = configured
        .iter()
        .map(|&b| order_keys(&settings, b))
        .collect();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert!(a != b, "two bots have the same orders");
        }
    }
    // Each bot was asked with its own key only: every bot saw requests.
    for handle in &server.handles {
        assert!(
            handle.requests().get("orders") > 0,
            "bot {} served no /orders",
            handle.bot_id()
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bot_at_a_time_and_all_at_once_give_the_same_warehouse() {
    let server = start_bots(3).await;
    let one = tempdir();
    let all = tempdir();
    let one_at_a_time = settings_for_all(&server, one.path(), 1);
    let at_once = settings_for_all(&server, all.path(), 3);
    sync_once(&one_at_a_time).await;
    sync_once(&at_once).await;
    let (a, b) = (
        data_rows(&one_at_a_time.warehouse),
        data_rows(&at_once.warehouse),
    );
    for ((table, rows_a), (_, rows_b)) in a.iter().zip(&b) {
        assert!(!rows_a.is_empty(), "{table} is empty");
        assert_eq!(
            rows_a.len(),
            rows_b.len(),
            "{table}: rows with 1 bot in flight vs 3"
        );
        let differ: Vec<_> = rows_a.iter().zip(rows_b).filter(|(x, y)| x != y).collect();
        assert!(
            differ.is_empty(),
            "{table}: rows differ between 1 and 3 bots in flight, first: {:?}",
            differ.first()
        );
    }
    server.shutdown().await;
}

/// The ids of every bot `server` serves, as text.
fn bot_ids(server: &SimServer) -> Vec<String> {
    server
        .handles
        .iter()
        .map(|h| h.bot_id().to_string())
        .collect()
}

/// `tgm-sync <args>` over every bot of `server`, each key from its own variable.
fn every_bot_command(server: &SimServer, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.args(args)
        .args(["--base-url", &server.base_url()])
        .args(["--bot-id", &bot_ids(server).join(",")]);
    for h in &server.handles {
        cmd.env(format!("TGM_API_KEY_{}", h.bot_id()), h.api_key());
    }
    cmd
}

/// `tgm-sync sync` over every bot of `server`, each key from its own variable.
fn sync_all_command(server: &SimServer, dir: &Path) -> Command {
    let mut cmd = every_bot_command(server, &["sync", "--no-progress"]);
    cmd.args(["--bots-in-flight", "3", "--max-attempts", "2"])
        .args(["--max-retry-secs", "2"])
        .arg("--warehouse")
        .arg(dir.join("warehouse.duckdb"))
        .arg("--parquet-dir")
        .arg(dir.join("parquet"))
        .arg("--metrics-file")
        .arg(dir.join("tgm.prom"));
    cmd
}

/// Runs [`sync_all_command`], asserts its exit code (`what` names the run in the
/// message), and returns its stdout and stderr.
fn sync_all_exits(server: &SimServer, dir: &Path, code: i32, what: &str) -> (String, String) {
    let out = sync_all_command(server, dir).output().expect("sync runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(code), "{what}\n{stdout}\n{stderr}");
    (stdout, stderr)
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What happens to the failing bot in [`a_failing_bot_is_reported_and_the_others_sync`].
#[derive(Debug, Clone, Copy)]
enum Breakage {
    KeyRevoked,
    ApiDown,
}

async fn a_failing_bot_is_reported_and_the_others_sync(breakage: Breakage) {
    let server = start_bots(3).await;
    let dir = tempdir();
    let settings = settings_for_all(&server, dir.path(), 3);
    sync_all_exits(&server, dir.path(), 0, "first sync:");

    // Then every bot's data changes, and one bot breaks.
    let victim = server.handles[1].clone();
    let victim_id = victim.bot_id();
    for h in &server.handles {
        h.add_orders(7);
        h.refund(3);
    }
    let before = data_rows(&settings.warehouse);
    let victim_before = victim_rows(&before, victim_id);
    let (want_exit, label) = match breakage {
        Breakage::KeyRevoked => {
            victim.revoke_key(401);
            (Exit::Auth, "API key refused (exit 4)")
        }
        Breakage::ApiDown => {
            victim.set_down(true);
            (Exit::Unavailable, "API unavailable (exit 6)")
        }
    };
    let (stdout, stderr) = sync_all_exits(
        &server,
        dir.path(),
        i32::from(want_exit.code()),
        &format!("{breakage:?}: the worst bot's exit code"),
    );
    for output in [&stdout, &stderr] {
        assert!(!output.contains(TEST_KEY), "{breakage:?}: a key leaked");
    }
    // The summary names the bot, its verdict and exit code, and counts the others.
    assert!(
        stdout.contains("bots: 2 of 3 synced"),
        "{breakage:?}: summary\n{stdout}"
    );
    let victim_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{victim_id} {label}")))
        .unwrap_or_else(|| panic!("{breakage:?}: no line for bot {victim_id}:\n{stdout}"));
    assert!(
        victim_line.contains(&victim_id.to_string()),
        "{breakage:?}: {victim_line}"
    );
    // The other bots are complete and exact; the victim's rows are as before the run.
    assert_each_bot_equals_its_sim(&server, &settings, &[victim_id]);
    assert_eq!(
        victim_rows(&data_rows(&settings.warehouse), victim_id),
        victim_before,
        "{breakage:?}: the failing bot's rows were left as they were"
    );

    // Metrics: one line per bot with its exit code.
    let metrics = std::fs::read_to_string(dir.path().join("tgm.prom")).expect("metrics file");
    for h in &server.handles {
        let code = if h.bot_id() == victim_id {
            want_exit.code()
        } else {
            0
        };
        let line = format!("tgm_sync_bot_exit_code{{bot_id=\"{}\"}} {code}", h.bot_id());
        assert!(
            metrics.lines().any(|l| l == line),
            "{breakage:?}: no `{line}` in\n{metrics}"
        );
        let success = format!(
            "tgm_sync_bot_success{{bot_id=\"{}\"}} {}",
            h.bot_id(),
            u8::from(h.bot_id() != victim_id)
        );
        assert!(
            metrics.lines().any(|l| l == success),
            "{breakage:?}: no `{success}` in\n{metrics}"
        );
    }

    // `status` shows every bot of the last run, the victim with its verdict.
    let out = bin()
        .arg("status")
        .arg("--warehouse")
        .arg(&settings.warehouse)
        .output()
        .expect("status runs");
    let (status, status_err) = text(&out);
    assert!(out.status.success(), "status: {status_err}");
    let last_runs = status
        .split("Rows per table")
        .next()
        .expect("a Last runs table");
    for h in &server.handles {
        let row = last_runs
            .lines()
            .find(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                cells.get(1) == Some(&"2") && cells.get(2) == Some(&h.bot_id().to_string().as_str())
            })
            .unwrap_or_else(|| {
                panic!(
                    "{breakage:?}: no run-2 row of bot {}:\n{status}",
                    h.bot_id()
                )
            });
        if h.bot_id() == victim_id {
            assert!(
                row.contains("failed") && row.contains(label),
                "{breakage:?}: {row}"
            );
        } else {
            assert!(row.contains("success"), "{breakage:?}: {row}");
        }
    }

    // The bot mended, the next run brings it up to date and exits 0.
    victim.restore_key();
    victim.set_down(false);
    sync_all_exits(&server, dir.path(), 0, "after mending:");
    assert_each_bot_equals_its_sim(&server, &settings, &[]);
    server.shutdown().await;
}

/// The rows of one bot among [`data_rows`] (the first column is `bot_id`).
fn victim_rows(rows: &[(String, Vec<String>)], bot_id: u64) -> Vec<(String, Vec<String>)> {
    let prefix = format!("{bot_id}|");
    rows.iter()
        .map(|(table, rows)| {
            (
                table.clone(),
                rows.iter()
                    .filter(|r| r.starts_with(&prefix))
                    .cloned()
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_whose_key_is_revoked_exits_4_and_the_others_sync() {
    a_failing_bot_is_reported_and_the_others_sync(Breakage::KeyRevoked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_whose_api_is_down_exits_6_and_the_others_sync() {
    a_failing_bot_is_reported_and_the_others_sync(Breakage::ApiDown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_for_every_bot_after_a_concurrent_sync() {
    let server = start_bots(3).await;
    let dir = tempdir();
    let settings = settings_for_all(&server, dir.path(), 3);
    sync_once(&settings).await;
    let out = every_bot_command(&server, &["verify", "--show-matches"])
        .arg("--warehouse")
        .arg(&settings.warehouse)
        .output()
        .expect("verify runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "verify:\n{stdout}\n{stderr}");
    for id in &bot_ids(&server) {
        let compared = stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{id} ")) && l.ends_with(" ok"))
            .count();
        assert!(
            compared > 0,
            "verify compared nothing for bot {id}:\n{stdout}"
        );
    }
    server.shutdown().await;
}
