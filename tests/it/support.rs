//! Shared helpers: simulator start-up, clients and settings pointed at it, the binary.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tgm_sync::api::retry::RetryPolicy;
use tgm_sync::api::{ApiClient, ClientSettings};
use tgm_sync::bot_id::BotId;
use tgm_sync::config::{BotSettings, Settings};
use tgm_sync::secret::ApiKey;
use tgm_sync::sim::{SimHandle, SimOptions, SimServer};

/// A key no output may ever contain: the secret-leak tests grep for it.
pub const TEST_KEY: &str = "TGMKEY-leakcheck-5f0c2a9e71";
pub const BOT_ID: u64 = 1_347_378_140;
/// [`BOT_ID`] as the sync's settings and the warehouse hold it.
pub const BOT: BotId = BotId::constant(BOT_ID);

/// A simulated bot's id (the simulator speaks plain numbers) as the sync holds it.
pub fn bot_of(handle: &SimHandle) -> BotId {
    BotId::new(handle.bot_id()).expect("the simulator's bot ids are valid")
}

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
    let mut settings = ClientSettings::new(server.base_url(), BOT, ApiKey::new(TEST_KEY));
    settings.retry = fast_retry();
    settings.timeout = Duration::from_secs(10);
    ApiClient::new(settings).expect("client for the simulator")
}

/// Settings syncing the simulator into `dir` (warehouse + Parquet).
pub fn settings_for(server: &SimServer, dir: &Path) -> Settings {
    settings_at(server.base_url(), dir)
}

/// Settings syncing every bot the simulator serves into `dir`, each with its own key.
pub fn settings_for_every_bot(server: &SimServer, dir: &Path) -> Settings {
    let mut settings = settings_for(server, dir);
    settings.bots = server
        .handles
        .iter()
        .map(|h| BotSettings {
            bot_id: bot_of(h),
            api_key: ApiKey::new(h.api_key()),
        })
        .collect();
    settings
}

/// Settings syncing the API at `base_url` (the simulator or a stand-in) into `dir`.
pub fn settings_at(base_url: String, dir: &Path) -> Settings {
    pinned_now();
    let mut s = Settings::with_defaults(
        base_url,
        BotSettings {
            bot_id: BOT,
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
        .env_remove("TGM_LAKE_URL")
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

/// A program run on a pseudo-terminal: stdin and stderr are the terminal (so it sees a
/// person), stdout is a pipe. Everything the terminal received is kept, raw.
pub struct PtyRun {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    /// The bytes written to the terminal, escape sequences included.
    pub terminal: Vec<u8>,
    pub rows: u16,
    pub cols: u16,
}

impl PtyRun {
    /// The screen as a person sees it once the program has ended.
    pub fn screen(&self) -> String {
        let size = |n: u16| std::num::NonZeroU16::new(n).expect("a screen has a size");
        let mut parser = vt100::Parser::new(size(self.rows), size(self.cols), 0);
        parser.process(&self.terminal);
        // Row by row: a line as wide as the screen wraps without a newline, and
        // `contents()` would join it to the next.
        let rows: Vec<String> = parser.screen().rows(0, self.cols).collect();
        rows.join("\n")
    }

    /// Everything ever drawn, escape sequences removed (earlier frames included).
    pub fn all_text(&self) -> String {
        strip_escapes(&String::from_utf8_lossy(&self.terminal))
    }
}

/// Text without ANSI escape sequences (CSI `ESC [ … final`, and two-byte `ESC x`).
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            _ => continue,
        }
    }
    out
}

/// Runs `cmd` on a fresh `rows`×`cols` pseudo-terminal. `script`: for each step, once the
/// terminal shows `wait_for`, type `input`. Killed (and the test failed) after `limit`.
pub fn run_in_pty(
    mut cmd: Command,
    rows: u16,
    cols: u16,
    script: &[(&str, &str)],
    limit: Duration,
) -> PtyRun {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors into the given ints; the name buffer and
    // termios are optional (null), the window size is read only.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(
        opened,
        0,
        "openpty failed: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    let (master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    };
    cmd.stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::piped())
        .env("TERM", "xterm-256color");
    let mut child = cmd.spawn().expect("the program starts");
    // The terminal reads end-of-file only once no one else holds its other side.
    drop(cmd);
    drop(slave);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let seen = Arc::clone(&seen);
        let mut master = master.try_clone().expect("dup");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Ends with EIO (Linux) or 0 once the program and its children have exited.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut stdout_pipe = child.stdout.take().expect("stdout piped");
    let stdout_reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout_pipe.read_to_string(&mut out);
        out
    });

    let deadline = Instant::now() + limit;
    let mut typist = master;
    for (wait_for, input) in script {
        loop {
            let shown = strip_escapes(&String::from_utf8_lossy(&seen.lock().expect("lock")));
            if shown.contains(wait_for) {
                break;
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                panic!("the terminal never showed {wait_for:?}; it shows:\n{shown}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        typist
            .write_all(input.as_bytes())
            .expect("type on the terminal");
    }
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the program did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(typist);
    reader.join().expect("terminal reader");
    let stdout = stdout_reader.join().expect("stdout reader");
    let terminal = seen.lock().expect("lock").clone();
    PtyRun {
        status,
        stdout,
        terminal,
        rows,
        cols,
    }
}

/// An in-memory database set up as the ETL sets up its warehouse: the connection
/// settings (extension auto-loading off, as in production, so an ICU-only function in
/// the SQL fails here rather than on a user's machine), every migration, the report
/// layer.
pub fn memory_warehouse() -> duckdb::Connection {
    let conn = duckdb::Connection::open_in_memory().expect("open in-memory DuckDB");
    conn.execute_batch(tgm_sync::warehouse::open::CONNECTION_SETUP)
        .expect("connection settings");
    tgm_sync::warehouse::schema::migrate(&conn).expect("migrate");
    tgm_sync::warehouse::schema::install_report_layer(&conn).expect("install sql/reports.sql");
    conn
}

/// `tgm-sync sync` against `server` with a small retry budget (3 attempts, 2 s), so a
/// failing API fails the run quickly.
pub fn sync_quickly_failing(
    server: &SimServer,
    dir: &Path,
    extra: &[&str],
) -> std::process::Output {
    sync_command(&server.base_url(), dir)
        .args(["--max-attempts", "3", "--max-retry-secs", "2"])
        .args(extra)
        .output()
        .expect("binary runs")
}

/// The newest order date in the simulator's data (UNIX seconds).
pub fn newest_order_date(data: &tgm_sync::sim::SimData) -> i64 {
    data.orders
        .iter()
        .map(|o| o.order_date)
        .max()
        .expect("orders")
}
