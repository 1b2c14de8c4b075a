//! What the report layer needs beyond the synced tables, read from the API after the
//! streams: the gateway code ↔ display name map, the bot's preferred currency, and
//! today's exchange rates (SPEC §2).

use duckdb::{Connection, params};
use futures::StreamExt;
use rust_decimal::Decimal;
use tracing::{info, warn};

use super::fx_windows::{FxWindow, find_windows};
use crate::api::models::{PaymentMethodReport, RevenueReport};
use crate::api::{ApiClient, ApiError, ApiVersion, Method};
use crate::currency::Currency;
use crate::load::LoadError;
use crate::load::error::DbContext;
use crate::load::merge::RUN_TS;

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

/// A rate as `fx_rates` stores it: its first 18 decimal places (truncated toward zero)
/// and the next 18 as a fraction, so that `rate = head + tail * 1e-18` to 36 places
/// (`sql/002_fx_rate_tail.sql`). Rounding to 18 places was not enough: 0.54 USD at
/// 0.787037037037037037 GBP/USD is 0.42499999999999999998, which `formatted` rounds to
/// £0.42 where the API says £0.43, and a JPY->BTC rate (1.02e-7) kept 11 digits.
pub fn split_rate(rate: Decimal) -> (String, String) {
    let head = rate.trunc_with_scale(18);
    let tail = (rate - head)
        .checked_mul(Decimal::from(1_000_000_000_000_000_000_i64))
        .map(|t| t.trunc_with_scale(18))
        .unwrap_or_default();
    (head.normalize().to_string(), tail.normalize().to_string())
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
    let asks: Vec<(&FxWindow, Decimal, Currency)> = windows
        .iter()
        .filter_map(|w| Some((w, w.native.to_decimal().filter(|d| !d.is_zero())?)))
        .flat_map(|(w, native)| Currency::ALL.into_iter().map(move |t| (w, native, t)))
        .collect();
    let reports: Vec<Result<RevenueReport, ApiError>> = futures::stream::iter(&asks)
        .map(|(w, _, target)| client.revenue(w.from, w.to, Some(*target)))
        .buffered(in_flight.max(1))
        .collect()
        .await;
    let mut rates: Vec<(String, Currency, Decimal)> = Vec::new();
    for ((window, native, target), report) in asks.iter().zip(reports) {
        let report = report?;
        if report.figures.sales != window.sales {
            warn!(currency = %window.currency, target = %target, "FX window changed since the sync (sales {} vs {}); skipped", report.figures.sales, window.sales);
            continue;
        }
        let Some(converted) = report.figures.revenue.to_decimal() else {
            continue;
        };
        if let Some(rate) = converted.checked_div(*native) {
            rates.push((window.currency.clone(), *target, rate));
        }
    }
    if rates.is_empty() {
        return Ok(0);
    }
    conn.execute_batch("BEGIN TRANSACTION")
        .during(|| "starting the fx transaction".into())?;
    let result = (|| -> Result<usize, LoadError> {
        for (from, to, rate) in &rates {
            let (head, tail) = split_rate(*rate);
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

#[cfg(test)]
mod tests {
    use super::split_rate;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn rates_keep_36_places_in_two_parts() {
        // 0.85 / 1.08 at rust_decimal's 28 places.
        let r = Decimal::from_str("0.7870370370370370370370370370").unwrap_or_default();
        assert_eq!(
            split_rate(r),
            ("0.787037037037037037".into(), "0.037037037".into())
        );
        assert_eq!(split_rate(Decimal::new(15, 1)), ("1.5".into(), "0".into()));
        let tiny = Decimal::from_str("0.0000001021671826625386996904").unwrap_or_default();
        assert_eq!(
            split_rate(tiny),
            ("0.000000102167182662".into(), "0.5386996904".into())
        );
    }
}
