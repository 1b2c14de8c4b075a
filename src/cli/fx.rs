//! `tgm-sync fx import FILE.csv`: exchange rates of your own, which take precedence over
//! the rates each sync reads off the API (see `fx_effective` in `sql/reports.sql`).
//!
//! The file has a header and one rate per line:
//! `from_currency,to_currency,rate[,as_of]` — 1 unit of `from_currency` is `rate` units
//! of `to_currency`; `as_of` is an RFC 3339 time or UNIX seconds (default: now).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Failure;
use super::settings::SettingsArgs;
use crate::bot_id::BotId;
use crate::currency::Currency;
use crate::exit::Exit;
use crate::money::Amount;
use crate::sql_files::sql_file;
use crate::warehouse::Warehouse;
use crate::warehouse::error::DbContext;
use crate::warehouse::inputs::{ImportRow, import_rates};

#[derive(Debug, Clone, Args)]
pub struct FxArgs {
    #[command(subcommand)]
    pub command: FxCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum FxCommand {
    /// Import rates from a CSV file (from_currency,to_currency,rate[,as_of]).
    Import {
        /// The CSV file.
        file: PathBuf,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

/// One imported rate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImportedRate {
    pub from: String,
    pub to: Currency,
    pub rate: Amount,
    pub as_of_micros: i64,
}

/// Reads and checks the whole file first: nothing is imported if any line is wrong.
pub(crate) fn read_rates(path: &Path, now_micros: i64) -> Result<Vec<ImportedRate>, Failure> {
    let bad = |line: usize, what: String| {
        Failure::new(
            Exit::Config,
            format!("{} line {line}: {what}", path.display()),
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Failure::new(Exit::Config, format!("cannot read {}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(from_col), Some(to_col), Some(rate_col)) = (
        column("from_currency"),
        column("to_currency"),
        column("rate"),
    ) else {
        return Err(bad(
            1,
            format!(
                "expected the header from_currency,to_currency,rate[,as_of], got {}",
                headers.join(",")
            ),
        ));
    };
    let as_of_col = column("as_of");
    let mut rates = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| bad(line, e.to_string()))?;
        let field = |c: usize| record.get(c).unwrap_or("").to_string();
        let from = field(from_col).to_ascii_uppercase();
        if from.len() != 3 || !from.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad(
                line,
                format!("from_currency `{from}` is not a currency code"),
            ));
        }
        let to: Currency = field(to_col)
            .parse()
            .map_err(|e| bad(line, format!("to_currency: {e}")))?;
        let rate = Amount::parse(&field(rate_col)).map_err(|e| bad(line, format!("rate: {e}")))?;
        if rate <= Amount::ZERO {
            return Err(bad(line, format!("rate `{rate}` must be positive")));
        }
        let as_of_micros = match as_of_col.map(field).filter(|s| !s.is_empty()) {
            None => now_micros,
            Some(text) => match text.parse::<i64>() {
                Ok(secs) => secs.saturating_mul(1_000_000),
                Err(_) => chrono::DateTime::parse_from_rfc3339(&text)
                    .map_err(|e| bad(line, format!("as_of `{text}`: {e}")))?
                    .timestamp_micros(),
            },
        };
        rates.push(ImportedRate {
            from,
            to,
            rate,
            as_of_micros,
        });
    }
    if rates.is_empty() {
        return Err(bad(2, "no rates in the file".into()));
    }
    Ok(rates)
}

pub(crate) fn run(config: Option<PathBuf>, args: FxArgs) -> Result<Exit, Failure> {
    let FxCommand::Import { file, settings } = args.command;
    let settings = settings.resolve_without_keys(config.as_deref())?;
    let rates = read_rates(&file, crate::clock::now_micros())?;
    let warehouse = Warehouse::open_with(&settings.warehouse, &settings.storage_version)?;
    let conn = warehouse.conn();
    let bots: Vec<BotId> = if settings.bot_ids.is_empty() {
        let mut stmt = conn
            .prepare(sql_file!("cli/synced_bots.sql").text)
            .during(|| "listing bots".into())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, BotId>(0))
            .during(|| "listing bots".into())?;
        rows.collect::<Result<_, _>>()
            .during(|| "listing bots".into())?
    } else {
        settings.bot_ids.clone()
    };
    if bots.is_empty() {
        return Err(Failure::new(
            Exit::Config,
            "no bot to import rates for: pass --bot-id or sync first",
        ));
    }
    let rows: Vec<ImportRow> = rates
        .iter()
        .map(|r| ImportRow {
            from: r.from.clone(),
            to: r.to.code().to_string(),
            rate: r.rate.to_string(),
            as_of_micros: r.as_of_micros,
        })
        .collect();
    import_rates(conn, &bots, &rows)?;
    println!(
        "imported {} rates for {} bot(s); they take precedence over the API's",
        rates.len(),
        bots.len()
    );
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("rates.csv");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn reads_rates_and_names_bad_lines() {
        let (_d, path) = write(
            "from_currency,to_currency,rate,as_of\nEUR,usd,1.0934,\nrub, btc ,0.000000112,1700000000\n",
        );
        let rates = read_rates(&path, 42).expect("valid");
        assert_eq!(rates.len(), 2);
        assert_eq!(rates[0].to, Currency::Usd);
        assert_eq!(rates[0].as_of_micros, 42);
        assert_eq!(rates[1].rate.to_string(), "0.000000112");
        assert_eq!(rates[1].as_of_micros, 1_700_000_000_000_000);

        let (_d, path) = write("from_currency,to_currency,rate\nEUR,xyz,1\n");
        let err = read_rates(&path, 0).expect_err("bad currency");
        assert!(
            err.message.contains("line 2") && err.message.contains("xyz"),
            "{}",
            err.message
        );
        let (_d, path) = write("from_currency,to_currency,rate\nEUR,usd,-1\n");
        assert!(
            read_rates(&path, 0)
                .expect_err("negative")
                .message
                .contains("positive")
        );
        let (_d, path) = write("a,b\n1,2\n");
        assert!(
            read_rates(&path, 0)
                .expect_err("header")
                .message
                .contains("header")
        );
    }
}
