//! Every file under `sql/`: a statement file prepares against a freshly migrated warehouse
//! file (report layer installed), is one statement, and binds as many parameters as its
//! header lists (`$1`…); the scripts (migrations, the report layer, the connection setup)
//! are known by name. Every file is read by the code, through `sql_file!`, from the source
//! folder of its stage (`sql/warehouse/…` from `src/warehouse/`, …). A broken file fails
//! here rather than only when its statement runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tgm_sync::warehouse::Warehouse;

use crate::support::tempdir;

/// The files of `sql/` that are scripts (several statements, run with `execute_batch`)
/// besides the numbered migrations `sql/NNN_*.sql`.
const SCRIPTS: [&str; 2] = ["sql/reports.sql", "sql/warehouse/connection_setup.sql"];

/// Whether `rel` (e.g. `sql/001_schema.sql`) is a script rather than one statement.
fn is_script(rel: &str) -> bool {
    let migration = rel
        .strip_prefix("sql/")
        .is_some_and(|name| !name.contains('/') && name.starts_with(|c: char| c.is_ascii_digit()));
    migration || SCRIPTS.contains(&rel)
}

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

/// The `sql_file!("…")` paths named under `src/`, each with the source files (relative to
/// `src/`) that name it.
fn files_named_in_src() -> BTreeMap<String, BTreeSet<String>> {
    let src = crate_root().join("src");
    let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![src.clone()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read src") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                let reader = path
                    .strip_prefix(&src)
                    .expect("under src")
                    .display()
                    .to_string();
                for rest in text.split("sql_file!(\"").skip(1) {
                    if let Some((name, _)) = rest.split_once('"') {
                        named
                            .entry(format!("sql/{name}"))
                            .or_default()
                            .insert(reader.clone());
                    }
                }
            }
        }
    }
    named
}

/// Whether a file of `sql/` is read from the source folder of its stage: `sql/a/b/x.sql`
/// from `src/a/b/` (or below), `sql/a/x.sql` from `src/a/` or `src/a.rs`; a file at the
/// root of `sql/` (migrations, the report layer) from anywhere.
fn read_from_its_stage(rel: &str, readers: &BTreeSet<String>) -> bool {
    let Some((stage, _)) = rel
        .strip_prefix("sql/")
        .and_then(|name| name.rsplit_once('/'))
    else {
        return true;
    };
    readers
        .iter()
        .any(|r| r.starts_with(&format!("{stage}/")) || *r == format!("{stage}.rs"))
}

/// The first word of a statement, its comments skipped (`CREATE`, `SELECT`, …).
fn first_word(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("")
        .to_uppercase()
}

#[test]
fn every_statement_file_prepares_against_a_migrated_warehouse() {
    let dir = tempdir();
    let warehouse = Warehouse::open(&dir.path().join("w.duckdb")).expect("open a warehouse");
    let conn = warehouse.conn();
    let root = crate_root();
    let named = files_named_in_src();
    let files: Vec<(String, String)> = sql_files(&root.join("sql"))
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&root)
                .expect("under the crate root")
                .display()
                .to_string();
            let text = std::fs::read_to_string(&path).expect("read the file");
            (rel, text)
        })
        .collect();
    let mut failures = Vec::new();
    for (rel, _) in &files {
        match named.get(rel) {
            None => failures.push(format!("{rel}: no sql_file!(…) under src/ reads it")),
            Some(readers) if !read_from_its_stage(rel, readers) => failures.push(format!(
                "{rel}: read from {readers:?}, not from the source folder of its stage"
            )),
            Some(_) => {}
        }
    }
    for name in named.keys() {
        if !files.iter().any(|(rel, _)| rel == name) {
            failures.push(format!("{name}: named by sql_file!(…) but not under sql/"));
        }
    }
    // The temporary tables the statements work on are created first (their statements
    // are idempotent: `CREATE OR REPLACE TEMP TABLE`, `CREATE TABLE IF NOT EXISTS`).
    for (rel, text) in &files {
        if !is_script(rel)
            && first_word(text) == "CREATE"
            && let Err(e) = conn.execute_batch(text)
        {
            failures.push(format!("{rel}: does not run: {e}"));
        }
    }
    let mut checked = 0;
    for (rel, text) in files.iter().filter(|(rel, _)| !is_script(rel)) {
        checked += 1;
        let statements = statement_count(text);
        if statements != 1 {
            failures.push(format!("{rel}: holds {statements} statements, not one"));
            continue;
        }
        if text
            .lines()
            .any(|l| !l.trim_start().starts_with("--") && l.contains('?'))
        {
            failures.push(format!(
                "{rel}: binds with `?`: parameters are `$n`, listed in the header"
            ));
        }
        match conn.prepare(text) {
            Err(e) => failures.push(format!("{rel}: does not prepare: {e}")),
            Ok(stmt) => {
                let (bound, listed) = (stmt.parameter_count(), documented_parameters(text));
                if bound != listed {
                    failures.push(format!(
                        "{rel}: binds {bound} parameters, its header lists {listed}"
                    ));
                }
            }
        }
    }
    let scripts = files.iter().filter(|(rel, _)| is_script(rel)).count();
    assert!(
        checked >= 65 && scripts >= 11,
        "found only {checked} statement files and {scripts} scripts under sql/"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The stage rule and the script list read paths as they should.
#[test]
fn a_file_is_placed_by_the_folder_that_reads_it() {
    let readers = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert!(read_from_its_stage(
        "sql/warehouse/reject.sql",
        &readers(&["warehouse/state.rs"])
    ));
    assert!(read_from_its_stage(
        "sql/sync/orders/pending_due.sql",
        &readers(&["sync/orders/mod.rs"])
    ));
    assert!(!read_from_its_stage(
        "sql/sync/orders/pending_due.sql",
        &readers(&["sync/mod.rs"])
    ));
    assert!(!read_from_its_stage(
        "sql/warehouse/fx_import.sql",
        &readers(&["fx/windows.rs", "warehouse_tests.rs"])
    ));
    assert!(read_from_its_stage(
        "sql/reports.sql",
        &readers(&["warehouse/schema.rs"])
    ));
    assert!(is_script("sql/001_schema.sql") && is_script("sql/reports.sql"));
    assert!(!is_script("sql/warehouse/reject.sql") && !is_script("sql/cli/status/last_runs.sql"));
    assert_eq!(
        first_word("-- a comment\n\ncreate temp table t (x INT);"),
        "CREATE"
    );
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
