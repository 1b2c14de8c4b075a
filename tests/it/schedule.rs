//! The generated schedules: systemd accepts the units; the crontab line locks and logs.

use std::process::Command;

use crate::support::*;

#[test]
fn systemd_analyze_accepts_the_generated_units() {
    let dir = tempdir();
    let out = bin()
        .args(["schedule", "systemd", "--out-dir"])
        .arg(dir.path())
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let service = dir.path().join("tgm-sync.service");
    let timer = dir.path().join("tgm-sync.timer");
    let text = std::fs::read_to_string(&service).expect("service written");
    assert!(
        text.contains(&format!(
            "ExecStart={} sync",
            env!("CARGO_BIN_EXE_tgm-sync")
        )),
        "{text}"
    );
    for needle in [
        "Type=oneshot",
        "LoadCredential=api_key:",
        "TGM_API_KEY_FILE=%d/api_key",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=tgm-sync",
        // JSON lines in the journal, the run's summary included.
        "--log-format json --no-progress",
    ] {
        assert!(text.contains(needle), "service lacks {needle}");
    }
    let timer_text = std::fs::read_to_string(&timer).expect("timer written");
    assert!(timer_text.contains("Persistent=true") && timer_text.contains("RandomizedDelaySec="));

    systemd_analyze_verifies(
        "systemd_analyze_accepts_the_generated_units",
        &[&service, &timer],
        &["tgm-sync."],
    );
}

#[test]
fn the_crontab_line_locks_logs_and_names_no_key() {
    let out = bin()
        .args(["schedule", "cron", "--binary", "/opt/tgm/tgm-sync"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && l.contains("tgm-sync sync"))
        .expect("a cron line");
    assert!(line.starts_with("15 3 * * *"), "{line}");
    assert!(
        line.contains("flock -n") && line.contains("/opt/tgm/tgm-sync sync"),
        "{line}"
    );
    assert!(
        line.contains("--api-key-file") && line.contains(">> ") && line.contains("2>&1"),
        "{line}"
    );
    assert!(
        line.contains("--log-format json") && line.contains("--no-progress"),
        "{line}"
    );
}

/// A directory whose name holds what sh, cron and systemd each treat specially.
const AWKWARD: &str = "my tools/it's \"$HOME\" 100% a;b\\c";

/// What systemd accepts in an executable's path (no quote, no backslash) and still
/// treats specially: spaces, `$`, `%`, `;`.
const AWKWARD_FOR_SYSTEMD: &str = "my tools/$HOME 100% a;b";

/// A stand-in for the binary at an awkward path: it writes its arguments, one a line.
fn fake_binary(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    fake_binary_in(dir, AWKWARD)
}

fn fake_binary_in(dir: &std::path::Path, sub: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin_dir = dir.join(sub);
    std::fs::create_dir_all(&bin_dir).expect("awkward dir");
    let args = dir.join("args.txt");
    let binary = bin_dir.join("tgm sync");
    std::fs::write(
        &binary,
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n", args.display()),
    )
    .expect("script");
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (binary, args)
}

#[test]
fn the_crontab_line_runs_a_binary_and_config_at_paths_with_shell_characters() {
    if Command::new("flock").arg("--version").output().is_err() {
        skip_unless_ci(
            "the_crontab_line_runs_a_binary_and_config_at_paths_with_shell_characters",
            "flock is not installed, the cron line cannot run",
        );
        return;
    }
    let dir = tempdir();
    let (binary, args) = fake_binary(dir.path());
    let config = dir.path().join(AWKWARD).join("tgm $(touch pwned) `x`.toml");
    let out = bin()
        .arg("--config")
        .arg(&config)
        .args(["schedule", "cron", "--binary"])
        .arg(&binary)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("15 3 "))
        .expect("a cron line");
    // What cron hands to sh: the command after the five time fields, `\%` made `%` (a
    // bare `%` would become a newline).
    let command = line.splitn(6, ' ').nth(5).expect("command").trim();
    assert!(
        !command.replace("\\%", "").contains('%'),
        "a bare % in {command}"
    );
    let command = command
        .replace("\\%", "%")
        .replace(
            "/var/lib/tgm-sync/cron.lock",
            &dir.path().join("cron.lock").display().to_string(),
        )
        .replace(
            "/var/log/tgm-sync/tgm-sync.log",
            &dir.path().join("cron.log").display().to_string(),
        );
    let ran = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir.path())
        .output()
        .expect("sh runs");
    let log = std::fs::read_to_string(dir.path().join("cron.log")).unwrap_or_default();
    assert!(ran.status.success(), "{command}: {ran:?} {log}");
    let got = std::fs::read_to_string(&args)
        .unwrap_or_else(|e| panic!("the binary did not run ({e}): {command}\n{log}"));
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(
        &got[..3],
        ["sync", "--config", config.to_str().expect("utf-8")]
    );
    assert!(
        !dir.path().join("pwned").exists(),
        "the config path was run as a command"
    );
}

#[test]
fn the_systemd_unit_runs_a_binary_at_a_path_with_spaces_and_specials() {
    let dir = tempdir();
    // A binary path systemd cannot run is refused, naming it.
    let (refused, _) = fake_binary(dir.path());
    let out = bin()
        .args(["schedule", "systemd", "--binary"])
        .arg(&refused)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("systemd refuses an executable"), "{stderr}");

    let (binary, _) = fake_binary_in(dir.path(), AWKWARD_FOR_SYSTEMD);
    let config = dir.path().join(AWKWARD).join("tgm 50%.toml");
    let out_dir = dir.path().join("units");
    let out = bin()
        .arg("--config")
        .arg(&config)
        .args(["schedule", "systemd", "--binary"])
        .arg(&binary)
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let service = out_dir.join("tgm-sync.service");
    let text = std::fs::read_to_string(&service).expect("service");
    let exec = text
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    // Quoted as systemd reads it: the directory's `"`, `\`, `%` and `$` escaped.
    // The executable: quoted, `%` doubled, `$` as is (systemd expands no variable there).
    assert!(
        exec.starts_with(&format!("ExecStart=\"{}", dir.path().display()))
            && exec.contains("/my tools/$HOME 100%% a;b/tgm sync\" sync --config \""),
        "{exec}"
    );
    // The config argument: `"` and `\` escaped, `%` and `$` doubled.
    assert!(
        exec.contains("it's \\\"$$HOME\\\" 100%% a;b\\\\c/tgm 50%%.toml\""),
        "{exec}"
    );

    // systemd-analyze checks that the ExecStart= binary exists and is executable: a path
    // split at its spaces or cut at its quote would not be.
    systemd_analyze_verifies(
        "the_systemd_unit_runs_a_binary_at_a_path_with_spaces_and_specials",
        &[&service],
        &["tgm-sync.", "executable"],
    );
}

/// `systemd-analyze verify` accepts `units` without a complaint (a line naming any of
/// `complaints`): systemd reports a bad setting as "…, ignoring" and still exits 0, so any
/// complaint about our files counts as a failure. Skipped where systemd-analyze is absent
/// (a failure under `CI`).
fn systemd_analyze_verifies(test: &str, units: &[&std::path::Path], complaints: &[&str]) {
    let Ok(analyze) = Command::new("systemd-analyze").arg("--version").output() else {
        skip_unless_ci(
            test,
            "systemd-analyze is not installed, the unit was not verified",
        );
        return;
    };
    assert!(analyze.status.success());
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    let found: Vec<&str> = stderr
        .lines()
        .filter(|l| complaints.iter().any(|c| l.contains(c)))
        .collect();
    assert!(
        verify.status.success() && found.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
