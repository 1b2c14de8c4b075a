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

    let Ok(analyze) = Command::new("systemd-analyze").arg("--version").output() else {
        skip_unless_ci(
            "systemd_analyze_accepts_the_generated_units",
            "systemd-analyze is not installed, the units were not verified",
        );
        return;
    };
    assert!(analyze.status.success());
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&service)
        .arg(&timer)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    // systemd-analyze reports a bad setting as "…, ignoring" and still exits 0: any
    // complaint about our files counts as a failure.
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains("tgm-sync.")).collect();
    assert!(
        verify.status.success() && complaints.is_empty(),
        "systemd-analyze verify: {stderr}"
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
