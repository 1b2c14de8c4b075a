//! What the report layer needs beyond the synced tables, read from the API after the
//! streams: the gateway code ↔ display name map, the bot's preferred currency, and
//! today's exchange rates (SPEC §2).

use duckdb::Connection;
use futures::StreamExt;
use tracing::{info, warn};

use std::collections::BTreeMap;

use super::fx_rate::{compose, fraction_parts, rate_fraction, rate_parts};
use super::fx_windows::{FxWindow, find_windows};
use super::revenue_memo::RevenueMemo;
use crate::api::models::{PaymentMethodReport, RevenueReport};
use crate::api::{ApiClient, ApiError, ApiVersion, Method};
use crate::currency::Currency;
use crate::error::Error;
use crate::load::RunStamp;
use crate::load::inputs::{
    CapturedRate, ReportedGateway, record_preferred_currency, replace_gateways,
    store_captured_rates,
};
use crate::money::Amount;

/// The stream name under which unreadable report-input rows are kept in `_rejected`.
pub const REPORT_INPUTS: &str = "report_inputs";

/// Reads `/paymentMethods/report` and the synced payment methods into `gateways`. A row
/// that cannot be read is kept in `_rejected` (stream `report_inputs`) and counted; the
/// others are used. Returns how many rows were rejected.
pub async fn refresh_gateways(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    run: RunStamp,
) -> Result<usize, Error> {
    let rows = client.get_list(&Method::PaymentMethodsReport, &[]).await?;
    let mut reported = Vec::new();
    let mut rejected = Vec::new();
    for row in rows {
        let raw = row.to_string();
        match PaymentMethodReport::from_json(row) {
            Ok(g) => reported.push(ReportedGateway {
                display_name: g.display_name.unwrap_or_else(|| g.name.clone()),
                code: g.name,
            }),
            Err(e) => rejected.push((format!("/paymentMethods/report: {e}"), raw)),
        }
    }
    replace_gateways(conn, bot_id, run, &reported, &rejected)?;
    Ok(rejected.len())
}

/// Asks `/revenue` without a currency: the answer is in the bot's preferred currency.
pub async fn refresh_preferred_currency(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    at_micros: i64,
) -> Result<String, Error> {
    let report = client.revenue(0, 1, None).await?;
    let currency = report.figures.currency.to_ascii_uppercase();
    record_preferred_currency(conn, bot_id, &currency, at_micros)?;
    Ok(currency)
}

/// Reads the rate of every native currency C into the 13 report currencies off
/// `/revenue` (windows: [`super::fx_windows`]) and records them in `fx_rates` as source
/// `api`. Returns the number of rates recorded.
///
/// Through a pivot P (the currency the reconciliation converted into, else the native
/// currency whose window has the most sales): C → P once per other native currency and
/// P → T once per report currency, and C → T = (C → P) × (P → T), exact when both legs
/// are fractions ([`super::fx_rate::rate_fraction`]); a pair with a leg that is not is
/// asked directly. With n native currencies that is n − 1 + 12 requests instead of
/// 13·n; identity pairs are not stored (`fx_effective` ignores them). Answers the
/// reconciliation already has come from `memo`.
pub async fn refresh_fx(
    client: &ApiClient,
    conn: &Connection,
    bot_id: i64,
    at_micros: i64,
    in_flight: usize,
    memo: &RevenueMemo,
) -> Result<usize, Error> {
    if client.api_version() == ApiVersion::Legacy {
        return Ok(0);
    }
    let windows: Vec<FxWindow> = find_windows(conn, bot_id)?
        .into_iter()
        .filter(|w| w.native > Amount::ZERO)
        .collect();
    // The reconciliation's pivot, or the early reads' (`fx_prefetch`): whichever leaves
    // fewer reads to make now.
    let plan = FxPlan::choose(&windows, &memo.pivots(), |w, t| {
        memo.holds(w.from, w.to, Some(t))
    });
    let first = ask_all(client, memo, in_flight, plan.first_asks()).await?;
    let mut rates = Rates::default();
    for read in &first {
        rates.record(read);
    }
    // Pairs the legs could not give exactly: asked directly.
    let missing = plan.missing(&rates);
    let second = ask_all(client, memo, in_flight, missing).await?;
    for read in &second {
        rates.record(read);
    }
    // Reads, some of them answered by the reconciliation's requests (`memo`).
    let reads = first.len() + second.len();
    let stored = plan.to_store(&rates);
    if stored.is_empty() {
        return Ok(0);
    }
    let captured: Vec<CapturedRate> = stored
        .into_iter()
        .map(|(from, to, (rate, rate_tail))| CapturedRate {
            from,
            to: to.code().to_string(),
            rate,
            rate_tail,
        })
        .collect();
    let n = store_captured_rates(conn, bot_id, at_micros, &captured)?;
    info!(
        rates = n,
        windows = windows.len(),
        pivot = plan.pivot.map(|p| p.code()).unwrap_or("none"),
        reads,
        "exchange rates captured from /revenue"
    );
    Ok(n)
}

/// One `/revenue` read for a rate: `window` in `target`.
struct FxRead<'a> {
    window: &'a FxWindow,
    target: Currency,
    report: RevenueReport,
}

async fn ask_all<'a>(
    client: &ApiClient,
    memo: &RevenueMemo,
    in_flight: usize,
    asks: Vec<(&'a FxWindow, Currency)>,
) -> Result<Vec<FxRead<'a>>, ApiError> {
    futures::stream::iter(asks)
        .map(|(window, target)| async move {
            let report = memo
                .revenue(client, window.from, window.to, Some(target))
                .await?;
            Ok(FxRead {
                window,
                target,
                report,
            })
        })
        .buffered(in_flight.max(1))
        .collect::<Vec<Result<FxRead<'a>, ApiError>>>()
        .await
        .into_iter()
        .collect()
}

/// Rates read so far: as stored (`direct`), and as exact fractions where they are.
#[derive(Default)]
struct Rates {
    direct: BTreeMap<(String, Currency), (String, String)>,
    fractions: BTreeMap<(String, Currency), (u128, u128)>,
}

impl Rates {
    fn record(&mut self, read: &FxRead<'_>) {
        let (window, figures) = (read.window, &read.report.figures);
        if figures.sales != window.sales {
            warn!(currency = %window.currency, target = %read.target, "FX window changed since the sync (sales {} vs {}); skipped", figures.sales, window.sales);
            return;
        }
        let key = (window.currency.clone(), read.target);
        if let Some(fraction) = rate_fraction(figures.revenue, window.native, figures.sales) {
            self.fractions.insert(key.clone(), fraction);
        }
        if let Some(parts) = rate_parts(figures.revenue, window.native, figures.sales) {
            self.direct.insert(key, parts);
        }
    }
}

/// Which pairs to read, and which to chain through the pivot.
pub(super) struct FxPlan<'a> {
    windows: &'a [FxWindow],
    pivot: Option<Currency>,
}

impl<'a> FxPlan<'a> {
    /// The plan through the first of `candidates` whose first reads are the most in
    /// hand (`held`); with no candidate that has a window, through the largest window's
    /// currency.
    pub(super) fn choose(
        windows: &'a [FxWindow],
        candidates: &[Currency],
        held: impl Fn(&FxWindow, Currency) -> bool,
    ) -> FxPlan<'a> {
        let mut best: Option<(usize, FxPlan<'a>)> = None;
        for candidate in candidates {
            let plan = FxPlan::new(windows, Some(*candidate));
            if plan.pivot != Some(*candidate) {
                continue;
            }
            let to_ask = plan
                .first_asks()
                .into_iter()
                .filter(|(w, t)| !held(w, *t))
                .count();
            if best.as_ref().is_none_or(|(fewest, _)| to_ask < *fewest) {
                best = Some((to_ask, plan));
            }
        }
        best.map(|(_, plan)| plan)
            .unwrap_or_else(|| FxPlan::new(windows, None))
    }

    pub(super) fn new(windows: &'a [FxWindow], suggested: Option<Currency>) -> FxPlan<'a> {
        let has_window = |c: Currency| windows.iter().any(|w| w.currency == c.code());
        let pivot = suggested.filter(|c| has_window(*c)).or_else(|| {
            windows
                .iter()
                .filter_map(|w| Some((w, w.currency.parse::<Currency>().ok()?)))
                .max_by(|(a, _), (b, _)| (a.sales, &b.currency).cmp(&(b.sales, &a.currency)))
                .map(|(_, c)| c)
        });
        FxPlan { windows, pivot }
    }

    /// The currency the plan chains through.
    pub(super) fn pivot(&self) -> Option<Currency> {
        self.pivot
    }

    fn pivot_window(&self) -> Option<&'a FxWindow> {
        let pivot = self.pivot?;
        self.windows.iter().find(|w| w.currency == pivot.code())
    }

    /// C → P for every other C, P → T for every T ≠ P; with no pivot, every pair.
    pub(super) fn first_asks(&self) -> Vec<(&'a FxWindow, Currency)> {
        let (Some(pivot), Some(pivot_window)) = (self.pivot, self.pivot_window()) else {
            return self.every_pair(|_, _| true);
        };
        let mut asks: Vec<(&'a FxWindow, Currency)> = self
            .windows
            .iter()
            .filter(|w| w.currency != pivot.code())
            .map(|w| (w, pivot))
            .collect();
        asks.extend(
            Currency::ALL
                .into_iter()
                .filter(|t| *t != pivot)
                .map(|t| (pivot_window, t)),
        );
        asks
    }

    /// Pairs C → T (C ≠ T) with neither a read nor an exact fraction.
    fn missing(&self, rates: &Rates) -> Vec<(&'a FxWindow, Currency)> {
        self.every_pair(|w, t| {
            !rates.direct.contains_key(&(w.currency.clone(), t))
                && self.exact(rates, &w.currency, t).is_none()
        })
    }

    fn every_pair(
        &self,
        wanted: impl Fn(&FxWindow, Currency) -> bool,
    ) -> Vec<(&'a FxWindow, Currency)> {
        self.windows
            .iter()
            .flat_map(|w| Currency::ALL.into_iter().map(move |t| (w, t)))
            .filter(|(w, t)| w.currency != t.code() && wanted(w, *t))
            .collect()
    }

    /// The rate `from` → `to` as an exact fraction, if there is one: read, read the other
    /// way, or chained through the pivot.
    fn exact(&self, rates: &Rates, from: &str, to: Currency) -> Option<(u128, u128)> {
        self.leg(rates, from, to)
            .or_else(|| self.chain(rates, from, to))
    }

    /// A fraction read `from` → `to`, or the inverse of one read `to` → `from`: the pivot's
    /// window in BTC has too few digits (18 places of 0.0009 BTC) to pin down INR → BTC
    /// (33/18100000), but BTC's own window in INR gives 18100000/33 with room to spare,
    /// and it was asked anyway (the leg into the pivot).
    fn leg(&self, rates: &Rates, from: &str, to: Currency) -> Option<(u128, u128)> {
        if let Some(fraction) = rates.fractions.get(&(from.to_string(), to)) {
            return Some(*fraction);
        }
        let back: Currency = from.parse().ok()?;
        let (p, q) = rates.fractions.get(&(to.code().to_string(), back))?;
        (*p > 0).then_some((*q, *p))
    }

    /// C → P → T as one exact fraction, if both legs are fractions.
    fn chain(&self, rates: &Rates, from: &str, to: Currency) -> Option<(u128, u128)> {
        let pivot = self.pivot?;
        if from == pivot.code() || to == pivot {
            return None;
        }
        let leg_in = self.leg(rates, from, pivot)?;
        let leg_out = self.leg(rates, pivot.code(), to)?;
        compose(leg_in, leg_out)
    }

    /// Every pair's rate: the exact fraction where there is one, else the one read.
    fn to_store(&self, rates: &Rates) -> Vec<(String, Currency, (String, String))> {
        self.every_pair(|_, _| true)
            .into_iter()
            .filter_map(|(w, t)| {
                let key = (w.currency.clone(), t);
                let parts = self
                    .exact(rates, &w.currency, t)
                    .and_then(|(p, q)| fraction_parts(p, q))
                    .or_else(|| rates.direct.get(&key).cloned())?;
                Some((key.0, t, parts))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(currency: &str, from: i64, sales: i64) -> FxWindow {
        FxWindow {
            currency: currency.into(),
            from,
            to: from + 2,
            native: Amount::parse("10").expect("test amount"),
            sales,
        }
    }

    #[test]
    fn the_pivot_whose_reads_are_in_hand_is_chosen() {
        let windows = vec![
            window("EUR", 10, 5),
            window("USD", 20, 3),
            window("JPY", 30, 1),
        ];
        // In hand: every read of the plan through USD (EUR → USD, JPY → USD, USD → any).
        let through_usd = |w: &FxWindow, t: Currency| t == Currency::Usd || w.currency == "USD";
        let plan = FxPlan::choose(&windows, &[Currency::Eur, Currency::Usd], through_usd);
        assert_eq!(plan.pivot(), Some(Currency::Usd));
        let to_ask: Vec<_> = plan
            .first_asks()
            .into_iter()
            .filter(|(w, t)| !through_usd(w, *t))
            .collect();
        assert!(to_ask.is_empty(), "nothing left to read: {}", to_ask.len());

        // Nothing in hand: the first candidate, as before the early reads.
        let plan = FxPlan::choose(&windows, &[Currency::Jpy, Currency::Usd], |_, _| false);
        assert_eq!(plan.pivot(), Some(Currency::Jpy));

        // A candidate with no window is passed over; with none left, the largest window.
        let plan = FxPlan::choose(&windows, &[Currency::Gbp], |_, _| true);
        assert_eq!(plan.pivot(), Some(Currency::Eur));
        assert_eq!(
            FxPlan::choose(&windows, &[], |_, _| true).pivot(),
            Some(Currency::Eur)
        );
    }
}
