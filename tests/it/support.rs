//! Shared helpers: simulator start-up, clients and settings pointed at it, the binary.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tgm_sync::api::retry::RetryPolicy;
use tgm_sync::api::{ApiClient, ClientSettings};
use tgm_sync::config::{BotSettings, Settings};
use tgm_sync::secret::ApiKey;
use tgm_sync::sim::{SimOptions, SimServer};

/// A key no output may ever contain: the secret-leak tests grep for it.
pub const TEST_KEY: &str = "TGMKEY-leakcheck-5f0c2a9e71";
pub const BOT_ID: u64 = 1_347_378_140;

/// The instant every test runs at (2026-06-17T12:00:00Z), whatever today's date:
/// `TGM_NOW=<UNIX seconds or RFC 3339> cargo test` reruns the suite at another date.
pub const PINNED_NOW: i64 = tgm_sync::clock::TEST_NOW_SECS;

/// Pins this process's clock (the simulator's data, run timestamps, reports) at
/// `PINNED_NOW` and returns its reading; every entry point below calls it first.
pub fn pinned_now() -> i64 {
    let now = tgm_sync::clock::pin_unless_set(PINNED_NOW);
    assert!(
        tgm_sync::clock::is_pinned(),
        "the clock was read before the tests pinned it"
    );
    now
}

/// Simulator options with the test key and a data set of the given size.
pub fn sim_options(orders: usize, members: usize) -> SimOptions {
    pinned_now();
    SimOptions {
        api_key: TEST_KEY.to_string(),
        bot_id: BOT_ID,
        orders,
        members,
        ..SimOptions::default()
    }
}

pub async fn start_sim(options: SimOptions) -> SimServer {
    pinned_now();
    SimServer::start(options)
        .await
        .expect("simulator starts on 127.0.0.1")
}

/// Retries fast, so fault tests finish quickly, but with the same shape as production.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 12,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(20),
    }
}

pub fn client_for(server: &SimServer) -> ApiClient {
    pinned_now();
    let mut settings = ClientSettings::new(server.base_url(), BOT_ID, ApiKey::new(TEST_KEY));
    settings.retry = fast_retry();
    settings.timeout = Duration::from_secs(10);
    ApiClient::new(settings).expect("client for the simulator")
}

/// Settings syncing the simulator into `dir` (warehouse + Parquet).
pub fn settings_for(server: &SimServer, dir: &Path) -> Settings {
    pinned_now();
    let mut s = Settings::with_defaults(
        server.base_url(),
        BotSettings {
            bot_id: BOT_ID,
            api_key: ApiKey::new(TEST_KEY),
        },
        dir.join("warehouse.duckdb"),
        Some(dir.join("parquet")),
    );
    s.retry = fast_retry();
    s.batch_rows = 500;
    s
}

/// The binary `cargo test` built, on this process's pinned clock.
pub fn bin() -> Command {
    pinned_now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tgm-sync"));
    cmd.env(tgm_sync::clock::PIN_VAR, tgm_sync::clock::now_for_child())
        .env_remove("TGM_API_KEY")
        .env_remove("TGM_CONFIG")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

/// `tgm-sync sync` against `base_url` into `dir` (warehouse + Parquet), key from the
/// environment as a scheduled run has it; callers add flags.
pub fn sync_command(base_url: &str, dir: &Path) -> Command {
    let mut cmd = bin();
    cmd.args([
        "sync",
        "--no-progress",
        "--bot-id",
        &BOT_ID.to_string(),
        "--base-url",
        base_url,
    ])
    .arg("--warehouse")
    .arg(dir.join("warehouse.duckdb"))
    .arg("--parquet-dir")
    .arg(dir.join("parquet"))
    .env("TGM_API_KEY", TEST_KEY);
    cmd
}

/// Every file below `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A test that cannot run here because a tool it needs is missing. Under `CI` (where
/// `.ci/run` installs every tool) that is a failure; elsewhere the test says "skipped" on
/// the terminal (written to stderr directly, past the harness's output capture, so a
/// passing run still shows it) and returns.
pub fn skip_unless_ci(test: &str, reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test} cannot run: {reason}; under CI this is a failure (.ci/run installs it)");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {reason}");
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}
