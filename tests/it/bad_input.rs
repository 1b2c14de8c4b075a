//! Bad input through the binary: each mistake gives exit code 2 and one line on stderr
//! that names the offending value, and leaves no warehouse behind.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::support::*;

/// The uid and gid of `nobody`, for running the binary unprivileged when the tests run as root.
const NOBODY: u32 = 65_534;

/// One mistake: the command line, the files it needs, and what the message must name.
struct BadInput {
    name: &'static str,
    args: Vec<String>,
    /// Files written into the case's directory first: (name, contents).
    files: Vec<(&'static str, &'static str)>,
    /// Text the one-line message must contain.
    names: &'static str,
    /// Whether the warehouse file may exist afterwards (it was there before).
    warehouse_existed: bool,
}

fn case(
    name: &'static str,
    args: &[&str],
    files: &[(&'static str, &'static str)],
    names: &'static str,
) -> BadInput {
    BadInput {
        name,
        args: args.iter().map(|a| a.to_string()).collect(),
        files: files.to_vec(),
        names,
        warehouse_existed: false,
    }
}

const LOOPBACK: &str = "http://127.0.0.1:9";

fn cases() -> Vec<BadInput> {
    let sync = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["sync", "--warehouse", "w.duckdb"];
        v.extend_from_slice(extra);
        v
    };
    let mut cases = vec![
        case(
            "malformed TOML",
            &["sync", "--config", "bad.toml"],
            &[(
                "bad.toml",
                "warehouse = \"w.duckdb\"\n[[bots]\nbot_id = 1\n",
            )],
            "bad.toml: TOML parse error at line 2",
        ),
        case(
            "unknown top-level key",
            &["sync", "--config", "unknown.toml"],
            &[("unknown.toml", "warehose = \"w.duckdb\"\n")],
            "unknown field `warehose`",
        ),
        case(
            "unknown key in [[bots]]",
            &["sync", "--config", "bots.toml"],
            &[("bots.toml", "[[bots]]\nbot_id = 1\napi_key = \"x\"\n")],
            "unknown field `api_key`",
        ),
        case(
            "bot id with a wrong type in TOML",
            &["sync", "--config", "id.toml"],
            &[("id.toml", "[[bots]]\nbot_id = \"12x\"\n")],
            "\"12x\"",
        ),
        case(
            "negative bot id in TOML",
            &["sync", "--config", "neg.toml"],
            &[("neg.toml", "[[bots]]\nbot_id = -3\n")],
            "-3",
        ),
        case(
            "out-of-range value in TOML",
            &["sync", "--config", "pages.toml"],
            &[("pages.toml", "pages_in_flight = 0\n[[bots]]\nbot_id = 1\n")],
            "invalid pages_in_flight `0`",
        ),
        case(
            "unknown api_version in TOML",
            &["sync", "--config", "version.toml"],
            &[(
                "version.toml",
                "api_version = \"v9\"\n[[bots]]\nbot_id = 1\n",
            )],
            "invalid api_version `v9`",
        ),
        case(
            "missing config file named on the command line",
            &["sync", "--config", "absent.toml"],
            &[],
            "absent.toml",
        ),
        case(
            "non-numeric bot id",
            &sync(&["--bot-id", "abc"]),
            &[],
            "invalid bot id `abc`",
        ),
        case(
            "bot id 0",
            &sync(&["--bot-id", "0"]),
            &[],
            "invalid bot id `0`",
        ),
        case(
            "bot id past the warehouse's BIGINT",
            &sync(&["--bot-id", "9223372036854775808"]),
            &[],
            "invalid bot id `9223372036854775808`",
        ),
        case(
            "bot id 0 in TOML",
            &["sync", "--config", "zero.toml"],
            &[("zero.toml", "[[bots]]\nbot_id = 0\n")],
            "bot id `0` is not a positive integer",
        ),
        case(
            "negative bot id in TOML",
            &["sync", "--config", "negative.toml"],
            &[("negative.toml", "[[bots]]\nbot_id = -7\n")],
            "negative.toml",
        ),
        case(
            "unknown stream",
            &sync(&["--bot-id", "1", "--streams", "orders,invoices"]),
            &[],
            "invalid stream `invoices`",
        ),
        case(
            "timeout of 0 seconds",
            &sync(&["--bot-id", "1", "--timeout-secs", "0"]),
            &[],
            "invalid timeout_secs `0`",
        ),
        case(
            "plain http to a non-loopback host",
            &sync(&["--bot-id", "1", "--base-url", "http://example.com"]),
            &[],
            "invalid base_url `http://example.com`: plain http",
        ),
        case(
            "plain http to a private address",
            &sync(&["--bot-id", "1", "--base-url", "http://10.0.0.1:8080"]),
            &[],
            "invalid base_url `http://10.0.0.1:8080`",
        ),
        case(
            "a base URL that is no URL",
            &sync(&["--bot-id", "1", "--base-url", "api.tgmembership.com"]),
            &[],
            "invalid base_url `api.tgmembership.com`",
        ),
        case(
            "an empty key file",
            &sync(&["--bot-id", "1", "--api-key-file", "empty.key"]),
            &[("empty.key", "\n")],
            "empty.key",
        ),
        case(
            "unsupported currency",
            &[
                "verify",
                "--currency",
                "xyz",
                "--bot-id",
                "1",
                "--warehouse",
                "w.duckdb",
            ],
            &[],
            "`xyz`",
        ),
        case(
            "warehouse under a file, not a directory",
            &[
                "sync",
                "--bot-id",
                "1",
                "--base-url",
                LOOPBACK,
                "--warehouse",
                "afile/w.duckdb",
            ],
            &[("afile", "")],
            "afile/w.duckdb",
        ),
        case(
            "warehouse is a directory",
            &[
                "sync",
                "--bot-id",
                "1",
                "--base-url",
                LOOPBACK,
                "--warehouse",
                "adir",
            ],
            &[("adir/keep", "")],
            "adir is not a DuckDB database",
        ),
        case(
            "an fx file with an unknown currency",
            &[
                "fx",
                "import",
                "rates.csv",
                "--bot-id",
                "1",
                "--warehouse",
                "w.duckdb",
            ],
            &[("rates.csv", "from_currency,to_currency,rate\nEUR,xyz,1.1\n")],
            "rates.csv line 2: to_currency",
        ),
        case(
            "a Parquet directory where a file is",
            &[
                "sync",
                "--bot-id",
                "1",
                "--base-url",
                LOOPBACK,
                "--warehouse",
                "w.duckdb",
                "--parquet-dir",
                "mirror/bot",
            ],
            &[("mirror", "a file, not a directory\n")],
            "cannot write the Parquet mirror at mirror/bot",
        ),
    ];
    let mut not_duckdb = case(
        "a file that is not DuckDB (sync)",
        &[
            "sync",
            "--bot-id",
            "1",
            "--base-url",
            LOOPBACK,
            "--warehouse",
            "w.duckdb",
        ],
        &[("w.duckdb", "id,name\n1,not a database\n")],
        "w.duckdb is not a DuckDB database",
    );
    not_duckdb.warehouse_existed = true;
    cases.push(not_duckdb);
    let mut status = case(
        "a file that is not DuckDB (status)",
        &["status", "--warehouse", "w.duckdb"],
        &[("w.duckdb", "SQLite format 3\0")],
        "w.duckdb is not a DuckDB database",
    );
    status.warehouse_existed = true;
    cases.push(status);
    cases
}

fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&path, text).expect("write");
        // Private, so that no "readable by others" warning adds a line.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

fn run_case(c: &BadInput) {
    let dir = tempdir();
    write_files(dir.path(), &c.files);
    let out = bin()
        .args(&c.args)
        .current_dir(dir.path())
        .env("TGM_API_KEY", TEST_KEY)
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}: exit code; stderr: {stderr}",
        c.name
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{}: one line on stderr: {stderr}", c.name);
    assert!(
        lines[0].starts_with("tgm-sync: ") && lines[0].contains(c.names),
        "{}: the message names `{}`: {}",
        c.name,
        c.names,
        lines[0]
    );
    assert!(!stderr.contains(TEST_KEY), "{}: {stderr}", c.name);
    if !c.warehouse_existed {
        let created: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains(".duckdb"))
            .collect();
        assert!(
            created.is_empty(),
            "{}: nothing written: {created:?}",
            c.name
        );
    }
}

#[test]
fn each_bad_input_exits_2_with_one_line_naming_the_value_and_writes_nothing() {
    let cases = cases();
    assert_eq!(cases.len(), 26);
    for c in &cases {
        run_case(c);
    }
}

/// Runs `cmd`, retrying while the kernel says the freshly copied binary is busy: a test
/// thread that forks while the copy's file is still open for writing hands that descriptor
/// to its child, and `exec` of a file open for writing fails with ETXTBSY until the child
/// execs in turn. Bounded: 100 tries, 20 ms apart.
fn output_when_not_busy(cmd: &mut std::process::Command) -> std::process::Output {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.expect("binary runs"),
        }
    }
    panic!("the copied binary stayed busy (ETXTBSY) for 2 s");
}

#[test]
fn an_unwritable_warehouse_directory_exits_2_naming_the_path() {
    let dir = tempdir();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("dir");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let mut cmd = bin();
    // root writes anywhere: as root (CI runs as root), the binary runs as `nobody` from a
    // copy it can read, in a directory it can enter, so the permission bits apply.
    if std::fs::write(locked.join("probe"), "x").is_ok() {
        std::fs::remove_file(locked.join("probe")).expect("probe removed");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let copy = dir.path().join("tgm-sync");
        std::fs::copy(env!("CARGO_BIN_EXE_tgm-sync"), &copy).expect("binary copied");
        cmd = std::process::Command::new(&copy);
        cmd.env(tgm_sync::clock::PIN_VAR, tgm_sync::clock::now_for_child())
            .env_remove("TGM_CONFIG")
            .env("NO_COLOR", "1")
            .uid(NOBODY)
            .gid(NOBODY);
    }
    cmd.args(["sync", "--bot-id", "1", "--base-url", LOOPBACK])
        .arg("--warehouse")
        .arg(locked.join("w.duckdb"))
        .current_dir(dir.path())
        .env("TGM_API_KEY", TEST_KEY);
    let out = output_when_not_busy(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("locked/w.duckdb"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_memory_limit_duckdb_cannot_read_names_the_variable() {
    let dir = tempdir();
    let out = bin()
        .args(["sync", "--bot-id", "1", "--base-url", LOOPBACK])
        .args(["--warehouse", "w.duckdb", "--parquet-dir", "pq"])
        .current_dir(dir.path())
        .env("TGM_API_KEY", TEST_KEY)
        .env("TGM_DUCKDB_MEMORY_LIMIT", "lots")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("TGM_DUCKDB_MEMORY_LIMIT=\"lots\""),
        "{stderr}"
    );
    assert!(
        !dir.path().join("w.duckdb").exists(),
        "no warehouse is created"
    );
}

/// Runs the binary in `dir` (the key in the environment) and returns its exit code and
/// its one stderr line.
fn one_line_failure(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = bin()
        .args(args)
        .current_dir(dir)
        .env("TGM_API_KEY", TEST_KEY)
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    (out.status.code(), lines[0].to_string())
}

/// The warehouse errors carry the facts and the command line adds what to run: the
/// message reads as it always has (the advice spelled for this build, see `hint`).
#[test]
fn a_missing_or_never_synced_warehouse_says_to_sync_first() {
    let dir = tempdir();
    let (code, line) = one_line_failure(dir.path(), &["status", "--warehouse", "nothere.duckdb"]);
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.starts_with("tgm-sync: nothere.duckdb is not a DuckDB database (no such file; run `")
            && line.ends_with(" sync` first)"),
        "{line}"
    );
    assert!(!dir.path().join("nothere.duckdb").exists());

    drop(tgm_sync::warehouse::Warehouse::open(&dir.path().join("w.duckdb")).expect("warehouse"));
    let (code, line) = one_line_failure(
        dir.path(),
        &[
            "verify",
            "--bot-id",
            "7",
            "--base-url",
            LOOPBACK,
            "--warehouse",
            "w.duckdb",
        ],
    );
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.starts_with("tgm-sync: the warehouse has no completed sync of bot 7: run `")
            && line.ends_with(" sync` first"),
        "{line}"
    );
}
