//! The map holds: each folder of `src/` imports only what ARCHITECTURE.md's import table
//! allows, transactions open only in the warehouse stage (`src/warehouse/`), and no source
//! file is longer than [`MAX_FILE_LINES`]. Read from the source tree; a violation is named
//! by file and line (or line count).

use std::path::{Path, PathBuf};

/// Importable by every folder but `sim`: exact amounts, currencies, the bot id, the key,
/// the clock, the SQL files, exit codes and the API's integer arithmetic.
const FOUNDATIONS: &[&str] = &[
    "money",
    "bot_id",
    "currency",
    "secret",
    "clock",
    "sql_files",
    "exit",
    "quoted",
];

/// Where a folder may reach with `crate::…`, as ARCHITECTURE.md's table says.
enum Allowed {
    /// Foundations and these folders.
    Foundations(&'static [&'static str]),
    /// These folders only (not even the foundations).
    Only(&'static [&'static str]),
    /// The top: anything.
    Anything,
}

/// ARCHITECTURE.md's "Import directions" table, top-level module by top-level module.
const TABLE: &[(&str, Allowed)] = &[
    ("sim", Allowed::Only(&["clock", "currency", "quoted"])),
    ("api", Allowed::Foundations(&[])),
    ("streams", Allowed::Foundations(&["api"])),
    ("warehouse", Allowed::Foundations(&["streams"])),
    ("mirror", Allowed::Foundations(&["streams", "warehouse"])),
    (
        "lake",
        Allowed::Foundations(&["streams", "warehouse", "mirror"]),
    ),
    (
        "config",
        Allowed::Foundations(&["api", "streams", "warehouse", "lake"]),
    ),
    ("error", Allowed::Foundations(&["api", "warehouse"])),
    (
        "fx",
        Allowed::Foundations(&["api", "streams", "warehouse", "config", "error"]),
    ),
    (
        "sync",
        Allowed::Foundations(&[
            "api",
            "streams",
            "warehouse",
            "mirror",
            "lake",
            "fx",
            "config",
            "error",
            "progress",
        ]),
    ),
    (
        "report",
        Allowed::Foundations(&["api", "streams", "warehouse", "fx"]),
    ),
    ("progress", Allowed::Foundations(&[])),
    ("logging", Allowed::Foundations(&["progress"])),
    ("money", Allowed::Foundations(&[])),
    ("bot_id", Allowed::Foundations(&[])),
    ("currency", Allowed::Foundations(&[])),
    ("secret", Allowed::Foundations(&[])),
    ("clock", Allowed::Foundations(&[])),
    ("sql_files", Allowed::Foundations(&[])),
    ("exit", Allowed::Foundations(&[])),
    ("quoted", Allowed::Foundations(&[])),
    ("cli", Allowed::Anything),
    ("lib", Allowed::Anything),
    ("main", Allowed::Anything),
];

/// The most lines a `.rs` file under `src/` may have (test modules and `*_tests.rs`
/// files included): past it, a file holds more than one job.
const MAX_FILE_LINES: usize = 600;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("read src dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level module a file belongs to: `src/lake/mod.rs` and `src/config.rs` → `lake`,
/// `config`.
fn folder_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .expect("a path under src")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// The lines a file builds into the library (1-based number, text): comments and
/// `#[cfg(test)]` modules (at the end of each file, the house style) left out; a file
/// that is a test module of its own (`*tests.rs`) has none.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    if path.to_string_lossy().ends_with("tests.rs") {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).expect("read source");
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        lines.push((i + 1, line.to_string()));
    }
    lines
}

/// The top-level modules a line names through `crate::` (`crate::{a, b::c}` included).
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` (a macro's own path) names the crate root's macros, not a folder.
        let macro_path = rest[..at].ends_with('$');
        let after = &rest[at + "crate::".len()..];
        if !macro_path {
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for part in inner.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.push(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        }
        rest = after;
    }
    found
}

/// Whether `folder` may import `target` by the table; `Err` when `folder` is not in it.
fn allowed(folder: &str, target: &str) -> Result<bool, String> {
    let Some((_, rule)) = TABLE.iter().find(|(f, _)| *f == folder) else {
        return Err(format!(
            "src/{folder} is not in the import table (tests/it/structure.rs, ARCHITECTURE.md)"
        ));
    };
    Ok(target == folder
        || match rule {
            Allowed::Anything => true,
            Allowed::Only(list) => list.contains(&target),
            Allowed::Foundations(list) => FOUNDATIONS.contains(&target) || list.contains(&target),
        })
}

/// Every import against the table, as `file:line: folder imports target: text`.
fn import_violations(root: &Path) -> Vec<String> {
    let modules: Vec<String> = rust_files(root)
        .iter()
        .map(|p| folder_of(p.strip_prefix(root).expect("under src")))
        .collect();
    let mut violations = Vec::new();
    for path in rust_files(root) {
        let relative = path.strip_prefix(root).expect("under src");
        let folder = folder_of(relative);
        for (number, line) in code_lines(&path) {
            for target in crate_paths(&line) {
                // Macros exported at the crate root (`crate::staged_row!`) are no folder.
                if !modules.contains(&target) {
                    continue;
                }
                match allowed(&folder, &target) {
                    Ok(true) => {}
                    Ok(false) => violations.push(format!(
                        "src/{}:{number}: {folder} imports {target}: {}",
                        relative.display(),
                        line.trim()
                    )),
                    Err(unknown) => {
                        violations.push(format!("src/{}:{number}: {unknown}", relative.display()))
                    }
                }
            }
        }
    }
    violations
}

/// Whether `word` stands alone in `line` (not part of an identifier such as `MAX_COMMIT`).
fn has_word(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Every transaction opened outside `src/warehouse/` (Rust code, and SQL files under `sql/`).
fn transaction_violations(root: &Path, sql: &Path) -> Vec<String> {
    let opens = |line: &str| {
        line.contains("unchecked_transaction")
            || line.contains(".transaction(")
            || has_word(line, "BEGIN")
            || has_word(line, "COMMIT")
    };
    let mut violations = Vec::new();
    for path in rust_files(root) {
        let relative = path.strip_prefix(root).expect("under src");
        if folder_of(relative) == "warehouse" {
            continue;
        }
        for (number, line) in code_lines(&path) {
            if opens(&line) {
                violations.push(format!(
                    "src/{}:{number}: a transaction outside src/warehouse/: {}",
                    relative.display(),
                    line.trim()
                ));
            }
        }
    }
    let mut sql_files = Vec::new();
    let mut dirs = vec![sql.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("read sql dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "sql") {
                sql_files.push(path);
            }
        }
    }
    sql_files.sort();
    for path in sql_files {
        let text = std::fs::read_to_string(&path).expect("read sql");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("--").next().unwrap_or("").to_uppercase();
            if has_word(&code, "BEGIN") || has_word(&code, "COMMIT") {
                violations.push(format!(
                    "{}:{}: a transaction in a SQL file (they open in src/warehouse/): {}",
                    path.display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    violations
}

/// Every `.rs` file under `root` longer than `max` lines, as `src/file: n lines`.
fn long_files(root: &Path, max: usize) -> Vec<String> {
    rust_files(root)
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path)
                .expect("read source")
                .lines()
                .count();
            (lines > max).then(|| {
                let relative = path.strip_prefix(root).expect("under src");
                format!("src/{}: {lines} lines", relative.display())
            })
        })
        .collect()
}

#[test]
fn every_folder_imports_only_what_the_architecture_table_allows() {
    let violations = import_violations(&src());
    assert!(
        violations.is_empty(),
        "imports against the stages (ARCHITECTURE.md, \"Import directions\"):\n{}",
        violations.join("\n")
    );
}

#[test]
fn transactions_open_only_in_the_warehouse_stage() {
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let violations = transaction_violations(&src(), &sql);
    assert!(
        violations.is_empty(),
        "transactions outside src/warehouse/:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_source_file_is_longer_than_600_lines() {
    let violations = long_files(&src(), MAX_FILE_LINES);
    assert!(
        violations.is_empty(),
        "source files over {MAX_FILE_LINES} lines (split them along their seams, one job \
         a file):\n{}",
        violations.join("\n")
    );
}

/// The checks see what they look for: a tree with one import against the table, one
/// transaction outside the warehouse and one file too long gives exactly those, by file
/// and line (or line count).
#[test]
fn the_structure_checks_name_a_violation_by_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("src");
    let sql = dir.path().join("sql");
    for (file, text) in [
        (
            "lake/mod.rs",
            "//! The lake.\nuse crate::streams::table::TableSpec;\nuse crate::config::LakeSettings;\n",
        ),
        (
            "streams/orders.rs",
            "// crate::progress in a comment is no import\nuse crate::{api::ApiClient, progress::PhaseLine};\n",
        ),
        (
            "sync/mod.rs",
            "fn f(c: &Connection) {\n    let tx = c.unchecked_transaction();\n    let max = MAX_COMMIT_ATTEMPTS;\n}\n#[cfg(test)]\nmod tests {\n    use crate::cli::run;\n}\n",
        ),
        (
            "warehouse/stream.rs",
            "fn g(c: &Connection) { c.execute_batch(\"BEGIN TRANSACTION\"); }\n",
        ),
        ("api/mod.rs", ""),
        ("warehouse/mod.rs", ""),
        ("config.rs", ""),
        ("progress/mod.rs", ""),
        ("cli/mod.rs", ""),
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    std::fs::create_dir_all(sql.join("sync")).expect("mkdir");
    std::fs::write(
        sql.join("sync/step.sql"),
        "-- COMMIT in a comment\nCOMMIT;\n",
    )
    .expect("write");
    assert_eq!(
        import_violations(&root),
        [
            "src/lake/mod.rs:3: lake imports config: use crate::config::LakeSettings;",
            "src/streams/orders.rs:2: streams imports progress: use crate::{api::ApiClient, progress::PhaseLine};",
        ]
    );
    let transactions = transaction_violations(&root, &sql);
    assert_eq!(transactions.len(), 2, "{transactions:?}");
    assert!(transactions[0].starts_with("src/sync/mod.rs:2: a transaction outside src/warehouse/"));
    assert!(transactions[1].ends_with(
        "sync/step.sql:2: a transaction in a SQL file (they open in src/warehouse/): COMMIT;"
    ));
    // `sync/mod.rs` has 8 lines, `lake/mod.rs` 3: a limit of 5 names the first alone, with
    // its count; a limit of 8 names none.
    assert_eq!(long_files(&root, 5), ["src/sync/mod.rs: 8 lines"]);
    assert_eq!(long_files(&root, 8), Vec::<String>::new());
}

/// ARCHITECTURE.md's "Import directions" table says what [`TABLE`] enforces: the same
/// folders, each with the same imports (foundations aside).
#[test]
fn the_architecture_table_is_the_enforced_one() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .expect("read ARCHITECTURE.md");
    let section = text
        .split("## Import directions")
        .nth(1)
        .expect("an \"Import directions\" section");
    let mut documented: Vec<(String, Vec<String>)> = Vec::new();
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || cells[1] == "folder" || cells[1].starts_with("---") {
            continue;
        }
        // "clock, currency, quoted (nothing else)": the names, without the remarks.
        let names = cells[2].split('(').next().unwrap_or("");
        let imports: Vec<String> = names
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "—")
            .collect();
        for folder in cells[1].split(',') {
            let folder = folder
                .trim()
                .trim_matches('`')
                .trim_end_matches(".rs")
                .to_string();
            documented.push((folder, imports.clone()));
        }
    }
    let mut enforced: Vec<(String, Vec<String>)> = TABLE
        .iter()
        .map(|(folder, rule)| {
            let imports = match rule {
                Allowed::Foundations(list) | Allowed::Only(list) => {
                    list.iter().map(|s| s.to_string()).collect()
                }
                Allowed::Anything => vec!["everything".to_string()],
            };
            (folder.to_string(), imports)
        })
        .filter(|(folder, _)| !FOUNDATIONS.contains(&folder.as_str()))
        .collect();
    let mut documented_sorted = documented;
    documented_sorted.iter_mut().for_each(|(_, v)| v.sort());
    enforced.iter_mut().for_each(|(_, v)| v.sort());
    documented_sorted.sort();
    enforced.sort();
    assert_eq!(documented_sorted, enforced);
}

/// The first words of a SQL statement: a string literal in `src/` that starts with one of
/// them (upper case, then a blank) holds statement text.
const SQL_OPENINGS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "WITH",
    "COPY",
    "DROP",
    "ALTER",
    "SET",
    "PRAGMA",
    "ATTACH",
    "DETACH",
    "INSTALL",
    "LOAD",
    "EXPORT",
    "IMPORT",
    "MERGE",
    "TRUNCATE",
    "VACUUM",
    "CHECKPOINT",
    "SUMMARIZE",
    "DESCRIBE",
    "EXPLAIN",
];

/// The files of `src/` that build SQL at run time, from names a `TableSpec` (or the stream
/// registry) holds, with why. In them, a literal that interpolates (`format!`'s `{…}`) is
/// a template; a fixed statement is still one for `sql/`.
const DYNAMIC_SQL_BUILDERS: &[(&str, &str)] = &[
    (
        "warehouse/merge.rs",
        "stage, merge and mark each table of its TableSpec",
    ),
    (
        "warehouse/stream.rs",
        "re-read orders joined against the orders table's spec",
    ),
    ("warehouse/state.rs", "live rows of a table of the registry"),
    (
        "warehouse/lake_marks.rs",
        "a table's partitions, by its partition expression",
    ),
    ("streams/table.rs", "a table's staging DDL from its columns"),
    ("streams/mod.rs", "a column type's check, per declared type"),
    ("mirror/mod.rs", "a table's rows per Parquet partition"),
    ("lake/datafile.rs", "a table's export query, by its spec"),
    (
        "report/render.rs",
        "a report's statement wrapped to cast its columns to text",
    ),
    ("cli/status.rs", "the row counts of the registry's tables"),
];

/// The string literals of Rust source that build into the library (tests left out, as
/// [`code_lines`] does): `(line, contents)`, raw strings and escapes read as written.
fn string_literals(text: &str) -> Vec<(usize, String)> {
    let code = match text.find("\n#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    let mut found = Vec::new();
    let line_of = |upto: usize| 1 + bytes[..upto].iter().filter(|c| **c == '\n').count();
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < bytes.len() && bytes[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            '\'' => {
                // A char literal ('"', '\'', 'x') is skipped; a lifetime ('a) is not one.
                if next == Some('\\') {
                    i += 2;
                    while i < bytes.len() && bytes[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if bytes.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            'r' if (next == Some('"') || next == Some('#'))
                && (i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while bytes.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if bytes.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                let start = j + 1;
                let closing = format!("\"{}", "#".repeat(hashes));
                let rest: String = bytes[start..].iter().collect();
                let len = rest.find(&closing).unwrap_or(rest.len());
                found.push((line_of(start), rest[..len].to_string()));
                i = start + rest[..len].chars().count() + closing.chars().count();
            }
            '"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != '"' {
                    if bytes[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
                found.push((
                    line_of(start),
                    bytes[start..j.min(bytes.len())].iter().collect(),
                ));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    found
}

/// Whether a literal's text is (the start of) a SQL statement.
fn is_sql_statement(literal: &str) -> bool {
    let text = literal.trim_start_matches(|c: char| c.is_whitespace() || c == '\\');
    SQL_OPENINGS.iter().any(|word| {
        text.strip_prefix(word)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_whitespace() || c == '\\'))
    })
}

/// Every string literal under `root` that holds static SQL statement text, as
/// `src/file:line: text`: anywhere but in [`DYNAMIC_SQL_BUILDERS`], and there when it
/// interpolates nothing.
fn static_sql_violations(root: &Path) -> Vec<String> {
    let mut violations = Vec::new();
    for path in rust_files(root) {
        let relative = path.strip_prefix(root).expect("under src");
        let name = relative.display().to_string();
        if name.ends_with("tests.rs") {
            continue;
        }
        let builder = DYNAMIC_SQL_BUILDERS.iter().any(|(f, _)| *f == name);
        let text = std::fs::read_to_string(&path).expect("read source");
        for (number, literal) in string_literals(&text) {
            if is_sql_statement(&literal) && !(builder && literal.contains('{')) {
                let first = literal
                    .lines()
                    .map(|l| l.trim().trim_end_matches('\\').trim())
                    .find(|l| !l.is_empty())
                    .unwrap_or("");
                violations.push(format!("src/{name}:{number}: SQL outside sql/: {first}"));
            }
        }
    }
    violations
}

#[test]
fn static_sql_lives_in_sql_files() {
    let violations = static_sql_violations(&src());
    assert!(
        violations.is_empty(),
        "static statements belong in a file of sql/, read with sql_file! (or the file builds \
         SQL from a TableSpec: DYNAMIC_SQL_BUILDERS in tests/it/structure.rs):\n{}",
        violations.join("\n")
    );
}

/// The check sees statement text in every form of literal, and only there: a tree with
/// one statement per kind of literal gives those, by file and line.
#[test]
fn the_static_sql_check_names_a_statement_by_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("src");
    for (file, text) in [
        (
            "fx/windows.rs",
            "// \"SELECT 1\" in a comment is no statement\nconst Q: &str =\n    \"SELECT t FROM orders\";\nconst C: char = '\"'; const M: &str = \"DELETE\";\nfn f() { let _ = r#\"\n  INSERT INTO x VALUES (1)\"#; }\n",
        ),
        (
            "warehouse/merge.rs",
            "fn g(t: &str) -> String { format!(\"DELETE FROM {t}\") }\nfn h() -> &'static str { \"DROP TABLE x\" }\n",
        ),
        (
            "warehouse/open.rs",
            "const S: &str = \"SET a = false; SET b = false;\";\n#[cfg(test)]\nmod tests { const T: &str = \"SELECT 2\"; }\n",
        ),
        ("sim/server_tests.rs", "const Q: &str = \"SELECT 3\";\n"),
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    assert_eq!(
        static_sql_violations(&root),
        [
            "src/fx/windows.rs:3: SQL outside sql/: SELECT t FROM orders",
            "src/fx/windows.rs:5: SQL outside sql/: INSERT INTO x VALUES (1)",
            "src/warehouse/merge.rs:2: SQL outside sql/: DROP TABLE x",
            "src/warehouse/open.rs:1: SQL outside sql/: SET a = false; SET b = false;",
        ]
    );
}
