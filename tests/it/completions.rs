//! Shell completions and the man page, generated from the clap definitions.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::*;

/// Every subcommand a user can type.
const SUBCOMMANDS: [&str; 11] = [
    "sync",
    "status",
    "demo",
    "report",
    "verify",
    "sim",
    "fx",
    "schedule",
    "init",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let out = bin().args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "tgm-sync {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// A tool the test needs: missing, it fails under CI and is skipped (said so) elsewhere.
fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed (needed under CI)"
        );
        println!("skipped: {name} is not installed");
    }
    found
}

#[test]
fn completions_for_three_shells_name_every_subcommand() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef tgm-sync"),
        ("fish", "complete -c tgm-sync"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(
            script.contains(marker),
            "{shell}: no `{marker}` in the script:\n{}",
            &script[..script.len().min(400)]
        );
        for sub in SUBCOMMANDS {
            assert!(
                script.contains(sub),
                "{shell} completion does not name `{sub}`"
            );
        }
        // A flag of a subcommand, so completion goes below the first word.
        assert!(
            script.contains("full-refresh"),
            "{shell}: `sync --full-refresh` is not completed"
        );
    }
}

#[test]
fn the_bash_completion_loads_and_completes_subcommands() {
    let script = stdout_of(&["completions", "bash"]);
    // Source the script, then ask its function what `tgm-sync s<TAB>` offers.
    let probe = r#"
source /dev/stdin
COMP_WORDS=(tgm-sync s); COMP_CWORD=1; COMP_LINE="tgm-sync s"; COMP_POINT=${#COMP_LINE}
fn=$(complete -p tgm-sync | sed -E 's/.*-F ([^ ]+).*/\1/')
"$fn" tgm-sync s tgm-sync
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let mut child = Command::new("bash")
        .args(["-c", probe])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script piped");
    let out = child.wait_with_output().expect("bash ends");
    let offered = String::from_utf8_lossy(&out.stdout);
    let mut words: Vec<&str> = offered.split_whitespace().collect();
    words.sort();
    assert_eq!(
        words,
        vec!["schedule", "sim", "status", "sync"],
        "bash offers for `tgm-sync s`: {offered} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_man_page_renders_with_every_subcommand() {
    let page = stdout_of(&["man"]);
    assert!(
        page.contains(".TH tgm-sync 1"),
        "not a section-1 page:\n{page}"
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no `{section}` in the page");
    }
    if !tool("groff") {
        return;
    }
    let mut child = Command::new("groff")
        .args(["-man", "-Tascii", "-P-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("page piped");
    let out = child.wait_with_output().expect("groff ends");
    let shown = strip_overstrike(&String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "groff failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // NAME: the program and the package's one-line description.
    let name_line = format!("tgm-sync - {}", env!("CARGO_PKG_DESCRIPTION"));
    assert!(
        shown.contains(&name_line),
        "no `{name_line}` in the rendered page:\n{shown}"
    );
    assert!(
        shown.contains("4  authentication failed"),
        "the exit codes are not in the page:\n{shown}"
    );
    for sub in SUBCOMMANDS {
        assert!(
            shown.contains(&format!("tgm-sync-{sub}(1)")),
            "the rendered page does not list `{sub}`:\n{shown}"
        );
    }
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "groff warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `x\bx` (bold) and `_\bx` (underline) as a terminal shows them: `x`.
fn strip_overstrike(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
            continue;
        }
        out.push(c);
    }
    // After a backspace the next character replaces the one removed.
    out.into_iter().collect()
}

#[test]
fn man_out_dir_writes_a_page_per_subcommand() {
    let dir = tempdir();
    let out = bin()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages = vec!["tgm-sync.1".to_string()];
    pages.extend(SUBCOMMANDS.iter().map(|s| format!("tgm-sync-{s}.1")));
    for page in pages {
        let text = std::fs::read_to_string(dir.path().join(&page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH "), "{page} is not a man page");
    }
}
