//! The README's configuration table against the settings' one declaration
//! (`src/config/declared.rs`): same keys, variables, flags, defaults and meanings.

use tgm_sync::config::{DECLARED, readme_rows};

/// The rows of the README's "Configuration reference" table.
fn readme_table() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md readable");
    let section = readme
        .split("## Configuration reference")
        .nth(1)
        .expect("a Configuration reference section");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_configuration_table_is_the_declarations() {
    let table = readme_table();
    assert!(table.len() > DECLARED.len(), "table: {table:#?}");
    let missing: Vec<String> = readme_rows()
        .into_iter()
        .filter(|row| !table.contains(row))
        .collect();
    assert!(
        missing.is_empty(),
        "the README's configuration table lacks these rows, as declared:\n{}",
        missing.join("\n")
    );
    // No row for a setting key that is not declared (the other rows are the config
    // file itself, keys, bots, streams and process-wide knobs, whose key column is `—`).
    let keyed_by_hand = ["`[[bots]] bot_id`", "`[[bots]] api_key_file`", "`streams`"];
    for row in &table[2..] {
        let key = row.split('|').nth(1).map(str::trim).unwrap_or("");
        if key == "—" || keyed_by_hand.contains(&key) {
            continue;
        }
        assert!(
            DECLARED.iter().any(|d| format!("`{}`", d.key) == key),
            "README row for an undeclared setting {key}: {row}"
        );
    }
}
