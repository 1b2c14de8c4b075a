//! The statements kept under `sql/report/` and `sql/cli/`: each file prepares against a
//! freshly migrated warehouse file (report layer installed), is one statement, binds as
//! many parameters as its header lists, and is read by the code. A broken file fails here
//! rather than only when its command runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tgm_sync::warehouse::Warehouse;

use crate::support::tempdir;

/// The folders of `sql/` that hold one statement per file (the root holds migrations and
/// the report layer, which are scripts).
const STATEMENT_DIRS: [&str; 2] = ["report", "cli"];

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.sql` file under `dir`, recursively, sorted.
fn sql_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "sql") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The parameters a file's header comment lists: the highest `$n` in its `--` lines.
fn documented_parameters(text: &str) -> usize {
    text.lines()
        .filter(|l| l.trim_start().starts_with("--"))
        .flat_map(|l| l.split('$').skip(1))
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// How many statements `text` holds: `;` outside comments, quotes and identifiers ends
/// one, and text after the last `;` is one more. Checked before preparing, because the
/// duckdb crate's `prepare` runs every statement but the last.
fn statement_count(text: &str) -> usize {
    let (mut count, mut pending) = (0, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' | '"' => {
                // A doubled quote inside is read as closing and reopening: same result.
                pending = true;
                for inner in chars.by_ref() {
                    if inner == c {
                        break;
                    }
                }
            }
            ';' => {
                count += usize::from(pending);
                pending = false;
            }
            c if !c.is_whitespace() => pending = true,
            _ => {}
        }
    }
    count + usize::from(pending)
}

/// The `sql_file!("…")` paths named anywhere under `src/`.
fn files_named_in_src() -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut pending = vec![crate_root().join("src")];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read src") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                for rest in text.split("sql_file!(\"").skip(1) {
                    if let Some((name, _)) = rest.split_once('"') {
                        named.insert(format!("sql/{name}"));
                    }
                }
            }
        }
    }
    named
}

#[test]
fn every_statement_file_prepares_against_a_migrated_warehouse() {
    let dir = tempdir();
    let warehouse = Warehouse::open(&dir.path().join("w.duckdb")).expect("open a warehouse");
    let conn = warehouse.conn();
    let root = crate_root();
    let named = files_named_in_src();
    let mut checked = 0;
    let mut failures = Vec::new();
    for sub in STATEMENT_DIRS {
        for path in sql_files(&root.join("sql").join(sub)) {
            let rel = path
                .strip_prefix(&root)
                .expect("under the crate root")
                .display()
                .to_string();
            let text = std::fs::read_to_string(&path).expect("read the file");
            checked += 1;
            if !named.contains(&rel) {
                failures.push(format!("{rel}: no sql_file!(…) under src/ reads it"));
            }
            let statements = statement_count(&text);
            if statements != 1 {
                failures.push(format!("{rel}: holds {statements} statements, not one"));
                continue;
            }
            match conn.prepare(&text) {
                Err(e) => failures.push(format!("{rel}: does not prepare: {e}")),
                Ok(stmt) => {
                    let (bound, listed) = (stmt.parameter_count(), documented_parameters(&text));
                    if bound != listed {
                        failures.push(format!(
                            "{rel}: binds {bound} parameters, its header lists {listed}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        checked >= 15,
        "found only {checked} files under sql/report and sql/cli"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn two_statements_or_a_typo_are_caught() {
    // The check above relies on these; if they passed, it would pass broken files.
    assert_eq!(statement_count("SELECT 1; SELECT 2;"), 2);
    assert_eq!(statement_count("SELECT 1;\nSELECT 2"), 2);
    assert_eq!(
        statement_count("-- a; b\nSELECT ';', \"x;y\" FROM t; -- done;\n"),
        1
    );
    assert_eq!(statement_count("-- only a comment;\n"), 0);
    let dir = tempdir();
    let warehouse = Warehouse::open(&dir.path().join("w.duckdb")).expect("open a warehouse");
    let conn = warehouse.conn();
    for broken in [
        "SELEC bot_id FROM known_bots;",
        "SELECT * FROM revenue_typo(0, 1, 'eur');",
        "SELECT no_such_column FROM bot_settings;",
    ] {
        assert!(conn.prepare(broken).is_err(), "prepared: {broken}");
    }
    let stmt = conn
        .prepare("SELECT $1 || ' ' || period FROM orders_count($1, $2, 'eur', bot := $3);")
        .expect("prepares");
    assert_eq!(stmt.parameter_count(), 3, "a repeated $1 is one parameter");
    assert_eq!(
        documented_parameters("-- Parameters: $1 unit, $2 count\n-- $3 bot_id.\nSELECT 1"),
        3
    );
}
