//! `tgm-sync status`: the last runs, row counts per table, and each stream's state.

use std::path::PathBuf;

use arrow::util::pretty::pretty_format_batches;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::Failure;
use super::settings::SettingsArgs;
use crate::exit::Exit;
use crate::sql_files::{SqlFile, sql_file};
use crate::streams::{self, table::Layout};
use crate::warehouse::error::DbContext;
use crate::warehouse::{Warehouse, schema};

/// `status --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum StatusFormat {
    /// Titled tables for people.
    #[default]
    Text,
    /// One JSON object per line: the warehouse, then one per section with its rows.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The titled queries of `status`, in the order shown: each a file of `sql/cli/status/`
/// but the row counts, whose tables come from the stream registry.
fn queries() -> Vec<(String, String)> {
    let file = |sql: SqlFile| sql.statement().to_string();
    vec![
        (
            "Last runs".into(),
            file(sql_file!("cli/status/last_runs.sql")),
        ),
        ("Rows per table".into(), rows_per_table()),
        (
            "Stream state".into(),
            file(sql_file!("cli/status/stream_state.sql")),
        ),
        (
            "Lake tables".into(),
            file(sql_file!("cli/status/lake_tables.sql")),
        ),
        (
            "Exchange rates".into(),
            file(sql_file!("cli/status/exchange_rates.sql")),
        ),
    ]
}

/// Tables counted by `status` that no stream writes: the captured rates and the
/// rejected rows.
const OTHER_COUNTED_TABLES: [&str; 2] = ["fx_rates", "_rejected"];

/// Rows per table and bot: a merged table's live and soft-deleted rows, a snapshot
/// table's rows (none deleted), then [`OTHER_COUNTED_TABLES`]. Built at run time because
/// the tables are the stream registry's (a static file would list them by hand).
fn rows_per_table() -> String {
    let merged = |table: &str| {
        format!(
            "SELECT '{table}' AS \"table\", bot_id, \
             count(*) FILTER (WHERE _deleted_at IS NULL) AS live, \
             count(*) FILTER (WHERE _deleted_at IS NOT NULL) AS deleted FROM {table} GROUP BY bot_id"
        )
    };
    let kept = |table: &str| {
        format!(
            "SELECT '{table}' AS \"table\", bot_id, count(*) AS live, 0 AS deleted \
             FROM {table} GROUP BY bot_id"
        )
    };
    let counts: Vec<String> = streams::registry()
        .map(|def| match def.table.layout {
            Layout::Merged => merged(def.table.name),
            Layout::Snapshot => kept(def.table.name),
        })
        .chain(OTHER_COUNTED_TABLES.iter().map(|t| kept(t)))
        .collect();
    format!(
        "SELECT * FROM (\n    {}\n) ORDER BY bot_id, \"table\"",
        counts.join("\n    UNION ALL ")
    )
}

pub(crate) fn run(config: Option<PathBuf>, args: StatusArgs) -> Result<Exit, Failure> {
    let settings = args.settings.resolve_without_keys(config.as_deref())?;
    let warehouse = Warehouse::open_read_only(&settings.warehouse)?;
    let json = args.format == StatusFormat::Json;
    // A warehouse written by an older tgm-sync lacks the newer tables until a sync
    // migrates it (status reads only): say so, and skip the sections that need them.
    let latest = schema::latest_version();
    let recorded = schema::recorded_version(warehouse.conn());
    let behind = recorded.filter(|v| *v < latest);
    if json {
        println!(
            "{}",
            json!({
                "warehouse": settings.warehouse.display().to_string(),
                "schema_version": recorded,
                "schema_latest": latest,
            })
        );
    } else {
        println!("warehouse: {}", settings.warehouse.display());
        if let Some(version) = behind {
            println!(
                "schema version {version} of {latest}: `{}` migrates this warehouse; until then, \
                 sections that need newer tables are skipped",
                crate::cli::hint::command("sync")
            );
        }
    }
    for (title, sql) in queries() {
        let read = warehouse
            .conn()
            .prepare(&sql)
            .and_then(|mut stmt| stmt.query_arrow([]).map(|rows| rows.collect::<Vec<_>>()));
        let batches = match read {
            Err(_) if behind.is_some() => {
                let reason = "the warehouse predates it";
                if json {
                    println!("{}", json!({ "section": title, "skipped": reason }));
                } else {
                    println!("\n{title}\n(skipped: {reason})");
                }
                continue;
            }
            read => read.during(|| format!("reading {title}"))?,
        };
        if json {
            let rows = super::rows_json::rows(&batches)
                .map_err(|e| Failure::new(Exit::Internal, format!("formatting {title}: {e}")))?;
            println!(
                "{}",
                json!({ "section": title, "rows": Value::Array(rows) })
            );
        } else {
            let table = pretty_format_batches(&batches)
                .map_err(|e| Failure::new(Exit::Internal, format!("formatting {title}: {e}")))?;
            println!("\n{title}\n{table}");
        }
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_per_table_counts_every_table_of_the_registry() {
        let sql = super::rows_per_table();
        for def in crate::streams::registry() {
            let from = format!("FROM {} GROUP BY bot_id", def.table.name);
            assert_eq!(sql.matches(&from).count(), 1, "{from} in {sql}");
        }
        for table in super::OTHER_COUNTED_TABLES {
            assert!(
                sql.contains(&format!("FROM {table} GROUP BY bot_id")),
                "{sql}"
            );
        }
    }

    #[test]
    fn status_sql_has_five_titled_queries() {
        let titles: Vec<String> = super::queries().into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            titles,
            [
                "Last runs",
                "Rows per table",
                "Stream state",
                "Lake tables",
                "Exchange rates"
            ]
        );
    }
}
