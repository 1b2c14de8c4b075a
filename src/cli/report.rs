//! `tgm-sync report NAME`: a report from the warehouse, without the API (no key needed).

use std::io::Write;
use std::path::PathBuf;

use arrow::util::pretty::pretty_format_batches;
use clap::{Args, ValueEnum};

use super::Failure;
use super::settings::SettingsArgs;
use crate::bot_id::BotId;
use crate::currency::Currency;
use crate::exit::Exit;
use crate::report::render::{ReportName, ReportRequest, Unit, write_csv};
use crate::sql_files::sql_file;
use crate::warehouse::Warehouse;
use crate::warehouse::error::DbContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for people.
    Table,
    /// The API's JSON `result` (money as full-precision strings).
    Json,
    /// CSV with a header line (plans: one line per plan and per month).
    Csv,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// revenue | orders-count | plans | payment-methods | users-count
    #[arg(value_name = "NAME")]
    pub name: String,
    /// One of usd eur gbp cad aud nzd jpy cny rub brl inr try btc (default: the bot's
    /// preferred currency, EUR when it has none).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// revenue: start, inclusive (UNIX seconds, YYYY-MM-DD or RFC 3339; default: the beginning).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// revenue: end, exclusive (UNIX seconds, YYYY-MM-DD or RFC 3339; default: now).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// orders-count: day, month or year.
    #[arg(long, value_name = "UNIT", default_value = "month")]
    pub unit: String,
    /// orders-count: how many periods, the current one included.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: u32,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// UNIX seconds, a UTC date (midnight) or an RFC 3339 time.
fn parse_time(flag: &str, text: &str) -> Result<i64, Failure> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(at.timestamp());
    }
    if let Some(midnight) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(midnight.and_utc().timestamp());
    }
    Err(Failure::new(
        Exit::Config,
        format!("--{flag} `{text}`: expected UNIX seconds, YYYY-MM-DD or an RFC 3339 time"),
    ))
}

/// The one bot to report on: the one asked for, else the warehouse's only bot.
fn pick_bot(asked: &[BotId], known: &[BotId]) -> Result<BotId, Failure> {
    let list = || {
        known
            .iter()
            .map(BotId::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (asked, known) {
        ([one], _) => {
            if known.contains(one) {
                Ok(*one)
            } else {
                Err(Failure::new(
                    Exit::Config,
                    format!(
                        "bot {one} is not in this warehouse (it holds: {}); sync it first",
                        if known.is_empty() {
                            "no bots".to_string()
                        } else {
                            list()
                        }
                    ),
                ))
            }
        }
        ([], [one]) => Ok(*one),
        ([], []) => Err(Failure::new(
            Exit::Config,
            format!(
                "the warehouse holds no bot yet: run `{}` first",
                crate::cli::hint::command("sync")
            ),
        )),
        ([], _) => Err(Failure::new(
            Exit::Config,
            format!(
                "the warehouse holds several bots ({}): choose one with --bot-id",
                list()
            ),
        )),
        (_, _) => Err(Failure::new(
            Exit::Config,
            "a report shows one bot: give a single --bot-id",
        )),
    }
}

/// Checks every argument before the warehouse is opened; the request is complete once
/// the bot is known (the warehouse says which bots it holds).
fn request(args: &ReportArgs, now: i64) -> Result<impl FnOnce(BotId) -> ReportRequest, Failure> {
    let name: ReportName =
        args.name
            .parse()
            .map_err(|e: crate::report::render::UnknownReport| {
                Failure::new(Exit::Config, e.to_string())
            })?;
    let currency = args
        .currency
        .as_deref()
        .map(str::parse::<Currency>)
        .transpose()
        .map_err(|e| Failure::new(Exit::Config, e.to_string()))?;
    let unit: Unit = args
        .unit
        .parse()
        .map_err(|e: String| Failure::new(Exit::Config, e))?;
    if args.count == 0 {
        return Err(Failure::new(Exit::Config, "--count must be at least 1"));
    }
    let from = args
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?
        .unwrap_or(0);
    let to = args
        .to
        .as_deref()
        .map(|t| parse_time("to", t))
        .transpose()?
        .unwrap_or(now);
    let count = args.count;
    Ok(move |bot_id| ReportRequest {
        name,
        bot_id,
        currency,
        from,
        to,
        unit,
        count,
        now,
    })
}

pub(crate) fn run(config: Option<PathBuf>, args: ReportArgs) -> Result<Exit, Failure> {
    // Bad arguments fail before the warehouse is touched.
    let _checked = request(&args, 0)?;
    let settings = args.settings.resolve_without_keys(config.as_deref())?;
    let warehouse = Warehouse::open_read_only(&settings.warehouse)?;
    let conn = warehouse.conn();
    let known: Vec<BotId> = conn
        .prepare(sql_file!("cli/known_bots.sql").text)
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, BotId>(0))
                .and_then(|rows| rows.collect())
        })
        .during(|| "listing the warehouse's bots".into())?;
    let bot_id = pick_bot(&settings.bot_ids, &known)?;
    let req = request(&args, crate::clock::now_secs())?(bot_id);
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        ReportFormat::Json => {
            let value = req.json(conn)?;
            if value.is_null() {
                return Err(Failure::new(
                    Exit::Config,
                    format!(
                        "no {} report for bot {bot_id}: run `{}` first",
                        req.name,
                        crate::cli::hint::command("sync")
                    ),
                ));
            }
            let text = serde_json::to_string_pretty(&value)
                .map_err(|e| Failure::new(Exit::Internal, format!("writing JSON: {e}")))?;
            writeln!(out, "{text}")
        }
        ReportFormat::Table => {
            let batches = req.batches(conn)?;
            let table = pretty_format_batches(&batches)
                .map_err(|e| Failure::new(Exit::Internal, format!("formatting the table: {e}")))?;
            writeln!(out, "{table}")
        }
        ReportFormat::Csv => {
            let (names, rows) = req.text_rows(conn)?;
            write_csv(&mut out, &names, &rows).map_err(|e| match e.into_kind() {
                csv::ErrorKind::Io(io) => io,
                other => std::io::Error::other(format!("{other:?}")),
            })
        }
    };
    match written {
        // `tgm-sync report plans | head`: the reader has all it wants.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            return Err(Failure::new(
                Exit::Internal,
                format!("writing the report: {e}"),
            ));
        }
        Ok(()) => {}
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_seconds_dates_or_rfc3339() {
        assert_eq!(parse_time("from", "1700000000").ok(), Some(1_700_000_000));
        assert_eq!(parse_time("from", "2024-07-01").ok(), Some(1_719_792_000));
        assert_eq!(
            parse_time("to", "2024-07-01T02:00:00+02:00").ok(),
            Some(1_719_792_000)
        );
        let bad = parse_time("to", "yesterday")
            .err()
            .map(|f| (f.exit, f.message));
        assert!(matches!(bad, Some((Exit::Config, m)) if m.contains("--to")));
    }

    #[test]
    fn the_only_bot_is_the_default() {
        let id = BotId::constant;
        assert_eq!(pick_bot(&[], &[id(5)]).ok(), Some(id(5)));
        assert_eq!(pick_bot(&[id(7)], &[id(5), id(7)]).ok(), Some(id(7)));
        assert_eq!(
            pick_bot(&[], &[id(5), id(7)]).err().map(|f| f.exit),
            Some(Exit::Config)
        );
        assert_eq!(
            pick_bot(&[id(9)], &[id(5)]).err().map(|f| f.exit),
            Some(Exit::Config)
        );
        assert_eq!(pick_bot(&[], &[]).err().map(|f| f.exit), Some(Exit::Config));
        assert_eq!(
            pick_bot(&[id(5), id(7)], &[id(5), id(7)])
                .err()
                .map(|f| f.exit),
            Some(Exit::Config)
        );
    }
}
