//! Exchange-rate reads made while the streams load. They need nothing from the run: the
//! windows ([`super::fx_windows`]) come from the warehouse as it was when the run began,
//! and the answers wait in the run's [`RevenueMemo`]. The capture after
//! the streams ([`super::report_inputs::refresh_fx`]) finds its windows again in the
//! synced data and reads only what the run changed: a window the new orders moved, a
//! currency they added (a read it finds in the memo costs no request). A first sync has
//! no windows yet and reads nothing early.

use duckdb::Connection;
use futures::StreamExt;
use tracing::{debug, warn};

use super::fx_windows::{FxWindow, find_windows};
use super::report_inputs::pair_asks;
use super::revenue_memo::RevenueMemo;
use crate::api::{ApiClient, ApiVersion};
use crate::config::Settings;
use crate::load::LoadError;
use crate::money::Amount;
use crate::streams::StreamName;

/// Plans the early reads from the warehouse as it is now (before the streams write): its
/// windows, one per native currency. Empty when there is none (a first sync).
pub fn plan_early_reads(conn: &Connection, bot_id: i64) -> Result<Vec<FxWindow>, LoadError> {
    Ok(find_windows(conn, bot_id)?
        .into_iter()
        .filter(|w| w.native > Amount::ZERO)
        .collect())
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
    let in_flight = settings.fx_requests_in_flight();
    read_early(client, conn, bot_id, in_flight, memo).await
}

/// Reads, `in_flight` at a time, what the capture will ask with the warehouse's windows:
/// each window in every report currency but its own.
/// Nothing is written; a failed read is left for the capture to repeat and report.
/// Returns the number of reads answered.
pub async fn read_early(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    in_flight: usize,
    memo: &RevenueMemo,
) -> usize {
    if client.api_version() == ApiVersion::Legacy {
        return 0;
    }
    let windows = match plan_early_reads(conn, bot_id) {
        Ok(windows) => windows,
        Err(e) => {
            warn!("no early exchange-rate reads: {e}");
            return 0;
        }
    };
    let asks = pair_asks(&windows);
    let asked = asks.len();
    let answered = futures::stream::iter(asks)
        .map(|(w, t)| memo.revenue(client, w.from, w.to, Some(t)))
        .buffer_unordered(in_flight.max(1))
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    debug!(asked, answered, "early exchange-rate reads");
    answered
}
