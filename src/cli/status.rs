//! `tgm-sync status`: the last runs, row counts per table, and each stream's state.

use std::path::PathBuf;

use arrow::util::pretty::pretty_format_batches;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::Failure;
use super::settings::SettingsArgs;
use crate::exit::Exit;
use crate::warehouse::error::DbContext;
use crate::warehouse::{Warehouse, schema};

const STATUS_SQL: &str = include_str!("../../sql/status.sql");

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

/// The titled queries of `sql/status.sql`.
fn queries() -> Vec<(String, String)> {
    STATUS_SQL
        .split("-- title: ")
        .skip(1)
        .filter_map(|chunk| {
            let (title, sql) = chunk.split_once('\n')?;
            Some((
                title.trim().to_string(),
                sql.trim().trim_end_matches(';').to_string(),
            ))
        })
        .collect()
}

pub fn run(config: Option<PathBuf>, args: StatusArgs) -> Result<Exit, Failure> {
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
