//! What a person at a terminal sees: the progress display of `sync` on a pseudo-terminal
//! (read back through a terminal emulator), and hints that name a command that works
//! where the user is.

use std::path::Path;
use std::time::Duration;

use tgm_sync::sim::SimServer;

use crate::support::*;

const ROWS: u16 = 60;
const COLS: u16 = 160;

const STREAMS: [&str; 7] = [
    "plans",
    "projects",
    "coupons",
    "payment_methods",
    "members",
    "orders",
    "users_count",
];
const PHASES: [(&str, &str); 4] = [
    ("exchange rates", "rates"),
    ("reconciliation", "sales"),
    ("PENDING re-reads", "orders"),
    ("Parquet rewrite", "files"),
];

/// `tgm-sync sync` on a 160-column terminal, progress on.
fn sync_on_a_terminal(server: &SimServer, dir: &Path) -> PtyRun {
    let mut cmd = bin();
    cmd.args(["sync", "--bot-id", &BOT_ID.to_string(), "--base-url"])
        .arg(server.base_url())
        .arg("--warehouse")
        .arg(dir.join("warehouse.duckdb"))
        .arg("--parquet-dir")
        .arg(dir.join("parquet"))
        .env("TGM_API_KEY", TEST_KEY)
        // A 1-day lookback: the PENDING orders 1 to 2 days old are old, and due for a
        // re-read by key in the run after the full scan (an order is due after as many
        // runs as its age in days), so the second run shows that phase.
        .env("TGM_ORDERS_LOOKBACK_DAYS", "1");
    let run = run_in_pty(cmd, ROWS, COLS, &[], Duration::from_secs(180));
    assert!(
        run.status.success(),
        "sync failed ({}):\n{}\n{}",
        run.status,
        run.screen(),
        run.stdout
    );
    run
}

/// One progress line, cut into its columns.
#[derive(Debug)]
struct Line {
    text: String,
    mark: char,
    name: String,
    count: u64,
    unit: String,
    /// Where (in characters) the unit column starts and the elapsed column ends.
    unit_at: usize,
    elapsed_end: usize,
    rate: Option<String>,
}

fn is_mark(c: char) -> bool {
    c == '✓' || c == '✗' || ('\u{2800}'..='\u{28ff}').contains(&c)
}

/// The progress lines of a screen: `<mark> <bot id, 12 wide>  <name, 16 wide> <count>
/// <unit> … <elapsed>  <note>`. A line whose bot or name is not where the layout puts
/// it is not recognised, and the checks below then miss it by name.
fn progress_lines(screen: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    for text in screen.lines() {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() < 34 || !is_mark(chars[0]) {
            continue;
        }
        let bot: String = chars[1..15].iter().collect();
        if bot.trim() != BOT_ID.to_string() {
            continue;
        }
        let name: String = chars[16..32].iter().collect();
        let tokens: Vec<(usize, &str)> = char_tokens(text)
            .into_iter()
            .filter(|(at, _)| *at >= 32)
            .collect();
        let (Some(&(_, count)), Some(&(unit_at, unit))) = (tokens.first(), tokens.get(1)) else {
            continue;
        };
        let Some(&(elapsed_at, elapsed)) = tokens.iter().rev().find(|(_, t)| is_duration(t)) else {
            continue;
        };
        let rate = tokens
            .windows(2)
            .find(|w| w[1].1.ends_with("/s"))
            .map(|w| format!("{} {}", w[0].1, w[1].1));
        lines.push(Line {
            text: text.to_string(),
            mark: chars[0],
            name: name.trim().to_string(),
            count: if is_count(count) {
                count.replace(',', "").parse().unwrap_or(u64::MAX)
            } else {
                u64::MAX
            },
            unit: unit.to_string(),
            unit_at,
            elapsed_end: elapsed_at + elapsed.chars().count(),
            rate,
        });
    }
    lines
}

/// Whitespace-separated tokens with their start, counted in characters.
fn char_tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    for (chars, (byte, c)) in text.char_indices().enumerate() {
        if c.is_whitespace() {
            if let Some((at, from)) = start.take() {
                out.push((at, &text[from..byte]));
            }
        } else if start.is_none() {
            start = Some((chars, byte));
        }
    }
    if let Some((at, from)) = start {
        out.push((at, &text[from..]));
    }
    out
}

/// `7`, `13,232`: a whole number with thousands separators, nothing else.
fn is_count(token: &str) -> bool {
    let groups: Vec<&str> = token.split(',').collect();
    !token.is_empty()
        && groups[0].len() <= 3
        && !groups[0].is_empty()
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
        && groups[1..].iter().all(|g| g.len() == 3)
}

/// `0.4s`, `12.3s`, `1m05s`.
fn is_duration(token: &str) -> bool {
    let Some(body) = token.strip_suffix('s') else {
        return false;
    };
    match body.split_once('.') {
        Some((whole, tenth)) => {
            !whole.is_empty()
                && whole.chars().all(|c| c.is_ascii_digit())
                && tenth.len() == 1
                && tenth.chars().all(|c| c.is_ascii_digit())
        }
        None => body.split_once('m').is_some_and(|(m, s)| {
            !m.is_empty() && s.len() == 2 && (m.to_string() + s).chars().all(|c| c.is_ascii_digit())
        }),
    }
}

/// `3s` or a [`is_duration`] (an ETA is whole seconds under a minute).
fn is_duration_or_seconds(token: &str) -> bool {
    is_duration(token)
        || token
            .strip_suffix('s')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// A number printed with more decimals than a person needs: a digit, a point, then two
/// or more digits (`102.134671315231`). Clock times (`15:49:22`) have no point.
fn float_noise(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    for i in 1..chars.len() {
        if chars[i] == '.' && chars[i - 1].is_ascii_digit() {
            let digits = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits >= 2 {
                let from = i.saturating_sub(12);
                let to = (i + 1 + digits + 4).min(chars.len());
                return Some(chars[from..to].iter().collect());
            }
        }
    }
    None
}

/// What every screen must show: a finished line per stream, rates rounded, no float
/// noise anywhere, and the columns of every line aligned.
fn assert_reads_at_a_glance(run: &PtyRun, what: &str) -> Vec<Line> {
    let screen = run.screen();
    assert!(
        !screen.contains(TEST_KEY) && !run.all_text().contains(TEST_KEY),
        "{what}: the key is on the screen"
    );
    if let Some(noise) = float_noise(&run.all_text()) {
        panic!("{what}: a number with float noise was drawn: …{noise}…\n{screen}");
    }
    let lines = progress_lines(&screen);
    for stream in STREAMS {
        let found: Vec<&Line> = lines.iter().filter(|l| l.name == stream).collect();
        assert_eq!(
            found.len(),
            1,
            "{what}: expected one line for {stream}, found {}:\n{screen}",
            found.len()
        );
        let line = found[0];
        assert_eq!(
            line.mark, '✓',
            "{what}: {stream} did not finish: {}",
            line.text
        );
        let unit = if line.count == 1 { "row" } else { "rows" };
        assert_eq!(line.unit, unit, "{what}: {}", line.text);
        assert!(
            line.text.trim_end().ends_with("done"),
            "{what}: {}",
            line.text
        );
    }
    for line in &lines {
        assert_ne!(
            line.count,
            u64::MAX,
            "{what}: the count column is not a whole number: {}",
            line.text
        );
        if let Some(rate) = &line.rate {
            let (number, unit) = rate.split_once(' ').unwrap_or_default();
            assert!(
                is_count(number) && unit == format!("{}/s", line.unit),
                "{what}: rate `{rate}` is not a whole number of {}/s: {}",
                line.unit,
                line.text
            );
        }
    }
    let first = &lines[0];
    for line in &lines {
        assert_eq!(
            (line.unit_at, line.elapsed_end),
            (first.unit_at, first.elapsed_end),
            "{what}: columns not aligned:\n{}\n{}",
            first.text,
            line.text
        );
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_on_a_terminal_reads_at_a_glance_and_names_every_phase() {
    let server = start_sim(sim_options(3_000, 5_000)).await;
    let dir = tempdir();

    // First run: every stream read whole.
    let first = sync_on_a_terminal(&server, dir.path());
    let lines = assert_reads_at_a_glance(&first, "first run");
    let data = server.handle().data();
    let counts = [
        ("orders", data.orders.len() as u64),
        ("members", data.memberships.len() as u64),
        ("plans", data.plans.len() as u64),
        ("users_count", 1),
    ];
    for (stream, want) in counts {
        let line = lines.iter().find(|l| l.name == stream).expect("line");
        assert_eq!(line.count, want, "rows shown for {stream}: {}", line.text);
    }

    // Second run, after new orders: incremental orders, old PENDING orders re-read, older
    // sales reconciled, exchange rates read again and the changed partitions rewritten.
    server.handle().add_orders(25);
    // Slow enough that the members line is drawn mid-way (its total and ETA on screen).
    let mut faults = server.handle().faults();
    faults.latency_ms = 25;
    server.handle().set_faults(faults);
    let second = sync_on_a_terminal(&server, dir.path());
    let lines = assert_reads_at_a_glance(&second, "second run");
    let screen = second.screen();
    let data = server.handle().data();
    for (phase, unit) in PHASES {
        let line = lines
            .iter()
            .find(|l| l.name == phase)
            .unwrap_or_else(|| panic!("no `{phase}` line on the screen:\n{screen}"));
        assert_eq!(line.mark, '✓', "{}", line.text);
        assert_eq!(line.unit, unit, "{}", line.text);
        assert!(line.count > 0, "`{phase}` counted nothing: {}", line.text);
    }
    // Phases come after the streams.
    let position = |name: &str| lines.iter().position(|l| l.name == name);
    let last_stream = STREAMS.iter().filter_map(|s| position(s)).max();
    let first_phase = PHASES.iter().filter_map(|(p, _)| position(p)).min();
    assert!(
        last_stream < first_phase,
        "phase lines are not below the stream lines:\n{screen}"
    );
    // The members line knew its total from the first run: `of ~5,000` and an ETA were
    // drawn while it ran.
    let text = second.all_text();
    let members_total = format!("of ~{}", thousands(data.memberships.len() as u64));
    assert!(
        text.contains(&members_total),
        "members never showed `{members_total}` while running:\n{screen}"
    );
    let eta_drawn = text.split("ETA ").skip(1).any(|after| {
        after
            .split_whitespace()
            .next()
            .is_some_and(is_duration_or_seconds)
    });
    assert!(eta_drawn, "no ETA was ever drawn:\n{screen}");
}

fn thousands(n: u64) -> String {
    tgm_sync::progress::format::thousands(n)
}

#[test]
fn a_quiet_sync_on_a_terminal_draws_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(start_sim(sim_options(300, 100)));
    let dir = tempdir();
    let mut cmd = bin();
    cmd.args(["-q", "sync", "--bot-id", &BOT_ID.to_string(), "--base-url"])
        .arg(server.base_url())
        .arg("--warehouse")
        .arg(dir.path().join("warehouse.duckdb"))
        .arg("--parquet-dir")
        .arg(dir.path().join("parquet"))
        .env("TGM_API_KEY", TEST_KEY)
        // A 1-day lookback: the PENDING orders 1 to 2 days old are old, and due for a
        // re-read by key in the run after the full scan (an order is due after as many
        // runs as its age in days), so the second run shows that phase.
        .env("TGM_ORDERS_LOOKBACK_DAYS", "1");
    let run = run_in_pty(cmd, ROWS, COLS, &[], Duration::from_secs(120));
    assert!(run.status.success(), "{}", run.screen());
    let drawn = run.all_text();
    assert!(drawn.trim().is_empty(), "-q drew on the terminal:\n{drawn}");
    assert!(
        run.stdout.contains("orders"),
        "the summary is on stdout: {}",
        run.stdout
    );
    rt.block_on(server.shutdown());
}

/// The demo's closing line, run as `cargo run` runs it (from the target directory), and
/// with `tgm-sync` on the PATH.
#[test]
fn the_demo_suggests_a_command_that_works_where_it_was_run() {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tgm-sync"));
    let dir = tempdir();
    let demo = |path: &str| {
        let out = bin()
            .args(["demo", "--orders", "300", "--members", "100"])
            .arg(dir.path().join("demo"))
            .env("PATH", path)
            .output()
            .expect("demo runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "demo failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let start = stdout
            .find("Try it yourself")
            .unwrap_or_else(|| panic!("no closing hint:\n{stdout}"));
        stdout[start..].to_string()
    };
    let warehouse = dir.path().join("demo").join("warehouse.duckdb");
    let report = format!("report revenue --warehouse {}", warehouse.display());

    // Built by cargo and not installed: `tgm-sync` is on no PATH.
    let system_path = "/usr/bin:/bin";
    let hint = demo(system_path);
    assert!(
        hint.contains(&format!("cargo run -- {report}")),
        "expected `cargo run -- {report}` in:\n{hint}"
    );
    assert!(
        hint.contains("cargo install --path ."),
        "expected the install command in:\n{hint}"
    );
    assert!(
        !hint.contains(&format!("  tgm-sync {report}")),
        "suggests `tgm-sync`, which is not on the PATH:\n{hint}"
    );

    // Installed: `tgm-sync` on the PATH is this very program.
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("mkdir");
    std::os::unix::fs::symlink(&exe, bin_dir.join("tgm-sync")).expect("symlink");
    let hint = demo(&format!("{}:{system_path}", bin_dir.display()));
    assert!(
        hint.contains(&format!("tgm-sync {report}")) && !hint.contains("cargo run"),
        "expected `tgm-sync {report}` and no cargo in:\n{hint}"
    );
}
