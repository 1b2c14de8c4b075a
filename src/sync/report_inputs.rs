//! What the report layer needs beyond the synced tables, read from the API after the
//! streams: the gateway code ↔ display name map, the bot's preferred currency, and
//! today's exchange rates (SPEC §2).

use duckdb::{Connection, params};
use futures::StreamExt;
use tracing::{info, warn};

use super::fx_rate::rate_parts;
use super::fx_windows::{FxWindow, find_windows};
use crate::api::models::{PaymentMethodReport, RevenueReport};
use crate::api::{ApiClient, ApiError, ApiVersion, Method};
use crate::currency::Currency;
use crate::load::LoadError;
use crate::load::error::DbContext;
use crate::load::merge::RUN_TS;
use crate::money::Amount;

/// Failure of one report-input step.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Reads `/paymentMethods/report` and the synced payment methods into `gateways`.
pub async fn refresh_gateways(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    at_micros: i64,
) -> Result<usize, InputsError> {
    let rows = client.get_list(&Method::PaymentMethodsReport, &[]).await?;
    let reported: Vec<PaymentMethodReport> = rows
        .into_iter()
        .filter_map(|row| PaymentMethodReport::from_json(row).ok())
        .collect();
    conn.execute_batch("BEGIN TRANSACTION")
        .during(|| "starting the gateways transaction".into())?;
    let result = (|| -> Result<usize, LoadError> {
        conn.execute("DELETE FROM gateways WHERE bot_id = ?", params![bot_id])
            .during(|| "refreshing gateways".into())?;
        conn.execute(
            &format!(
                "INSERT INTO gateways (bot_id, code, display_name, installed, _synced_at) \
                 SELECT bot_id, name, coalesce(display_name, name), true, {RUN_TS} \
                 FROM payment_methods WHERE bot_id = ? AND _deleted_at IS NULL"
            ),
            params![at_micros, bot_id],
        )
        .during(|| "refreshing gateways".into())?;
        for gateway in &reported {
            let display = gateway
                .display_name
                .clone()
                .unwrap_or_else(|| gateway.name.clone());
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO gateways (bot_id, code, display_name, installed, _synced_at) \
                     VALUES (?, ?, ?, false, {RUN_TS})"
                ),
                params![bot_id, gateway.name, display, at_micros],
            )
            .during(|| "refreshing gateways".into())?;
        }
        conn.query_row(
            "SELECT count(*) FROM gateways WHERE bot_id = ?",
            params![bot_id],
            |r| r.get::<_, i64>(0),
        )
        .during(|| "counting gateways".into())
        .map(|n| n as usize)
    })();
    finish(conn, result, "gateways").map_err(Into::into)
}

fn finish<T>(conn: &Connection, result: Result<T, LoadError>, what: &str) -> Result<T, LoadError> {
    match result {
        Ok(v) => {
            conn.execute_batch("COMMIT")
                .during(|| format!("committing {what}"))?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Asks `/revenue` without a currency: the answer is in the bot's preferred currency.
pub async fn refresh_preferred_currency(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    at_micros: i64,
) -> Result<String, InputsError> {
    let report = client.revenue(0, 1, None).await?;
    let currency = report.figures.currency.to_ascii_uppercase();
    conn.execute(
        &format!(
            "INSERT INTO bot_settings (bot_id, preferred_currency, updated_at) VALUES (?, ?, {RUN_TS}) \
             ON CONFLICT (bot_id) DO UPDATE SET preferred_currency = excluded.preferred_currency, \
             updated_at = excluded.updated_at"
        ),
        params![bot_id, currency, at_micros],
    )
    .during(|| "recording the preferred currency".into())?;
    Ok(currency)
}

/// Reads the rate of every native currency into all 13 report currencies off `/revenue`
/// (see [`super::fx_windows`]) and records them in `fx_rates` as source `api`.
/// Returns the number of rates recorded.
pub async fn refresh_fx(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    at_micros: i64,
    in_flight: usize,
) -> Result<usize, InputsError> {
    if client.api_version() == ApiVersion::Legacy {
        return Ok(0);
    }
    let windows = find_windows(conn, bot_id)?;
    // One `/revenue` request per window and target currency, `in_flight` at a time, in
    // order: sequential, they cost a round trip each (91 of them for 7 currencies).
    let asks: Vec<(&FxWindow, Currency)> = windows
        .iter()
        .filter(|w| w.native > Amount::ZERO)
        .flat_map(|w| Currency::ALL.into_iter().map(move |t| (w, t)))
        .collect();
    let reports: Vec<Result<RevenueReport, ApiError>> = futures::stream::iter(&asks)
        .map(|(w, target)| client.revenue(w.from, w.to, Some(*target)))
        .buffered(in_flight)
        .collect()
        .await;
    let mut rates: Vec<(String, Currency, (String, String))> = Vec::new();
    for ((window, target), report) in asks.iter().zip(reports) {
        let report = report?;
        if report.figures.sales != window.sales {
            warn!(currency = %window.currency, target = %target, "FX window changed since the sync (sales {} vs {}); skipped", report.figures.sales, window.sales);
            continue;
        }
        if let Some(parts) = rate_parts(report.figures.revenue, window.native, report.figures.sales)
        {
            rates.push((window.currency.clone(), *target, parts));
        }
    }
    if rates.is_empty() {
        return Ok(0);
    }
    conn.execute_batch("BEGIN TRANSACTION")
        .during(|| "starting the fx transaction".into())?;
    let result = (|| -> Result<usize, LoadError> {
        for (from, to, (head, tail)) in &rates {
            conn.execute(
                &format!(
                    "INSERT OR REPLACE INTO fx_rates (bot_id, as_of, from_currency, to_currency, rate, rate_tail, source) \
                     VALUES (?, {RUN_TS}, ?, ?, CAST(? AS DECIMAL(38,18)), CAST(? AS DECIMAL(38,18)), 'api')"
                ),
                params![bot_id, at_micros, from, to.code(), head, tail],
            )
            .during(|| "recording exchange rates".into())?;
        }
        Ok(rates.len())
    })();
    let n = finish(conn, result, "exchange rates")?;
    info!(
        rates = n,
        windows = windows.len(),
        "exchange rates captured from /revenue"
    );
    Ok(n)
}
