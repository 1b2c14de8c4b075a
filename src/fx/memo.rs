//! `/revenue` answers shared within one bot's run: the reconciliation of the older sales
//! reads each native currency's window in their majority currency, one of the pairs the
//! exchange-rate capture then reads (see [`super::capture::refresh_fx`]). The
//! capture's early reads ([`super::prefetch`]), made while the streams load, wait
//! here too, with the windows the warehouse held when the run began (the capture keeps a
//! currency's stored rates only if its windows are still those).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::api::models::RevenueReport;
use crate::api::{ApiClient, ApiError};
use crate::currency::Currency;

use super::windows::FxWindows;

type Ask = (i64, i64, Option<Currency>);

/// One bot's `/revenue` answers in this run, by `(from, to, currency)`.
#[derive(Debug, Default)]
pub struct RevenueMemo {
    answers: Mutex<HashMap<Ask, Arc<OnceCell<RevenueReport>>>>,
    /// The exchange-rate windows of the warehouse as the run began, once planned.
    start_windows: Mutex<Option<FxWindows>>,
}

impl RevenueMemo {
    /// `/revenue` over `[from, to)` in `currency`, asked at most once per run: an ask
    /// already in flight is waited for (the early reads and the reconciliation may want
    /// the same window at once). A failed ask is not kept; the next one asks again.
    pub async fn revenue(
        &self,
        client: &ApiClient,
        from: i64,
        to: i64,
        currency: Option<Currency>,
    ) -> Result<RevenueReport, ApiError> {
        let cell = self
            .lock_answers()
            .entry((from, to, currency))
            .or_default()
            .clone();
        cell.get_or_try_init(|| client.revenue(from, to, currency))
            .await
            .cloned()
    }

    /// Whether the answer for `(from, to, currency)` is in hand.
    pub fn holds(&self, from: i64, to: i64, currency: Option<Currency>) -> bool {
        self.lock_answers()
            .get(&(from, to, currency))
            .is_some_and(|cell| cell.initialized())
    }

    /// Keeps the windows the warehouse held when the run began.
    pub(crate) fn set_start_windows(&self, windows: FxWindows) {
        *lock(&self.start_windows) = Some(windows);
    }

    /// The windows the warehouse held when the run began, if they were planned.
    pub(crate) fn start_windows(&self) -> Option<FxWindows> {
        lock(&self.start_windows).clone()
    }

    fn lock_answers(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Ask, Arc<OnceCell<RevenueReport>>>> {
        lock(&self.answers)
    }
}

/// A panic elsewhere cannot leave a half-written value here: each is written whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
