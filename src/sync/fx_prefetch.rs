//! Exchange-rate reads made while the streams load. They need nothing from the run: the
//! windows ([`super::fx_windows`]) and the pivot come from the warehouse as it was when
//! the run began, and the answers wait in the run's [`RevenueMemo`]. The capture after
//! the streams ([`super::report_inputs::refresh_fx`]) finds its windows again in the
//! synced data and reads only what the run changed: a window the new orders moved, a
//! currency they added (a read it finds in the memo costs no request). A first sync has
//! no windows yet and reads nothing early.

use duckdb::{Connection, params};
use futures::StreamExt;
use tracing::{debug, warn};

use super::fx_windows::{FxWindow, find_windows};
use super::report_inputs::FxPlan;
use super::revenue_memo::RevenueMemo;
use crate::api::{ApiClient, ApiVersion};
use crate::config::Settings;
use crate::currency::Currency;
use crate::load::LoadError;
use crate::load::error::DbContext;
use crate::money::Amount;
use crate::streams::StreamName;

/// What the early reads ask: the warehouse's windows, and the pivot to chain through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyReads {
    pub windows: Vec<FxWindow>,
    pub pivot: Option<Currency>,
}

/// Plans the early reads from the warehouse as it is now (before the streams write).
/// The pivot is the one the reconciliation of the older sales is expected to convert
/// into, so that its reads and these are the same requests: the currency of the most
/// completed sales before the newest order less `lookback_secs`. `None` when there is
/// no window to read (a first sync).
pub fn plan_early_reads(
    conn: &Connection,
    bot_id: i64,
    lookback_secs: i64,
) -> Result<Option<EarlyReads>, LoadError> {
    let windows: Vec<FxWindow> = find_windows(conn, bot_id)?
        .into_iter()
        .filter(|w| w.native > Amount::ZERO)
        .collect();
    if windows.is_empty() {
        return Ok(None);
    }
    // Ties as the reconciliation breaks them: of equal counts, the later code.
    let majority: Option<String> = conn
        .query_row(
            "SELECT max(code) FILTER (WHERE n = top) FROM ( \
                 SELECT upper(currency) AS code, count(*) AS n, max(count(*)) OVER () AS top \
                 FROM orders \
                 WHERE bot_id = ? AND _deleted_at IS NULL AND order_status = 'COMPLETED' \
                   AND epoch(order_date::TIMESTAMP) < ( \
                       SELECT max(epoch(order_date::TIMESTAMP)) FROM orders WHERE bot_id = ?) - ? \
                 GROUP BY 1)",
            params![bot_id, bot_id, lookback_secs],
            |r| r.get(0),
        )
        .during(|| "choosing the pivot of the early exchange-rate reads".into())?;
    let pivot = majority.and_then(|code| code.parse::<Currency>().ok());
    Ok(Some(EarlyReads { windows, pivot }))
}

/// [`read_early`] with the run's settings: when the orders stream is synced, with its
/// lookback and the exchange-rate reads in flight.
pub async fn read_early_in_run(
    settings: &Settings,
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    memo: &RevenueMemo,
) -> usize {
    if !settings.streams.contains(&StreamName::Orders) {
        return 0;
    }
    let lookback_secs = settings.orders.lookback.as_secs() as i64;
    let in_flight = settings.fx_requests_in_flight();
    read_early(client, conn, bot_id, lookback_secs, in_flight, memo).await
}

/// Reads, `in_flight` at a time, what the capture will ask first with the warehouse's
/// windows: each other currency into the pivot, the pivot into every report currency.
/// Nothing is written; a failed read is left for the capture to repeat and report.
/// Returns the number of reads answered.
pub async fn read_early(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    lookback_secs: i64,
    in_flight: usize,
    memo: &RevenueMemo,
) -> usize {
    if client.api_version() == ApiVersion::Legacy {
        return 0;
    }
    let early = match plan_early_reads(conn, bot_id, lookback_secs) {
        Ok(Some(early)) => early,
        Ok(None) => return 0,
        Err(e) => {
            warn!("no early exchange-rate reads: {e}");
            return 0;
        }
    };
    let plan = FxPlan::new(&early.windows, early.pivot);
    let Some(pivot) = plan.pivot() else {
        return 0;
    };
    memo.suggest_early_pivot(pivot);
    let asks = plan.first_asks();
    let asked = asks.len();
    let answered = futures::stream::iter(asks)
        .map(|(w, t)| memo.revenue(client, w.from, w.to, Some(t)))
        .buffer_unordered(in_flight.max(1))
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    debug!(
        asked,
        answered,
        pivot = pivot.code(),
        "early exchange-rate reads"
    );
    answered
}
