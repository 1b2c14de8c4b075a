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

/// Simulator options with the test key and a data set of the given size.
pub fn sim_options(orders: usize, members: usize) -> SimOptions {
    SimOptions {
        api_key: TEST_KEY.to_string(),
        bot_id: BOT_ID,
        orders,
        members,
        ..SimOptions::default()
    }
}

pub async fn start_sim(options: SimOptions) -> SimServer {
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
    let mut settings = ClientSettings::new(server.base_url(), BOT_ID, ApiKey::new(TEST_KEY));
    settings.retry = fast_retry();
    settings.timeout = Duration::from_secs(10);
    ApiClient::new(settings).expect("client for the simulator")
}

/// Settings syncing the simulator into `dir` (warehouse + Parquet).
pub fn settings_for(server: &SimServer, dir: &Path) -> Settings {
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

/// The binary `cargo test` built.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tgm-sync"));
    cmd.env_remove("TGM_API_KEY")
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

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}
