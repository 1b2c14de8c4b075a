//! `/revenue` answers shared within one bot's run: the reconciliation of the older sales
//! reads each native currency's rate into its majority currency off the same windows the
//! exchange-rate capture then reads, so the capture takes that currency as its pivot and
//! the answers already in hand (see [`super::report_inputs::refresh_fx`]).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::api::models::RevenueReport;
use crate::api::{ApiClient, ApiError};
use crate::currency::Currency;

type Ask = (i64, i64, Option<Currency>);

/// One bot's `/revenue` answers in this run, by `(from, to, currency)`.
#[derive(Debug, Default)]
pub struct RevenueMemo {
    answers: Mutex<HashMap<Ask, RevenueReport>>,
    pivot: Mutex<Option<Currency>>,
}

impl RevenueMemo {
    /// `/revenue` over `[from, to)` in `currency`, asked at most once per run.
    pub async fn revenue(
        &self,
        client: &ApiClient,
        from: i64,
        to: i64,
        currency: Option<Currency>,
    ) -> Result<RevenueReport, ApiError> {
        let ask = (from, to, currency);
        if let Some(hit) = self.lock_answers().get(&ask).cloned() {
            return Ok(hit);
        }
        // Not held across the request: two identical asks in flight at once both go out.
        let report = client.revenue(from, to, currency).await?;
        self.lock_answers().insert(ask, report.clone());
        Ok(report)
    }

    /// Names the currency the reconciliation converted into: the capture's pivot.
    pub fn suggest_pivot(&self, currency: Currency) {
        *self.pivot.lock().unwrap_or_else(|p| p.into_inner()) = Some(currency);
    }

    /// The currency suggested by [`Self::suggest_pivot`], if any.
    pub fn pivot(&self) -> Option<Currency> {
        *self.pivot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_answers(&self) -> std::sync::MutexGuard<'_, HashMap<Ask, RevenueReport>> {
        // A panic elsewhere cannot leave a half-written answer: the map is still sound.
        self.answers.lock().unwrap_or_else(|p| p.into_inner())
    }
}
