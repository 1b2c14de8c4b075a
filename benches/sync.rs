//! End-to-end benchmark: the simulator in this process, `tgm-sync sync` as a child.
//!
//! ```sh
//! cargo bench --profile dev --bench sync                 # scenarios A to G at full size
//! TGM_BENCH_SCALE=0.1 cargo bench --profile dev --bench sync
//! TGM_BENCH_SCENARIOS=A,C cargo bench --profile dev --bench sync
//! ```
//!
//! The simulator serves on 127.0.0.1 only; the sync is the real binary, so its wall time
//! and CPU time (`wait4` rusage) are those a user sees. Peak RSS is the one the sync
//! prints on its summary line (`VmHWM`, read once the warehouse is closed), not rusage's
//! `ru_maxrss`: Linux starts a child spawned by `vfork` (as `Command` does) at its
//! parent's peak, and this parent holds a simulator of up to 1,000,000 orders. Requests
//! are the simulator's own counts, by endpoint. Rows are the sync's summary figures.
//!
//! - A: full sync of 1,000,000 orders + 500,000 memberships (+ plans, projects, coupons)
//!   into an empty warehouse and Parquet tree, no added latency;
//! - B: full sync of 100,000 orders (orders stream only) with 50 ms latency per request,
//!   compared with the ideal `requests × latency / pages_in_flight`;
//! - C: the run after A with no changes: requests (`/orders` against what the lookback
//!   window needs) and rows written;
//! - D: peak RSS at 100,000 orders (+ 50,000 memberships) against A's at 1,000,000;
//! - E (no target in the issue): `--full-refresh` over A's warehouse with no changes,
//!   the most work for the merge (every staged row compared, a soft-delete anti-join).
//! - F: a nightly run's cost on two years of steady trade in a dozen plan currencies
//!   (50,000 orders over 730 days, 20,000 memberships, 20 ms per request): a full sync,
//!   then a run with nothing changed, with requests per endpoint; the no-change run should
//!   make at most 15% of the full sync's requests in at most 25% of its time. The full
//!   sync's wall time is compared with its floor: the simulator's own serving time
//!   (handler time, latency left out) plus each request's latency, 4 in flight.
//! - G: many bots at once: 50 bots of 20,000 orders (+ 2,000 memberships) each, all served
//!   by one simulator, each with its own key; a full sync of all 50, then a run with
//!   nothing changed. `bots_in_flight` is the default (4); `TGM_BOTS_IN_FLIGHT=N` in the
//!   environment reaches the child. `TGM_BENCH_SCALE` scales the orders per bot, not the
//!   bots: `TGM_BENCH_SCALE=0.01 TGM_BENCH_SCENARIOS=G` is a quick form (50 × 200 orders).
//! - H: the lake output's cost: A's data synced without a lake and then, into a fresh
//!   directory, with a `file://` Delta lake (every table published whole); then a run with
//!   nothing changed (nothing owed, no commit). The lake's size on disk beside the mirror's.
//! - I: many bots overlap: full syncs of 1, 3 and 50 bots (each its own run and
//!   warehouse), 30 ms per request, without and with a `file://` lake; 1 and 3 bots of
//!   2,500 orders + 900 memberships each, 50 bots of 500 + 180 (to stay near two
//!   minutes); prints the 3-bots / 1-bot wall-time ratio (target <= 1.4, issue 24).
//!
//! `TGM_BENCH_BIN=/path/to/tgm-sync` runs another build of the binary (an earlier commit's)
//! against the same simulator, for before/after figures.
//!
//! `--profile dev` reuses the test build (dependencies at opt-level 2): the bundled DuckDB
//! is compiled once per profile, which takes about an hour on a 2-core machine.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tgm_sync::api::pager::pages_to_pass;
use tgm_sync::sim::{FaultOptions, SimOptions, SimServer};

const BIN: &str = env!("CARGO_BIN_EXE_tgm-sync");
const PAGES_IN_FLIGHT: usize = 4;
const ORDERS_PAGE: u32 = 100;
const LOOKBACK_SECS: i64 = 3 * 86_400;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// What one `tgm-sync sync` child did.
#[derive(Debug, Default, Clone)]
struct RunFigures {
    wall: Duration,
    cpu: Duration,
    /// The sync's own peak RSS, from its summary line.
    peak_rss_mib: f64,
    /// `ru_maxrss`: the larger of that and this process's peak at the spawn.
    rusage_max_rss_kib: i64,
    rows_read: u64,
    rows_written: u64,
    /// Rows written to the data tables: `users_count` writes its one snapshot row a run.
    data_rows_written: u64,
    /// Requests by simulator path (`orders`, `members`, `revenue`, ...).
    requests: BTreeMap<String, u64>,
    /// The simulator's own serving time for those requests (handler time, latency left
    /// out: `RequestCounts::serving`).
    serving: Duration,
}

impl RunFigures {
    fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
    fn requests_of(&self, path: &str) -> u64 {
        self.requests.get(path).copied().unwrap_or(0)
    }
    /// The floor of a run: the time the API needs to answer its requests when the client
    /// keeps `PAGES_IN_FLIGHT` of them going back to back and does nothing else: the
    /// simulator's serving time plus each request's latency, `PAGES_IN_FLIGHT` at once.
    fn floor(&self, latency_ms: u64) -> Duration {
        self.serving
            + Duration::from_millis(latency_ms) * self.total_requests() as u32
                / PAGES_IN_FLIGHT as u32
    }
    fn rows_per_sec(&self) -> f64 {
        self.rows_read as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    /// Peak RSS in MB (10^6 bytes), the unit of the targets.
    fn rss_mb(&self) -> f64 {
        self.peak_rss_mib * 1.048_576
    }
}

struct Sim {
    runtime: tokio::runtime::Runtime,
    server: Option<SimServer>,
    opts: SimOptions,
}

impl Sim {
    fn start(orders: usize, members: usize, latency_ms: u64) -> BenchResult<Sim> {
        Sim::start_with(Sim::options(orders, members, latency_ms))
    }

    /// One bot's data of this size, each request answered `latency_ms` late.
    fn options(orders: usize, members: usize, latency_ms: u64) -> SimOptions {
        SimOptions {
            orders,
            members,
            faults: FaultOptions {
                latency_ms,
                ..FaultOptions::default()
            },
            ..SimOptions::default()
        }
    }

    fn start_with(opts: SimOptions) -> BenchResult<Sim> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let (orders, members, latency_ms) = (opts.orders, opts.members, opts.faults.latency_ms);
        let started = Instant::now();
        let server = runtime.block_on(SimServer::start(opts.clone()))?;
        let bots = if opts.bots > 1 {
            format!("{} bots of ", opts.bots)
        } else {
            String::new()
        };
        eprintln!(
            "  simulator: {bots}{orders} orders, {members} memberships, {latency_ms} ms latency, ready in {:.1}s at {}",
            started.elapsed().as_secs_f64(),
            server.base_url()
        );
        Ok(Sim {
            runtime,
            server: Some(server),
            opts,
        })
    }

    fn server(&self) -> BenchResult<&SimServer> {
        self.server
            .as_ref()
            .ok_or_else(|| "simulator stopped".into())
    }

    /// Runs `tgm-sync sync` against the simulator; `streams` limits the streams, `extra`
    /// adds options.
    fn sync(&self, dir: &Path, streams: Option<&str>, extra: &[&str]) -> BenchResult<RunFigures> {
        let server = self.server()?;
        server.reset_counts();
        let bots = self.opts.bot_list();
        let ids: Vec<String> = bots.iter().map(|b| b.bot_id.to_string()).collect();
        // TGM_BENCH_BIN: another build of tgm-sync (an earlier commit's, to compare).
        let bin = std::env::var("TGM_BENCH_BIN").unwrap_or_else(|_| BIN.to_string());
        let mut cmd = Command::new(bin);
        cmd.args(["-q", "sync", "--no-progress", "--base-url"])
            .arg(server.base_url())
            .arg("--bot-id")
            .arg(ids.join(","))
            .arg("--warehouse")
            .arg(dir.join("warehouse.duckdb"))
            .arg("--parquet-dir")
            .arg(dir.join("parquet"))
            .env("TGM_API_KEY", &self.opts.api_key)
            .env("TGM_PAGES_IN_FLIGHT", PAGES_IN_FLIGHT.to_string())
            .env_remove("TGM_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Each further bot has its own key (the first's is TGM_API_KEY above).
        for bot in bots.iter().skip(1) {
            cmd.env(format!("TGM_API_KEY_{}", bot.bot_id), &bot.api_key);
        }
        if let Some(streams) = streams {
            cmd.arg("--streams").arg(streams);
        }
        cmd.args(extra);
        let started = Instant::now();
        let mut child = cmd.spawn()?;
        // Read the summary while the child runs (a full pipe would block it).
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let reader = std::thread::spawn(move || std::io::read_to_string(stdout));
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, not yet reaped (`Child::wait` is never called);
        // `status` and `usage` are valid for writes.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let wall = started.elapsed();
        if reaped != pid {
            return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()).into());
        }
        let summary = reader.join().map_err(|_| "summary reader panicked")??;
        let exit_code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        if exit_code != 0 {
            return Err(format!("tgm-sync sync exited with {exit_code}:\n{summary}").into());
        }
        let counts = server.requests();
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        let mut figures = RunFigures {
            wall,
            cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
            rusage_max_rss_kib: usage.ru_maxrss,
            requests: counts.by_path,
            serving: counts.serving,
            ..RunFigures::default()
        };
        // "tgm-sync run 1: 20.4s, peak memory 171.2 MiB"
        figures.peak_rss_mib = summary
            .lines()
            .next()
            .and_then(|l| l.split("peak memory ").nth(1))
            .and_then(|rest| rest.strip_suffix(" MiB"))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no peak memory on the summary line:\n{summary}"))?;
        // "  1347378140 orders  read written deleted rejected requests retries  status"
        for line in summary.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() >= 8 && cols[0].parse::<u64>().is_ok() {
                figures.rows_read += cols[2].parse::<u64>().unwrap_or(0);
                let written = cols[3].parse::<u64>().unwrap_or(0);
                figures.rows_written += written;
                if cols[1] != "users_count" {
                    figures.data_rows_written += written;
                }
            }
        }
        Ok(figures)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// `/orders` pages an incremental run needs: those covering the orders of the last
/// lookback window before the newest one, plus the page that lies wholly past them.
fn orders_pages_needed(warehouse: &Path) -> BenchResult<u64> {
    let conn = duckdb::Connection::open(warehouse)?;
    let in_window: i64 = conn.query_row(
        "SELECT count(*) FROM orders WHERE epoch(order_date::TIMESTAMP) >= \
         (SELECT max(epoch(order_date::TIMESTAMP)) FROM orders) - ?",
        [LOOKBACK_SECS],
        |r| r.get(0),
    )?;
    Ok(pages_to_pass(in_window.max(0) as u64, ORDERS_PAGE))
}

/// Distinct currencies the synced orders were paid in.
fn order_currencies(warehouse: &Path) -> BenchResult<i64> {
    let conn = duckdb::Connection::open(warehouse)?;
    Ok(conn.query_row(
        "SELECT count(DISTINCT upper(currency)) FROM orders",
        [],
        |r| r.get(0),
    )?)
}

/// Old PENDING orders (before the newest order less the default 3-day lookback): the
/// rotation re-reads `pending_reread_limit` of them a run.
fn old_pending(warehouse: &Path) -> BenchResult<i64> {
    let conn = duckdb::Connection::open(warehouse)?;
    Ok(conn.query_row(
        "SELECT count(*) FROM orders WHERE order_status = 'PENDING' AND _deleted_at IS NULL \
         AND epoch(order_date::TIMESTAMP) \
             < (SELECT max(epoch(order_date::TIMESTAMP)) FROM orders) - 3 * 86400",
        [],
        |r| r.get(0),
    )?)
}

/// Bots whose last run succeeded (G: all of them, or the run exited non-zero).
fn bots_synced(warehouse: &Path) -> BenchResult<i64> {
    let conn = duckdb::Connection::open(warehouse)?;
    Ok(conn.query_row(
        "SELECT count(*) FROM _sync_runs WHERE status = 'success' \
         AND run_id = (SELECT max(run_id) FROM _sync_runs)",
        [],
        |r| r.get(0),
    )?)
}

fn by_endpoint(f: &RunFigures) -> String {
    f.requests
        .iter()
        .map(|(k, v)| format!("/{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

struct Row {
    scenario: String,
    figures: RunFigures,
    note: String,
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| scenario | wall s | CPU s | requests | rows read | rows written | rows/s | peak RSS MB | ru_maxrss MB | notes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let f = &r.figures;
        println!(
            "| {} | {:.1} | {:.1} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            r.scenario,
            f.wall.as_secs_f64(),
            f.cpu.as_secs_f64(),
            f.total_requests(),
            f.rows_read,
            f.rows_written,
            f.rows_per_sec(),
            f.rss_mb(),
            f.rusage_max_rss_kib as f64 * 1024.0 / 1e6,
            r.note
        );
    }
    let _ = std::io::stdout().flush();
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores, {cpu}, {mem_gib:.1} GiB; load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Bytes of the files under `dir`, recursively (0 where it does not exist).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn main() -> BenchResult<()> {
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let scale: f64 = std::env::var("TGM_BENCH_SCALE")
        .ok()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1.0);
    let wanted: Vec<String> = std::env::var("TGM_BENCH_SCENARIOS")
        .unwrap_or_else(|_| "A,B,C,D,E,F,G,H,I".into())
        .split(',')
        .map(|s| s.trim().to_ascii_uppercase())
        .collect();
    let want = |s: &str| wanted.iter().any(|w| w == s);
    let root = tempfile::tempdir()?;
    println!("tgm-sync benchmark, scale {scale}: {}", machine());
    let bin = std::env::var("TGM_BENCH_BIN").unwrap_or_else(|_| BIN.to_string());
    println!("binary: {bin}");
    let mut rows: Vec<Row> = Vec::new();
    let mut checks: Vec<String> = Vec::new();

    // A (and C after it).
    let mut a_rss = None;
    if want("A") || want("C") || want("D") || want("E") {
        let (orders, members) = (scaled(1_000_000, scale), scaled(500_000, scale));
        eprintln!("A: full sync of {orders} orders + {members} memberships");
        let sim = Sim::start(orders, members, 0)?;
        let dir = root.path().join("a");
        let a = sim.sync(&dir, None, &[])?;
        checks.push(format!(
            "A: {:.1} s (target < 30 s: {}), peak RSS {:.0} MB (target < 300 MB: {})",
            a.wall.as_secs_f64(),
            verdict(a.wall.as_secs_f64() < 30.0),
            a.rss_mb(),
            verdict(a.rss_mb() < 300.0)
        ));
        checks.push(format!(
            "A: the API's own serving time {:.1} s (no latency: the floor); wall / floor {:.2}×",
            a.serving.as_secs_f64(),
            a.wall.as_secs_f64() / a.serving.as_secs_f64().max(1e-9)
        ));
        a_rss = Some((orders, a.rss_mb()));
        rows.push(Row {
            scenario: format!("A full, {orders} orders + {members} members"),
            note: format!(
                "/orders {}, /members {}",
                a.requests_of("orders"),
                a.requests_of("members")
            ),
            figures: a,
        });
        if want("C") {
            eprintln!("C: the same sync again, nothing changed");
            let c = sim.sync(&dir, None, &[])?;
            let needed = orders_pages_needed(&dir.join("warehouse.duckdb"))?;
            let orders_pages = c.requests_of("orders");
            checks.push(format!(
                "C: /orders requests {orders_pages}, lookback window needs {needed} ({}); data rows written {} (target 0: {}; plus users_count's snapshot row)",
                verdict(orders_pages <= needed),
                c.data_rows_written,
                verdict(c.data_rows_written == 0)
            ));
            let by_path = by_endpoint(&c);
            rows.push(Row {
                scenario: "C no-change run after A".into(),
                note: format!("window needs {needed} /orders pages; {by_path}"),
                figures: c,
            });
        }
        if want("E") {
            // Not a target of the issue: the weekly full scan gives the merge the most
            // work (every staged row is compared with the table, and a soft-delete
            // anti-join runs over both).
            eprintln!("E: a full refresh over A's warehouse, nothing changed");
            let e = sim.sync(&dir, None, &["--full-refresh"])?;
            checks.push(format!(
                "E: full refresh {:.1} s, peak RSS {:.0} MB, data rows written {}",
                e.wall.as_secs_f64(),
                e.rss_mb(),
                e.data_rows_written
            ));
            rows.push(Row {
                scenario: "E full refresh after A, no changes".into(),
                note: format!("/orders {}", e.requests_of("orders")),
                figures: e,
            });
        }
    }

    if want("B") {
        let orders = scaled(100_000, scale);
        let latency_ms = 50;
        eprintln!("B: full sync of {orders} orders, {latency_ms} ms per request");
        let sim = Sim::start(orders, scaled(200, scale), latency_ms)?;
        let dir = root.path().join("b");
        let b = sim.sync(&dir, Some("orders"), &[])?;
        let requests = b.total_requests();
        let ideal = requests as f64 * latency_ms as f64 / 1000.0 / PAGES_IN_FLIGHT as f64;
        let ratio = b.wall.as_secs_f64() / ideal;
        checks.push(format!(
            "B: {:.1} s for {requests} requests, ideal {ideal:.1} s, ratio {ratio:.2} (target <= 1.25: {})",
            b.wall.as_secs_f64(),
            verdict(ratio <= 1.25)
        ));
        rows.push(Row {
            scenario: format!("B {orders} orders, {latency_ms} ms latency"),
            note: format!("ideal {ideal:.1} s, ratio {ratio:.2}"),
            figures: b,
        });
    }

    if want("D") {
        let (orders, members) = (scaled(100_000, scale), scaled(50_000, scale));
        eprintln!("D: full sync of {orders} orders + {members} memberships (RSS)");
        let sim = Sim::start(orders, members, 0)?;
        let d = sim.sync(&root.path().join("d"), None, &[])?;
        if let Some((big, big_rss)) = a_rss {
            let ratio = big_rss / d.rss_mb().max(1e-9);
            checks.push(format!(
                "D: peak RSS {:.0} MB at {orders} orders, {big_rss:.0} MB at {big}: {ratio:.2}x (target <= 1.3x: {})",
                d.rss_mb(),
                verdict(ratio <= 1.3)
            ));
        }
        rows.push(Row {
            scenario: format!("D full, {orders} orders + {members} members"),
            note: "RSS baseline".into(),
            figures: d,
        });
    }

    if want("F") {
        // The shape of the issue's outside measurement: two years of steady trade, a
        // dozen plan currencies (24 plans cover the 13 the simulator draws from).
        let (orders, members, latency_ms, days) =
            (scaled(50_000, scale), scaled(20_000, scale), 20, 730);
        eprintln!(
            "F: full sync then a no-change run, {orders} orders over {days} days in many currencies, {latency_ms} ms per request"
        );
        let sim = Sim::start_with(SimOptions {
            orders,
            members,
            plans: 24,
            history_days: Some(days),
            faults: FaultOptions {
                latency_ms,
                ..FaultOptions::default()
            },
            ..SimOptions::default()
        })?;
        let dir = root.path().join("f");
        let full = sim.sync(&dir, None, &[])?;
        let currencies = order_currencies(&dir.join("warehouse.duckdb"))?;
        let pending = old_pending(&dir.join("warehouse.duckdb"))?;
        let again = sim.sync(&dir, None, &[])?;
        let request_share = again.total_requests() as f64 / full.total_requests().max(1) as f64;
        let time_share = again.wall.as_secs_f64() / full.wall.as_secs_f64().max(1e-9);
        checks.push(format!(
            "F: {currencies} order currencies; no-change run {} of the full sync's {} requests = {:.0}% (target <= 15%: {}), {:.1} s of {:.1} s = {:.0}% (target <= 25%: {})",
            again.total_requests(),
            full.total_requests(),
            request_share * 100.0,
            verdict(request_share <= 0.15),
            again.wall.as_secs_f64(),
            full.wall.as_secs_f64(),
            time_share * 100.0,
            verdict(time_share <= 0.25)
        ));
        checks.push(format!(
            "F: {pending} old PENDING orders, {} re-read by key in the no-change run (each is due once the runs since its last read reach its age in days, at most 32)",
            again.requests_of("orders/key"),
        ));
        let floor = full.floor(latency_ms);
        checks.push(format!(
            "F: full sync {:.2} s against a floor of {:.2} s ({} requests × {latency_ms} ms / {PAGES_IN_FLIGHT} in flight + the API's serving time {:.2} s): {:.2}×",
            full.wall.as_secs_f64(),
            floor.as_secs_f64(),
            full.total_requests(),
            full.serving.as_secs_f64(),
            full.wall.as_secs_f64() / floor.as_secs_f64().max(1e-9),
        ));
        rows.push(Row {
            scenario: format!(
                "F full, {orders} orders over {days} days in {currencies} currencies, {latency_ms} ms"
            ),
            note: by_endpoint(&full),
            figures: full,
        });
        rows.push(Row {
            scenario: "F no-change run after F full".into(),
            note: by_endpoint(&again),
            figures: again,
        });
    }

    if want("G") {
        let (bots, orders, members) = (50, scaled(20_000, scale), scaled(2_000, scale));
        eprintln!(
            "G: {bots} bots of {orders} orders + {members} memberships: full sync, then no change"
        );
        let sim = Sim::start_with(SimOptions {
            bots,
            orders,
            members,
            ..SimOptions::default()
        })?;
        let dir = root.path().join("g");
        let full = sim.sync(&dir, None, &[])?;
        let synced = bots_synced(&dir.join("warehouse.duckdb"))?;
        let again = sim.sync(&dir, None, &[])?;
        let in_flight = std::env::var("TGM_BOTS_IN_FLIGHT").unwrap_or_else(|_| "4".into());
        checks.push(format!(
            "G: {synced} of {bots} bots synced in {:.1} s ({:.0} rows/s, {} requests, peak RSS {:.0} MB), bots_in_flight {in_flight}; no-change run {:.1} s, {} requests = {:.0}% of the full sync's, data rows written {}",
            full.wall.as_secs_f64(),
            full.rows_per_sec(),
            full.total_requests(),
            full.rss_mb(),
            again.wall.as_secs_f64(),
            again.total_requests(),
            again.total_requests() as f64 * 100.0 / full.total_requests().max(1) as f64,
            again.data_rows_written,
        ));
        rows.push(Row {
            scenario: format!("G full, {bots} bots × {orders} orders + {members} members"),
            note: by_endpoint(&full),
            figures: full,
        });
        rows.push(Row {
            scenario: format!("G no-change run after G full ({bots} bots)"),
            note: by_endpoint(&again),
            figures: again,
        });
    }

    if want("H") {
        let (orders, members) = (scaled(1_000_000, scale), scaled(500_000, scale));
        eprintln!("H: {orders} orders + {members} memberships, without and with a file:// lake");
        let sim = Sim::start(orders, members, 0)?;
        let plain = sim.sync(&root.path().join("h-plain"), None, &[])?;
        let dir = root.path().join("h-lake");
        let lake_url = format!("file://{}", dir.join("lake").display());
        let lake = sim.sync(&dir, None, &["--lake-url", &lake_url])?;
        let again = sim.sync(&dir, None, &["--lake-url", &lake_url])?;
        let lake_mb = dir_bytes(&dir.join("lake")) as f64 / 1e6;
        let mirror_mb = dir_bytes(&dir.join("parquet")) as f64 / 1e6;
        checks.push(format!(
            "H: the lake adds {:.1} s wall and {:.1} s CPU to a full sync ({:.1} s → {:.1} s); lake {lake_mb:.1} MB beside a mirror of {mirror_mb:.1} MB; no-change run with the lake {:.1} s, data rows written {}",
            lake.wall.as_secs_f64() - plain.wall.as_secs_f64(),
            lake.cpu.as_secs_f64() - plain.cpu.as_secs_f64(),
            plain.wall.as_secs_f64(),
            lake.wall.as_secs_f64(),
            again.wall.as_secs_f64(),
            again.data_rows_written,
        ));
        rows.push(Row {
            scenario: format!("H full, {orders} orders + {members} members, no lake"),
            note: String::new(),
            figures: plain,
        });
        rows.push(Row {
            scenario: "H full, the same with a file:// lake".into(),
            note: format!("lake {lake_mb:.1} MB, mirror {mirror_mb:.1} MB"),
            figures: lake,
        });
        rows.push(Row {
            scenario: "H no-change run with the lake".into(),
            note: by_endpoint(&again),
            figures: again,
        });
    }

    if want("I") {
        scenario_i(root.path(), scale, &mut rows, &mut checks)?;
    }

    print_table(&rows);
    println!();
    for c in &checks {
        println!("{c}");
    }
    Ok(())
}

/// I: 1, 3 and 50 bots, each count in its own run, lake off and on (see the top).
fn scenario_i(
    root: &Path,
    scale: f64,
    rows: &mut Vec<Row>,
    checks: &mut Vec<String>,
) -> BenchResult<()> {
    let latency_ms = 30;
    let shapes = [
        (1, scaled(2_500, scale), scaled(900, scale)),
        (3, scaled(2_500, scale), scaled(900, scale)),
        (50, scaled(500, scale), scaled(180, scale)),
    ];
    let mut walls: BTreeMap<(usize, bool), f64> = BTreeMap::new();
    for (bots, orders, members) in shapes {
        eprintln!(
            "I: {bots} bot(s) of {orders} orders + {members} memberships, {latency_ms} ms per request, without and with a lake"
        );
        let sim = Sim::start_with(SimOptions {
            bots,
            ..Sim::options(orders, members, latency_ms)
        })?;
        for lake in [false, true] {
            let dir = root.join(format!("i-{bots}-{}", if lake { "lake" } else { "plain" }));
            let lake_url = format!("file://{}", dir.join("lake").display());
            let extra: Vec<&str> = if lake {
                vec!["--lake-url", &lake_url]
            } else {
                Vec::new()
            };
            let f = sim.sync(&dir, None, &extra)?;
            let synced = bots_synced(&dir.join("warehouse.duckdb"))?;
            if synced != bots as i64 {
                return Err(format!("I: {synced} of {bots} bots synced").into());
            }
            walls.insert((bots, lake), f.wall.as_secs_f64());
            rows.push(Row {
                scenario: format!(
                    "I {bots} bot(s) × {orders} orders + {members} members, {latency_ms} ms, {}",
                    if lake { "file:// lake" } else { "no lake" }
                ),
                note: by_endpoint(&f),
                figures: f,
            });
        }
    }
    for lake in [false, true] {
        let (Some(one), Some(three)) = (walls.get(&(1, lake)), walls.get(&(3, lake))) else {
            continue;
        };
        let ratio = three / one.max(1e-9);
        checks.push(format!(
            "I ({}): 3 bots {three:.1} s, 1 bot {one:.1} s: {ratio:.2}x (target <= 1.4x: {})",
            if lake { "file:// lake" } else { "no lake" },
            verdict(ratio <= 1.4)
        ));
    }
    Ok(())
}
