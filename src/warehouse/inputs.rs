//! The report layer's inputs beyond the synced tables (docs/data-contract.md §2.8), written each in one
//! transaction: the gateway code ↔ display name map, the bot's preferred currency, and
//! exchange rates (captured off the API, or imported by `tgm-sync fx import`).

use duckdb::{Connection, params};

use super::RunStamp;
use super::error::{DbContext, LoadError};
use crate::bot_id::BotId;
use crate::sql_files::sql_file;

/// One gateway named by `/paymentMethods/report`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportedGateway {
    pub code: String,
    pub display_name: String,
}

/// Rebuilds one bot's gateway map: the installed gateways (the synced payment methods),
/// then those the report names that are not installed; the report's unreadable rows
/// (`(reason, raw JSON)`) go to `_rejected` in the same transaction. Returns the gateways
/// it holds.
pub(crate) fn replace_gateways(
    conn: &Connection,
    bot_id: BotId,
    run: RunStamp,
    reported: &[ReportedGateway],
    rejected: &[(String, String)],
) -> Result<usize, LoadError> {
    let context = || "refreshing gateways".to_string();
    let at_micros = run.at_micros;
    let tx = conn.unchecked_transaction().during(context)?;
    for (reason, raw) in rejected {
        super::state::reject(&tx, run, bot_id, "report_inputs", reason, raw)?;
    }
    tx.execute(
        sql_file!("warehouse/gateways_clear.sql").text,
        params![bot_id],
    )
    .during(context)?;
    tx.execute(
        sql_file!("warehouse/gateways_installed.sql").text,
        params![at_micros, bot_id],
    )
    .during(context)?;
    for gateway in reported {
        tx.execute(
            sql_file!("warehouse/gateways_reported.sql").text,
            params![bot_id, gateway.code, gateway.display_name, at_micros],
        )
        .during(context)?;
    }
    let count = tx
        .query_row(
            sql_file!("warehouse/gateways_count.sql").text,
            params![bot_id],
            |r| r.get::<_, i64>(0),
        )
        .during(|| "counting gateways".into())?;
    tx.commit().during(|| "committing gateways".into())?;
    Ok(count.max(0) as usize)
}

/// Records the bot's preferred report currency.
pub(crate) fn record_preferred_currency(
    conn: &Connection,
    bot_id: BotId,
    currency: &str,
    at_micros: i64,
) -> Result<(), LoadError> {
    conn.execute(
        sql_file!("warehouse/preferred_currency.sql").text,
        params![bot_id, currency, at_micros],
    )
    .during(|| "recording the preferred currency".into())?;
    Ok(())
}

/// One pair's 8-decimal rate read off `/revenue`: 1 `from` = `rate` `to`, and the bounds
/// of the rates that reproduce the window read (`rate_low = rate_high`: exact; see
/// `sql/009_api_arithmetic.sql`). All decimal texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CapturedRate {
    pub from: String,
    pub to: String,
    pub rate: String,
    pub rate_low: String,
    pub rate_high: String,
}

/// Records a bot's captured rates as of `at_micros` (source `api`); returns how many.
pub(crate) fn store_captured_rates(
    conn: &Connection,
    bot_id: BotId,
    at_micros: i64,
    rates: &[CapturedRate],
) -> Result<usize, LoadError> {
    if rates.is_empty() {
        return Ok(0);
    }
    let context = || "recording exchange rates".to_string();
    // One static statement for all rows, the columns bound as lists: DuckDB's cost per
    // statement, not per row, dominated (156 single-row inserts took 1.7 s of a 4 s run,
    // and one generated VALUES tuple per rate still cost its parse and plan).
    let list = |f: fn(&CapturedRate) -> &String| {
        duckdb::types::Value::List(
            rates
                .iter()
                .map(|r| duckdb::types::Value::Text(f(r).clone()))
                .collect(),
        )
    };
    let n = conn
        .execute(
            sql_file!("warehouse/fx_rates_capture.sql").text,
            params![
                bot_id,
                at_micros,
                list(|r| &r.from),
                list(|r| &r.to),
                list(|r| &r.rate),
                list(|r| &r.rate_low),
                list(|r| &r.rate_high)
            ],
        )
        .during(context)?;
    Ok(n)
}

/// The latest rate read off `/revenue` of each pair of one bot, with its bounds, as
/// decimal text (`sql/warehouse/fx_rates_stored.sql`).
pub(crate) fn stored_api_rates(
    conn: &Connection,
    bot_id: BotId,
) -> Result<Vec<CapturedRate>, LoadError> {
    let context = || "reading the stored exchange rates".to_string();
    let mut stmt = conn
        .prepare(sql_file!("warehouse/fx_rates_stored.sql").text)
        .during(context)?;
    let rows = stmt
        .query_map(params![bot_id], |r| {
            Ok(CapturedRate {
                from: r.get(0)?,
                to: r.get(1)?,
                rate: r.get(2)?,
                rate_low: r.get(3)?,
                rate_high: r.get(4)?,
            })
        })
        .during(context)?;
    rows.collect::<Result<Vec<_>, _>>().during(context)
}

/// One rate of `tgm-sync fx import`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImportRow {
    pub from: String,
    pub to: String,
    /// Decimal text.
    pub rate: String,
    pub as_of_micros: i64,
}

/// Imports `rates` for every bot of `bots`, all or nothing.
pub(crate) fn import_rates(
    conn: &Connection,
    bots: &[BotId],
    rates: &[ImportRow],
) -> Result<(), LoadError> {
    let tx = conn
        .unchecked_transaction()
        .during(|| "starting the import".into())?;
    for bot in bots {
        for r in rates {
            tx.execute(
                sql_file!("warehouse/fx_import.sql").text,
                params![bot, r.as_of_micros, r.from, r.to, r.rate],
            )
            .during(|| "importing rates".into())?;
        }
    }
    tx.commit().during(|| "committing the import".into())
}
