//! What the report layer needs beyond the synced tables, read from the API after the
//! streams: the gateway code ↔ display name map, the bot's preferred currency, and
//! today's exchange rates (docs/data-contract.md §2.9).

use std::collections::BTreeSet;

use duckdb::Connection;
use futures::StreamExt;
use tracing::{info, warn};

use super::memo::RevenueMemo;
use super::pair_rate::{PairRate, solve, units_text};
use super::residue::revenue_slack;
use super::windows::{FxWindow, FxWindows, find_all_windows};
use crate::api::models::{PaymentMethodReport, RevenueReport};
use crate::api::{ApiClient, ApiError, ApiVersion, Method};
use crate::bot_id::BotId;
use crate::currency::Currency;
use crate::error::Error;
use crate::money::{Amount, SCALE};
use crate::quoted::convert_units;
use crate::warehouse::RunStamp;
use crate::warehouse::inputs::{
    CapturedRate, ReportedGateway, record_preferred_currency, replace_gateways,
    store_captured_rates, stored_api_rates,
};

/// The stream name under which unreadable report-input rows are kept in `_rejected`.
pub(crate) const REPORT_INPUTS: &str = "report_inputs";

/// Reads `/paymentMethods/report` and the synced payment methods into `gateways`. A row
/// that cannot be read is kept in `_rejected` (stream `report_inputs`) and counted; the
/// others are used. Returns how many rows were rejected.
pub(crate) async fn refresh_gateways(
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
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
pub(crate) async fn refresh_preferred_currency(
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
    at_micros: i64,
) -> Result<String, Error> {
    let report = client.revenue(0, 1, None).await?;
    let currency = report.figures.currency.to_ascii_uppercase();
    record_preferred_currency(conn, bot_id, &currency, at_micros)?;
    Ok(currency)
}

/// Reads every pair's own 8-decimal rate, from each native currency C into each of the 13
/// report currencies, off `/revenue` (windows: [`super::windows`]; solved by
/// [`super::pair_rate`]) and records them in `fx_rates` as source `api`, with the bounds
/// of the rates each window allows. Returns the number of rates recorded.
///
/// One request per pair, 12 per native currency (156 for 13): the API quotes each pair
/// on its own, to 8 decimals, so no pair follows from others (a rate composed through a
/// pivot is not the pair's rate, docs/data-contract.md §2.2), and one answer is one sum over one currency
/// pair (a window in two currencies is one equation in two unknown rates). Identity pairs
/// are not stored (`fx_effective` gives them). Answers the reconciliation or the early
/// reads already have come from `memo`.
///
/// A run reads the 12 pairs of a currency only when they may have changed
/// ([`stale_currencies`]): otherwise its stored rates are recorded again as of this run,
/// for the cost of one canary read (none when the reconciliation or the early reads
/// made it).
pub(crate) async fn refresh_fx(
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
    at_micros: i64,
    in_flight: usize,
    memo: &RevenueMemo,
) -> Result<usize, Error> {
    if client.api_version() == ApiVersion::Legacy {
        return Ok(0);
    }
    let all = find_all_windows(conn, bot_id)?;
    let windows: Vec<FxWindow> = all
        .primary
        .iter()
        .filter(|w| w.native > Amount::ZERO)
        .cloned()
        .collect();
    let stored = stored_api_rates(conn, bot_id)?;
    let stale = stale_currencies(client, memo, &all, &windows, &stored).await?;
    let (kept, to_read) = keep_or_read(stored, &windows, &stale);
    let reads = ask_all(client, memo, in_flight, pair_asks(&to_read)).await?;
    let solved = solve_reads(&reads);
    let settled = settle_all(client, memo, &all, in_flight, solved).await?;
    let extra_reads: usize = settled.iter().map(|(_, _, _, n)| n).sum();
    let kept_rates = kept.len();
    let captured = Captured::of(&all, kept, settled);
    captured.warn_open_sales();
    if captured.rates.is_empty() {
        return Ok(0);
    }
    let n = store_captured_rates(conn, bot_id, at_micros, &captured.rates)?;
    info!(
        rates = n,
        inexact = captured.inexact,
        windows = windows.len(),
        kept = kept_rates,
        reads = reads.len() + extra_reads,
        "exchange rates captured from /revenue, one read per pair (kept: stored rates a canary confirmed)"
    );
    Ok(n)
}

/// The stored rates kept (their currency still has a window, and is not stale), and the
/// windows whose pairs are read again (those of the stale currencies).
fn keep_or_read(
    stored: Vec<CapturedRate>,
    windows: &[FxWindow],
    stale: &BTreeSet<String>,
) -> (Vec<CapturedRate>, Vec<FxWindow>) {
    let kept: Vec<CapturedRate> = stored
        .into_iter()
        .filter(|r| windows.iter().any(|w| w.currency == r.from) && !stale.contains(&r.from))
        .collect();
    let to_read: Vec<FxWindow> = windows
        .iter()
        .filter(|w| stale.contains(&w.currency))
        .cloned()
        .collect();
    (kept, to_read)
}

/// Each read's rate, solved off its window's sales (`from` currency, target, rate); a
/// window that changed since the sync, or that no 8-decimal rate reproduces, gives none.
fn solve_reads(reads: &[FxRead<'_>]) -> Vec<(String, Currency, PairRate)> {
    let mut solved = Vec::with_capacity(reads.len());
    for read in reads {
        let (window, figures) = (read.window, &read.report.figures);
        if figures.sales != window.sales {
            warn!(currency = %window.currency, target = %read.target, "FX window changed since the sync (sales {} vs {}); skipped", figures.sales, window.sales);
            continue;
        }
        let slack = revenue_slack(figures.revenue, figures.sales);
        let Some(rate) = solve(&window.amounts, figures.revenue, slack) else {
            warn!(currency = %window.currency, target = %read.target, revenue = %figures.revenue, "no 8-decimal rate reproduces the window's revenue; no rate recorded");
            continue;
        };
        solved.push((window.currency.clone(), read.target, rate));
    }
    solved
}

/// A rate the primary window leaves open: narrowed with windows of the sale amounts
/// whose converted figure it leaves open, until every synced sale converts one way.
/// Each rate comes with the reads it took.
async fn settle_all(
    client: &ApiClient,
    memo: &RevenueMemo,
    all: &FxWindows,
    in_flight: usize,
    solved: Vec<(String, Currency, PairRate)>,
) -> Result<Vec<(String, Currency, PairRate, usize)>, ApiError> {
    futures::stream::iter(solved)
        .map(|(from, target, rate)| async move {
            let (rate, extra) = settle(client, memo, all, &from, target, rate).await?;
            Ok::<_, ApiError>((from, target, rate, extra))
        })
        .buffered(in_flight.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// The rates to record: those kept, then those read; with the count of inexact ones
/// and the pairs that leave some synced sale's converted figure open.
struct Captured {
    rates: Vec<CapturedRate>,
    inexact: usize,
    open_sales: Vec<String>,
}

impl Captured {
    fn of(
        all: &FxWindows,
        kept: Vec<CapturedRate>,
        settled: Vec<(String, Currency, PairRate, usize)>,
    ) -> Captured {
        let mut inexact = 0;
        let mut open_sales = Vec::new();
        let mut rates = Vec::with_capacity(settled.len() + kept.len());
        rates.extend(kept);
        for (from, target, rate, _) in settled {
            if !rate.is_exact() {
                inexact += 1;
                if leaves_open(all, &from, &rate) {
                    open_sales.push(format!("{from}→{}", target.code()));
                }
            }
            rates.push(CapturedRate {
                from,
                to: target.code().to_string(),
                rate: units_text(rate.best),
                rate_low: units_text(rate.low),
                rate_high: units_text(rate.high),
            });
        }
        Captured {
            rates,
            inexact,
            open_sales,
        }
    }

    fn warn_open_sales(&self) {
        if !self.open_sales.is_empty() {
            warn!(
                pairs = %self.open_sales.join(", "),
                "exchange rates that leave some synced sale's converted figure open (no window settles it): reports in these pairs may be off by 1e-8 a sale"
            );
        }
    }
}

/// The native currencies whose 12 pairs must be read again: those whose windows are not
/// the ones the warehouse held when the run began (the run changed their sales, or the
/// windows were not planned), those without a stored rate (with bounds) into every
/// other report currency (a new currency), and, if any canary moved, all of them.
///
/// A canary is one pair per currency ([`canary_target`]), read over the currency's
/// unchanged window: it stands when the rates its answer allows include all the stored
/// rate's bounds. The API converts "at the service's current rate"; taken here is that
/// the service moves its rates table as a whole, so one canary that moved means any
/// rate may have: every currency is read again.
async fn stale_currencies(
    client: &ApiClient,
    memo: &RevenueMemo,
    all: &FxWindows,
    windows: &[FxWindow],
    stored: &[CapturedRate],
) -> Result<BTreeSet<String>, ApiError> {
    let every: BTreeSet<String> = windows.iter().map(|w| w.currency.clone()).collect();
    let Some(start) = memo.start_windows() else {
        return Ok(every);
    };
    let mut stale = BTreeSet::new();
    for w in windows {
        let c = w.currency.as_str();
        let same_windows = start.primary.iter().find(|s| s.currency == c) == Some(w)
            && start.by_amount.get(c) == all.by_amount.get(c)
            && start.too_many_amounts.iter().any(|x| x == c)
                == all.too_many_amounts.iter().any(|x| x == c);
        let has_all = Currency::ALL
            .into_iter()
            .filter(|t| t.code() != c)
            .all(|t| stored.iter().any(|r| r.from == c && r.to == t.code()));
        if !same_windows || !has_all {
            stale.insert(w.currency.clone());
            continue;
        }
        let target = canary_target(memo, w, None);
        let figures = memo
            .revenue(client, w.from, w.to, Some(target))
            .await?
            .figures;
        let held = stored
            .iter()
            .find(|r| r.from == c && r.to == target.code())
            .and_then(|r| Some((units(&r.rate_low)?, units(&r.rate_high)?)));
        let slack = revenue_slack(figures.revenue, figures.sales);
        let now = (figures.sales == w.sales)
            .then(|| solve(&w.amounts, figures.revenue, slack))
            .flatten();
        let stands = matches!((now, held), (Some(now), Some((low, high))) if now.low <= low && high <= now.high);
        if !stands {
            info!(currency = %c, target = %target, "exchange-rate canary moved: every rate read again");
            return Ok(every);
        }
    }
    Ok(stale)
}

/// The pair a currency's canary reads its window in: one the memo already holds (the
/// reconciliation reads each window in the old sales' majority currency), else `hint`,
/// else the first report currency but its own.
pub(super) fn canary_target(
    memo: &RevenueMemo,
    window: &FxWindow,
    hint: Option<Currency>,
) -> Currency {
    let others = || {
        Currency::ALL
            .into_iter()
            .filter(|t| t.code() != window.currency)
    };
    others()
        .find(|t| memo.holds(window.from, window.to, Some(*t)))
        .or_else(|| hint.filter(|h| h.code() != window.currency))
        .or_else(|| others().next())
        .unwrap_or(Currency::ALL[0])
}

/// A stored rate's decimal text in 1e-8 units; `None` if it is not one.
fn units(text: &str) -> Option<i128> {
    Some(Amount::parse(text).ok()?.scaled() / 10_i128.pow(SCALE - 8))
}

/// Whether `amount` converts differently at the two ends of `rate`'s candidates (the
/// sum never decreases with the rate, so then some candidate in between differs too).
fn open_for(amount: Amount, rate: &PairRate) -> bool {
    let at = |k| convert_units(amount.scaled(), SCALE, k, rate.rounding);
    at(rate.low) != at(rate.high)
}

/// Whether some synced sale of `from` converts differently across `rate`'s candidates.
fn leaves_open(all: &FxWindows, from: &str, rate: &PairRate) -> bool {
    all.too_many_amounts.iter().any(|c| c == from)
        || all
            .by_amount
            .get(from)
            .is_some_and(|amounts| amounts.keys().any(|a| open_for(*a, rate)))
}

/// Narrows `rate` (from → target) with the windows of the sale amounts it leaves open,
/// largest amount first (it narrows the most): each window's answer settles its amount.
/// Returns the narrowed rate and the reads it took (memo hits included).
async fn settle(
    client: &ApiClient,
    memo: &RevenueMemo,
    all: &FxWindows,
    from: &str,
    target: Currency,
    mut rate: PairRate,
) -> Result<(PairRate, usize), ApiError> {
    let mut reads = 0;
    let Some(amounts) = all.by_amount.get(from) else {
        return Ok((rate, reads));
    };
    for (amount, window) in amounts.iter().rev() {
        if rate.is_exact() {
            break;
        }
        let Some(window) = window else { continue };
        if !open_for(*amount, &rate) {
            continue;
        }
        let figures = memo
            .revenue(client, window.from, window.to, Some(target))
            .await?
            .figures;
        reads += 1;
        if figures.sales != window.sales {
            continue;
        }
        let slack = revenue_slack(figures.revenue, figures.sales);
        if let Some(more) = solve(&window.amounts, figures.revenue, slack) {
            let (low, high) = (rate.low.max(more.low), rate.high.min(more.high));
            if low <= high {
                rate = PairRate {
                    low,
                    high,
                    best: rate.best.clamp(low, high),
                    rounding: rate.rounding,
                };
            }
        }
    }
    Ok((rate, reads))
}

/// Every pair to read: each window (one per native currency) in each report currency
/// but its own.
pub(super) fn pair_asks(windows: &[FxWindow]) -> Vec<(&FxWindow, Currency)> {
    windows
        .iter()
        .flat_map(|w| Currency::ALL.into_iter().map(move |t| (w, t)))
        .filter(|(w, t)| w.currency != t.code())
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn window(currency: &str, from: i64) -> FxWindow {
        let native = Amount::parse("10").expect("test amount");
        FxWindow {
            currency: currency.into(),
            from,
            to: from + 2,
            native,
            sales: 1,
            amounts: vec![native],
        }
    }

    #[test]
    fn every_pair_is_asked_once_and_no_identity() {
        let windows = vec![window("EUR", 10), window("USD", 20), window("XYZ", 30)];
        let asks = pair_asks(&windows);
        // 12 for each of the two report currencies, 13 for one the API does not report in.
        assert_eq!(asks.len(), 12 + 12 + 13);
        assert!(!asks.iter().any(|(w, t)| w.currency == t.code()));
        let usd_eur = asks
            .iter()
            .filter(|(w, t)| w.currency == "USD" && *t == Currency::Eur)
            .count();
        assert_eq!(usd_eur, 1);
    }
}
