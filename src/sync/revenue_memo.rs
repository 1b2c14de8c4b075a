//! `/revenue` answers shared within one bot's run: the reconciliation of the older sales
//! reads each native currency's rate into its majority currency off the same windows the
//! exchange-rate capture then reads, so the capture takes that currency as its pivot and
//! the answers already in hand (see [`super::report_inputs::refresh_fx`]). The capture's
//! early reads ([`super::fx_prefetch`]), made while the streams load, wait here too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::api::models::RevenueReport;
use crate::api::{ApiClient, ApiError};
use crate::currency::Currency;

type Ask = (i64, i64, Option<Currency>);

/// One bot's `/revenue` answers in this run, by `(from, to, currency)`.
#[derive(Debug, Default)]
pub struct RevenueMemo {
    answers: Mutex<HashMap<Ask, Arc<OnceCell<RevenueReport>>>>,
    pivot: Mutex<Option<Currency>>,
    early_pivot: Mutex<Option<Currency>>,
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

    /// Names the currency the reconciliation converted into: the capture's pivot.
    pub fn suggest_pivot(&self, currency: Currency) {
        *lock(&self.pivot) = Some(currency);
    }

    /// The currency suggested by [`Self::suggest_pivot`], if any.
    pub fn pivot(&self) -> Option<Currency> {
        *lock(&self.pivot)
    }

    /// Names the pivot the early reads chained through.
    pub fn suggest_early_pivot(&self, currency: Currency) {
        *lock(&self.early_pivot) = Some(currency);
    }

    /// The pivots worth trying, the reconciliation's first.
    pub fn pivots(&self) -> Vec<Currency> {
        let mut out: Vec<Currency> = self.pivot().into_iter().collect();
        if let Some(early) = *lock(&self.early_pivot)
            && !out.contains(&early)
        {
            out.push(early);
        }
        out
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
