//! Exchange-rate reads made while the streams load. They need nothing from the run: the
//! windows ([`super::windows`]) come from the warehouse as it was when the run began,
//! and the answers, with those windows, wait in the run's [`RevenueMemo`]. Read early:
//! each native currency's canary pair ([`super::capture::canary_target`]), which
//! tells the capture after the streams ([`super::capture::refresh_fx`]) whether
//! the stored rates still stand. The capture finds its windows again in the synced data
//! and reads the other pairs only where the run changed a window, added a currency, or a
//! canary moved (a read it finds in the memo costs no request). A first sync has no
//! windows yet and reads nothing early.

use duckdb::Connection;
use futures::StreamExt;
use tracing::{debug, warn};

use super::capture::canary_target;
use super::memo::RevenueMemo;
use super::windows::{FxWindow, FxWindows, find_all_windows};
use crate::api::{ApiClient, ApiVersion};
use crate::bot_id::BotId;
use crate::config::Settings;
use crate::currency::Currency;
use crate::fx::reconcile::old_sales_majority;
use crate::money::Amount;
use crate::streams::StreamName;
use crate::warehouse::LoadError;
use crate::warehouse::state::read_state;

/// Plans the early reads from the warehouse as it is now (before the streams write): all
/// its windows, and the primary ones (one per native currency) to read. Empty when there
/// is none (a first sync).
pub(crate) fn plan_early_reads(
    conn: &Connection,
    bot_id: BotId,
) -> Result<(FxWindows, Vec<FxWindow>), LoadError> {
    let all = find_all_windows(conn, bot_id)?;
    let primary = all
        .primary
        .iter()
        .filter(|w| w.native > Amount::ZERO)
        .cloned()
        .collect();
    Ok((all, primary))
}

/// [`read_early`] with the run's settings: when the orders stream is synced, with its
/// lookback and the exchange-rate reads in flight.
pub(crate) async fn read_early_in_run(
    settings: &Settings,
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
    memo: &RevenueMemo,
) -> usize {
    if !settings.streams.contains(&StreamName::Orders) {
        return 0;
    }
    let in_flight = settings.fx_requests_in_flight();
    // The canaries in the currency the reconciliation reads the windows in (the same
    // cutoff as the orders stream's): its reads are then the canaries.
    let hint = read_state(conn, bot_id, StreamName::Orders.as_str())
        .and_then(|state| {
            let Some(hwm) = state.high_water_mark else {
                return Ok(None);
            };
            let cutoff = hwm - settings.orders.lookback.as_secs() as i64;
            old_sales_majority(conn, bot_id, cutoff)
        })
        .unwrap_or_else(|e| {
            warn!("exchange-rate canaries in the first report currency: {e}");
            None
        });
    read_early(client, conn, bot_id, in_flight, hint, memo).await
}

/// Reads, `in_flight` at a time, the canary of each of the warehouse's windows (one
/// pair per native currency, in `hint` where it is not the currency's own), and keeps the
/// windows in `memo` for the capture.
/// Nothing is written; a failed read is left for the capture to repeat and report.
/// Returns the number of reads answered.
pub(crate) async fn read_early(
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
    in_flight: usize,
    hint: Option<Currency>,
    memo: &RevenueMemo,
) -> usize {
    if client.api_version() == ApiVersion::Legacy {
        return 0;
    }
    let windows = match plan_early_reads(conn, bot_id) {
        Ok((all, windows)) => {
            memo.set_start_windows(all);
            windows
        }
        Err(e) => {
            warn!("no early exchange-rate reads: {e}");
            return 0;
        }
    };
    let asked = windows.len();
    let answered = futures::stream::iter(&windows)
        .map(|w| memo.revenue(client, w.from, w.to, Some(canary_target(memo, w, hint))))
        .buffer_unordered(in_flight.max(1))
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    debug!(asked, answered, "early exchange-rate reads");
    answered
}
