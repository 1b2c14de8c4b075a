//! `tgm-sync verify`: the API's report endpoints against the warehouse's reports.

use std::path::PathBuf;

use clap::Args;
use duckdb::Connection;

use super::Failure;
use super::settings::SettingsArgs;
use crate::api::ApiClient;
use crate::bot_id::BotId;
use crate::config::{BotSettings, Settings};
use crate::currency::Currency;
use crate::exit::Exit;
use crate::report::compare::{Check, Verdict};
use crate::report::verify::{REVENUE_TOLERANCE, VerifyError, inexact_rates, verify_bot};
use crate::sql_files::sql_file;
use crate::warehouse::Warehouse;

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// A currency code, or `all` for all 13 (default: each bot's preferred currency).
    #[arg(long, value_name = "CODE|all")]
    pub currency: Option<String>,
    /// List matching fields too, not only differences.
    #[arg(long)]
    pub show_matches: bool,
}

fn currencies(arg: Option<&str>, preferred: Option<String>) -> Result<Vec<Currency>, Failure> {
    match arg {
        Some(a) if a.eq_ignore_ascii_case("all") => Ok(Currency::ALL.to_vec()),
        Some(a) => a
            .parse::<Currency>()
            .map(|c| vec![c])
            .map_err(|e| Failure::new(Exit::Config, e.to_string())),
        None => Ok(vec![
            preferred
                .and_then(|p| p.parse().ok())
                .unwrap_or(Currency::Eur),
        ]),
    }
}

pub(crate) async fn run(config: Option<PathBuf>, args: VerifyArgs) -> Result<Exit, Failure> {
    if let Some(c) = &args.currency {
        currencies(Some(c), None)?;
    }
    let settings = args.settings.resolve(config.as_deref(), None, true)?;
    let warehouse = Warehouse::open_read_only(&settings.warehouse)?;
    let conn = warehouse.conn();
    let mut tally = Tally::default();
    for bot in &settings.bots {
        let checked = check_bot(&settings, bot, conn, args.currency.as_deref()).await?;
        tally.inexact.push((bot.bot_id, checked.inexact_rates));
        print_header();
        for c in &checked.checks {
            tally.count(c);
            if c.verdict != Verdict::Match || args.show_matches {
                print_check(bot.bot_id, c);
            }
        }
    }
    tally.print_summary();
    Ok(if tally.differences > 0 {
        Exit::Mismatch
    } else {
        Exit::Success
    })
}

/// One bot's comparisons, and the exchange rates its windows do not pin down.
struct BotChecks {
    inexact_rates: Vec<String>,
    checks: Vec<Check>,
}

/// One bot's reports compared, in the asked currencies (by default the bot's preferred
/// one, as the warehouse last read it).
async fn check_bot(
    settings: &Settings,
    bot: &BotSettings,
    conn: &Connection,
    currency: Option<&str>,
) -> Result<BotChecks, Failure> {
    let bot_id = bot.bot_id;
    let preferred: Option<String> = conn
        .query_row(
            sql_file!("cli/preferred_currency.sql").text,
            [bot_id],
            |r| r.get(0),
        )
        .ok();
    let list = currencies(currency, preferred)?;
    let client = ApiClient::new(settings.client_settings(bot))?;
    let inexact_rates = inexact_rates(conn, bot_id).unwrap_or_default();
    let checks = verify_bot(&client, conn, bot_id, &list)
        .await
        .map_err(verify_failure)?;
    Ok(BotChecks {
        inexact_rates,
        checks,
    })
}

fn verify_failure(e: VerifyError) -> Failure {
    match e {
        VerifyError::Api(e) => Failure::from(e),
        VerifyError::Load(e) => Failure::from(e),
        never @ VerifyError::NeverSynced(_) => Failure::new(
            Exit::Config,
            format!("{never}: run `{}` first", crate::cli::hint::command("sync")),
        ),
    }
}

fn print_header() {
    println!(
        "{:>12}  {:<22} {:<4} {:<24} {:<12} {:>24} {:>24}  verdict",
        "bot", "report", "cur", "row", "field", "api", "warehouse"
    );
}

fn print_check(bot_id: BotId, c: &Check) {
    println!(
        "{:>12}  {:<22} {:<4} {:<24} {:<12} {:>24} {:>24}  {}",
        bot_id,
        c.report,
        c.currency,
        c.key,
        c.field,
        c.api,
        c.warehouse,
        match c.verdict {
            Verdict::Match => "ok",
            Verdict::Differs => "DIFFERS",
            Verdict::NewerThanSync => "newer than the last sync",
            Verdict::Skipped => "skipped",
            Verdict::RatesMoved => "rates moved since the last sync",
        }
    );
}

/// The verdicts of every bot, counted for the summary.
#[derive(Default)]
struct Tally {
    differences: usize,
    newer: usize,
    moved: usize,
    total: usize,
    skipped: usize,
    skipped_reports: Vec<&'static str>,
    inexact: Vec<(BotId, Vec<String>)>,
}

impl Tally {
    fn count(&mut self, c: &Check) {
        match c.verdict {
            Verdict::Differs => self.differences += 1,
            Verdict::NewerThanSync => self.newer += 1,
            Verdict::RatesMoved => self.moved += 1,
            Verdict::Match => {}
            Verdict::Skipped => {
                self.skipped += 1;
                if !self.skipped_reports.contains(&c.report) {
                    self.skipped_reports.push(c.report);
                }
            }
        }
        if c.verdict != Verdict::Skipped {
            self.total += 1;
        }
    }

    fn print_summary(&self) {
        let Tally {
            differences,
            newer,
            moved,
            total,
            skipped,
            ..
        } = self;
        println!(
            "\n{total} fields compared: {} match, {differences} differ, {newer} differ because of data newer than the last sync \
             (revenue {REVENUE_TOLERANCE}; everything else exact)",
            total - differences - newer - moved
        );
        if *moved > 0 {
            println!(
                "{moved} differ because the API's exchange rates moved since the last sync: re-run sync ({})",
                crate::cli::hint::command("sync")
            );
        }
        for (bot_id, pairs) in &self.inexact {
            if !pairs.is_empty() {
                println!(
                    "bot {bot_id}: {} exchange rates are not pinned down to one 8-decimal rate by their windows (reports converted at them may be off by a sale's rounding): {}",
                    pairs.len(),
                    pairs.join(", ")
                );
            }
        }
        if *skipped > 0 {
            println!(
                "not compared ({skipped} report and currency pairs): {}: no order data (the legacy API lists no orders, or the orders were never synced), \
                 so the warehouse has none to compute them from; /users/count was compared",
                self.skipped_reports.join(", ")
            );
        }
    }
}
