//! Do the warehouse's sales before the lookback window still match the API's? An
//! incremental run reads only recent orders, so a refund, a late completion or a changed
//! amount further back is seen here or not at all.
//!
//! Both the number of sales and their revenue are compared with `/revenue` over the same
//! span: a refund and a late completion in one period leave the count as it was, and a
//! changed amount never moves it. Revenue is asked in the currency most of the old sales
//! were paid in; the other currencies' sums are converted at today's rate, read off
//! `/revenue` over one window of each (as the exchange-rate capture does, see
//! [`crate::fx::windows`]), so no stored rate can be stale. The comparison allows for the
//! API's own rounding: 18 places, or an f64 sum's residue (see
//! [`crate::fx::residue::revenue_slack`]).

use std::fmt;
use std::ops::ControlFlow;

use duckdb::{Connection, params};
use futures::StreamExt;

use crate::api::ApiClient;
use crate::bot_id::BotId;
use crate::currency::Currency;
use crate::error::Error;
use crate::fx::memo::RevenueMemo;
use crate::fx::windows::{FxWindow, find_windows};
use crate::money::Amount;
use crate::sql_files::sql_file;
use crate::warehouse::LoadError;
use crate::warehouse::error::DbContext;

/// How the older sales differ.
#[derive(Debug, Clone, PartialEq)]
pub enum OldSalesDiffer {
    /// The number of sales.
    Sales { api: i64, warehouse: i64 },
    /// Their revenue in `currency`, beyond the API's rounding.
    Revenue {
        currency: String,
        api: Amount,
        warehouse: f64,
    },
    /// A window read for a rate no longer holds the sales the warehouse has in it.
    RateWindow {
        currency: String,
        api: i64,
        warehouse: i64,
    },
}

impl fmt::Display for OldSalesDiffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OldSalesDiffer::Sales { api, warehouse } => {
                write!(f, "{api} sales in the API, {warehouse} in the warehouse")
            }
            OldSalesDiffer::Revenue {
                currency,
                api,
                warehouse,
            } => write!(
                f,
                "revenue {api} {currency} in the API, {warehouse} {currency} in the warehouse"
            ),
            OldSalesDiffer::RateWindow {
                currency,
                api,
                warehouse,
            } => write!(
                f,
                "a {currency} window has {api} sales in the API, {warehouse} in the warehouse"
            ),
        }
    }
}

/// One currency's sales before the boundary, in the warehouse.
#[derive(Debug)]
struct NativeSales {
    /// `None`: orders without a currency, or one the API does not report in.
    currency: Option<Currency>,
    code: Option<String>,
    native: Amount,
    sales: i64,
}

/// f64's machine epsilon, 2^-52.
const EPSILON: f64 = f64::EPSILON;

/// Half of the 1e-8 unit each converted sale is rounded to (docs/data-contract.md §2.2).
const HALF_UNIT: f64 = 0.5e-8;

/// Compares the sales before `cutoff` in the API and in the warehouse; `Some` when they
/// differ. Fails on an API error, or a warehouse that could not be read (never taken for
/// a difference).
pub async fn old_sales_differ(
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
    cutoff: i64,
    memo: &RevenueMemo,
) -> Result<Option<OldSalesDiffer>, Error> {
    let boundary = boundary_after(conn, bot_id, cutoff)?;
    let by_currency = native_sales(conn, bot_id, boundary)?;
    let ours: i64 = by_currency.iter().map(|c| c.sales).sum();
    // The currency most old sales were paid in: its sum needs no rate.
    let target = majority(&by_currency);
    let api = client.revenue(0, boundary, target).await?.figures;
    if api.sales != ours {
        return Ok(Some(OldSalesDiffer::Sales {
            api: api.sales,
            warehouse: ours,
        }));
    }
    if by_currency.iter().any(|c| c.currency.is_none()) {
        // A sum the API's currencies cannot express: the count is all there is to compare.
        return Ok(None);
    }
    let Some(target) = target else {
        return Ok(None);
    };
    let mut expected = Expected::new(api.sales, by_currency.len());
    let windows = if by_currency.iter().any(|c| c.currency != Some(target)) {
        find_windows(conn, bot_id)?
    } else {
        Vec::new()
    };
    prefetch_rates(client, memo, &by_currency, &windows, target).await;
    let conversion = Conversion {
        client,
        memo,
        windows: &windows,
        target,
    };
    for sales in &by_currency {
        let Some(currency) = sales.currency else {
            continue;
        };
        if let ControlFlow::Break(found) = conversion.add(sales, currency, &mut expected).await? {
            return Ok(found);
        }
    }
    Ok(expected.differs(api.revenue, target, by_currency.len()))
}

/// The warehouse's revenue of the old sales in the target currency, and the error a
/// comparison with the API's may carry.
struct Expected {
    revenue: f64,
    /// Relative error: the API's float sum (`sales + 8` units of EPSILON), our own f64
    /// arithmetic (2 per currency), and each rate's: its window's float sum, plus its
    /// window's revenue rounded to 18 places.
    relative: f64,
    /// The API's rounding of each converted sale (see [`Expected::add_converted`]).
    per_sale_rounding: f64,
}

impl Expected {
    fn new(api_sales: i64, currencies: usize) -> Expected {
        Expected {
            revenue: 0.0,
            relative: (api_sales.max(0) as f64 + 8.0 + 2.0 * currencies as f64) * EPSILON,
            per_sale_rounding: 0.0,
        }
    }

    /// One currency's sales (`native` in their own currency), converted at the rate of
    /// `window`, whose revenue in the target currency is `window_revenue`.
    fn add_converted(
        &mut self,
        sales: &NativeSales,
        native: f64,
        window: &FxWindow,
        window_revenue: f64,
    ) {
        let window_native = to_f64(window.native);
        self.revenue += native * window_revenue / window_native;
        self.relative += (window.sales as f64 + 8.0) * EPSILON + 1e-18 / window_revenue.abs();
        // The API rounds each converted sale to 8 decimals (docs/data-contract.md §2.2): up to half a unit
        // per old sale, and the window's rate is known only to within its own sales'
        // rounding, `window.sales` half-units over its native total.
        self.per_sale_rounding +=
            HALF_UNIT * (sales.sales as f64 + native.abs() * window.sales as f64 / window_native);
    }

    /// The API's revenue `api` in `target` against the expected one, beyond the error
    /// both may carry.
    fn differs(&self, api: Amount, target: Currency, currencies: usize) -> Option<OldSalesDiffer> {
        let expected = self.revenue;
        let got = to_f64(api);
        let tolerance = self.relative * got.abs().max(expected.abs())
            + 1e-18 * (currencies as f64 + 1.0)
            + self.per_sale_rounding;
        ((got - expected).abs() > tolerance).then(|| OldSalesDiffer::Revenue {
            currency: target.code().to_string(),
            api,
            warehouse: expected,
        })
    }
}

/// What converting the old sales to the target currency reads: the API, the rates
/// already asked for, and one rate window per currency.
struct Conversion<'a> {
    client: &'a ApiClient,
    memo: &'a RevenueMemo,
    windows: &'a [FxWindow],
    target: Currency,
}

impl Conversion<'_> {
    /// Adds one currency's old sales to `expected`. `Break` ends the comparison: with a
    /// difference, or with `None` when no rate can be had (the count is all there is to
    /// compare).
    async fn add(
        &self,
        sales: &NativeSales,
        currency: Currency,
        expected: &mut Expected,
    ) -> Result<ControlFlow<Option<OldSalesDiffer>>, Error> {
        let native = to_f64(sales.native);
        if currency == self.target {
            expected.revenue += native;
            return Ok(ControlFlow::Continue(()));
        }
        let code = sales.code.as_deref().unwrap_or_default();
        let Some(window) = self.windows.iter().find(|w| w.currency == code) else {
            // No window clear of other currencies: no rate to convert with.
            return Ok(ControlFlow::Break(None));
        };
        let report = self
            .memo
            .revenue(self.client, window.from, window.to, Some(self.target))
            .await?;
        if report.figures.sales != window.sales {
            return Ok(ControlFlow::Break(Some(OldSalesDiffer::RateWindow {
                currency: code.to_string(),
                api: report.figures.sales,
                warehouse: window.sales,
            })));
        }
        // The window holds every old sale of this currency: a changed amount in it
        // would change the rate as much as the sum, so check the sum natively.
        if window.sales == sales.sales && window.native == sales.native {
            let differs = self.native_sum_differs(window, currency, native).await?;
            if differs.is_some() {
                return Ok(ControlFlow::Break(differs));
            }
        }
        let window_revenue = to_f64(report.figures.revenue);
        if window_revenue.is_nan() || window_revenue <= 0.0 {
            // No rate to be had from it: the count is all there is to compare.
            return Ok(ControlFlow::Break(None));
        }
        expected.add_converted(sales, native, window, window_revenue);
        Ok(ControlFlow::Continue(()))
    }

    /// The window's revenue in its own `currency` against the warehouse's `native` sum.
    async fn native_sum_differs(
        &self,
        window: &FxWindow,
        currency: Currency,
        native: f64,
    ) -> Result<Option<OldSalesDiffer>, Error> {
        let own = self
            .client
            .revenue(window.from, window.to, Some(currency))
            .await?;
        let own_slack = (window.sales as f64 + 8.0) * EPSILON * native.abs() + 1e-18;
        Ok(
            ((to_f64(own.figures.revenue) - native).abs() > own_slack).then(|| {
                OldSalesDiffer::Revenue {
                    currency: currency.code().to_string(),
                    api: own.figures.revenue,
                    warehouse: native,
                }
            }),
        )
    }
}

/// Asks every rate window the comparison below reads, a few at a time instead of one
/// after another; the answers wait in `memo`. A failed ask is left for the comparison to
/// repeat and report.
async fn prefetch_rates(
    client: &ApiClient,
    memo: &RevenueMemo,
    by_currency: &[NativeSales],
    windows: &[FxWindow],
    target: Currency,
) {
    let wanted = by_currency
        .iter()
        .filter(|c| c.currency.is_some_and(|c| c != target))
        .filter_map(|c| {
            windows
                .iter()
                .find(|w| Some(&w.currency) == c.code.as_ref())
        });
    futures::stream::iter(wanted)
        .map(|w| memo.revenue(client, w.from, w.to, Some(target)))
        .buffer_unordered(RATE_READS_IN_FLIGHT)
        .for_each(|_| async {})
        .await;
}

/// `/revenue` window reads in flight at once during the comparison.
const RATE_READS_IN_FLIGHT: usize = 4;

/// The currency of the most sales; of equal counts the later code (`native_sales` lists
/// ties by code, and `max_by_key` keeps the last maximum). `None` when that group has no
/// currency the API reports in.
fn majority(by_currency: &[NativeSales]) -> Option<Currency> {
    by_currency
        .iter()
        .max_by_key(|c| c.sales)
        .and_then(|c| c.currency)
}

/// The currency the reconciliation of the sales before `cutoff` reads the rate windows
/// in, as the warehouse is now: that of most of those sales.
pub(crate) fn old_sales_majority(
    conn: &Connection,
    bot_id: BotId,
    cutoff: i64,
) -> Result<Option<Currency>, LoadError> {
    let boundary = boundary_after(conn, bot_id, cutoff)?;
    Ok(majority(&native_sales(conn, bot_id, boundary)?))
}

/// The first second from `cutoff` at which the warehouse has no order, so that an API
/// reading `to` as inclusive or exclusive counts the same orders.
fn boundary_after(conn: &Connection, bot_id: BotId, cutoff: i64) -> Result<i64, LoadError> {
    let free: Option<i64> = conn
        .query_row(
            sql_file!("fx/free_second.sql").text,
            params![cutoff, cutoff, bot_id],
            |r| r.get(0),
        )
        .during(|| "finding a free second before the lookback window".into())?;
    // An hour with an order every second: any second is as good as another.
    Ok(free.unwrap_or(cutoff))
}

/// The warehouse's sales before `boundary`, per currency, most sales first.
fn native_sales(
    conn: &Connection,
    bot_id: BotId,
    boundary: i64,
) -> Result<Vec<NativeSales>, LoadError> {
    let context = || "summing the sales before the lookback window".to_string();
    let mut stmt = conn
        .prepare(sql_file!("fx/native_sales.sql").text)
        .during(context)?;
    let rows = stmt
        .query_map(params![bot_id, boundary], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .during(context)?;
    let mut out = Vec::new();
    for row in rows {
        let (code, native, sales) = row.during(context)?;
        // DuckDB writes a DECIMAL(38,18) sum as a plain decimal; were it not readable,
        // the sum would count as one the API's currencies cannot express.
        let parsed = Amount::parse(&native).ok();
        let currency = code
            .as_deref()
            .and_then(|c| c.parse::<Currency>().ok())
            .filter(|_| parsed.is_some());
        let native = parsed.unwrap_or_default();
        out.push(NativeSales {
            currency,
            code,
            native,
            sales,
        });
    }
    Ok(out)
}

/// An amount as the nearest f64 (through its decimal text, which rounds correctly).
fn to_f64(amount: Amount) -> f64 {
    amount.to_string().parse().unwrap_or(f64::NAN)
}
