//! Time windows from which exchange rates are read off the API's own `/revenue`.
//!
//! The API converts each sale at its pair's 8-decimal rate and rounds it to 8 decimals
//! (docs/data-contract.md §2.2), so `/revenue` over a window whose sales are all in C, asked in X, is
//! `Σ round8(a_i × r(C → X))` with every `a_i` known: [`super::pair_rate`] solves it for
//! the rate. The candidates for the rate span about `n / A` units of 1e-8 for `n` sales
//! of total `A`, so the best window has the largest amount per sale. A window is a
//! *cluster*: sales whose seconds are at most one apart, with no sale within one second
//! of either end; its `from` is one second before its first sale and its `to` one after
//! its last, so it reads the same whether the API treats `from`/`to` as inclusive or
//! exclusive. Merging clusters never helps (the mediant `(n1+n2)/(A1+A2)` is no better
//! than the better part), so for each native currency the search keeps the one-currency
//! cluster with the largest amount per sale (then the larger total, then the later).
//!
//! The search is one pass over the completed sales in time order (`sql/fx/sales.sql`),
//! streamed out of DuckDB, so it holds one cluster and one window per currency whatever
//! the number of orders. Done in SQL with window functions over all sales, it needed
//! about 50 MB of DuckDB's capped memory per million orders and failed at 3,000,000
//! orders under a 96 MB cap.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use duckdb::{Connection, params};

use crate::bot_id::BotId;
use crate::money::{Amount, PRECISION, SCALE};
use crate::sql_files::sql_file;
use crate::warehouse::LoadError;
use crate::warehouse::error::DbContext;

const FX_SALES_SQL: &str = sql_file!("fx/sales.sql").text;

/// Sales past this many in one cluster are not a window: a second-by-second stream of
/// sales is no better a window than one of its sales, and is not held in memory.
const MAX_WINDOW_SALES: usize = 1000;

/// One completed sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sale {
    /// UNIX seconds.
    pub t: i64,
    pub currency: String,
    pub amount: Amount,
}

/// One window to read rates from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FxWindow {
    pub currency: String,
    /// UNIX seconds, one before the first sale and one after the last.
    pub from: i64,
    pub to: i64,
    /// The window's native total (in `currency`).
    pub native: Amount,
    pub sales: i64,
    /// Each sale's amount (in `currency`).
    pub amounts: Vec<Amount>,
}

/// Sales at most one second apart.
#[derive(Debug)]
struct Cluster {
    /// `None` once it holds two currencies.
    currency: Option<String>,
    first_t: i64,
    last_t: i64,
    /// `None` once the sum overflows, or it holds too many sales to keep.
    amounts: Option<Vec<Amount>>,
    native: Option<Amount>,
}

/// Distinct sale amounts tracked per currency for [`FxWindows::by_amount`]; past this,
/// the currency's list is marked incomplete.
const MAX_AMOUNTS: usize = 256;

/// Every window the search found worth reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FxWindows {
    /// One per native currency: the largest amount per sale ([`better_window`]).
    pub primary: Vec<FxWindow>,
    /// Per currency, each distinct sale amount, with the window of fewest sales that
    /// holds a sale of that amount (if any one-currency cluster does): reading it gives
    /// that amount's converted figure exactly, which settles a rate the primary window
    /// left open for that amount (see `report_inputs::refresh_fx`).
    pub by_amount: BTreeMap<String, BTreeMap<Amount, Option<FxWindow>>>,
    /// Currencies with more distinct amounts than were tracked.
    pub too_many_amounts: Vec<String>,
}

/// The search, fed sales in `(t, currency)` order.
#[derive(Debug, Default)]
pub(crate) struct WindowSearch {
    cluster: Option<Cluster>,
    best: BTreeMap<String, FxWindow>,
    by_amount: BTreeMap<String, BTreeMap<Amount, Option<FxWindow>>>,
    too_many_amounts: std::collections::BTreeSet<String>,
}

impl WindowSearch {
    /// Takes the next sale in `(t, currency)` order.
    pub(crate) fn push(&mut self, sale: Sale) {
        let amounts = self.by_amount.entry(sale.currency.clone()).or_default();
        if !amounts.contains_key(&sale.amount) {
            if amounts.len() < MAX_AMOUNTS {
                amounts.insert(sale.amount, None);
            } else {
                self.too_many_amounts.insert(sale.currency.clone());
            }
        }
        if let Some(c) = &mut self.cluster
            && sale.t <= c.last_t + 1
        {
            c.last_t = sale.t;
            if c.currency.as_deref() != Some(sale.currency.as_str()) {
                c.currency = None;
            }
            c.native = c
                .native
                .and_then(|n| n.scaled().checked_add(sale.amount.scaled()))
                .map(Amount::from_scaled);
            if let Some(list) = &mut c.amounts {
                if list.len() < MAX_WINDOW_SALES {
                    list.push(sale.amount);
                } else {
                    c.amounts = None;
                }
            }
            return;
        }
        if let Some(done) = self.cluster.take() {
            self.close(done);
        }
        self.cluster = Some(Cluster {
            currency: Some(sale.currency),
            first_t: sale.t,
            last_t: sale.t,
            amounts: Some(vec![sale.amount]),
            native: Some(sale.amount),
        });
    }

    fn close(&mut self, cluster: Cluster) {
        let (Some(currency), Some(amounts), Some(native)) =
            (cluster.currency, cluster.amounts, cluster.native)
        else {
            return;
        };
        if native <= Amount::ZERO || amounts.iter().any(|a| *a <= Amount::ZERO) {
            return;
        }
        let window = FxWindow {
            currency,
            from: cluster.first_t - 1,
            to: cluster.last_t + 1,
            native,
            sales: amounts.len() as i64,
            amounts,
        };
        if let Some(amounts) = self.by_amount.get_mut(&window.currency) {
            for a in &window.amounts {
                if let Some(slot) = amounts.get_mut(a)
                    && slot.as_ref().is_none_or(|held| fewer_sales(&window, held))
                {
                    *slot = Some(window.clone());
                }
            }
        }
        let better = self
            .best
            .get(&window.currency)
            .is_none_or(|b| better_window(&window, b));
        if better {
            self.best.insert(window.currency.clone(), window);
        }
    }

    /// Every window found: the primary ones, and one per distinct amount.
    pub(crate) fn finish_all(mut self) -> FxWindows {
        if let Some(done) = self.cluster.take() {
            self.close(done);
        }
        FxWindows {
            primary: self.best.into_values().collect(),
            by_amount: self.by_amount,
            too_many_amounts: self.too_many_amounts.into_iter().collect(),
        }
    }
}

/// Whether `a` holds fewer sales than `b` (then the later window): a window of one sale
/// pins that sale's converted figure alone.
fn fewer_sales(a: &FxWindow, b: &FxWindow) -> bool {
    (a.sales, std::cmp::Reverse(a.to)) < (b.sales, std::cmp::Reverse(b.to))
}

/// Whether `a` pins a rate down better than `b`: a larger amount per sale (fewer
/// candidate rates), then a larger total, then the later window.
fn better_window(a: &FxWindow, b: &FxWindow) -> bool {
    // a.native / a.sales vs b.native / b.sales, cross-multiplied (f64 past i128).
    let cross = |x: &FxWindow, y: &FxWindow| {
        x.native
            .scaled()
            .checked_mul(i128::from(y.sales))
            .map(|v| v as f64)
            .unwrap_or_else(|| x.native.scaled() as f64 * y.sales as f64)
    };
    let (left, right) = (cross(a, b), cross(b, a));
    if left != right {
        return left > right;
    }
    (a.native, a.to) > (b.native, b.to)
}

/// Finds the windows of one bot from its synced orders: one per native currency.
pub(crate) fn find_windows(conn: &Connection, bot_id: BotId) -> Result<Vec<FxWindow>, LoadError> {
    Ok(find_all_windows(conn, bot_id)?.primary)
}

/// Finds every window of one bot from its synced orders (see [`FxWindows`]).
pub(crate) fn find_all_windows(conn: &Connection, bot_id: BotId) -> Result<FxWindows, LoadError> {
    let context = || "finding FX windows".to_string();
    let arrow_err = |source| LoadError::Arrow {
        table: "orders (FX windows)".into(),
        source,
    };
    let mut stmt = conn.prepare(FX_SALES_SQL).during(context)?;
    let mut search = WindowSearch::default();
    for batch in stmt.stream_arrow(params![bot_id]).during(context)? {
        let batch = batch.during(context)?;
        let t = batch.column(0).as_primitive::<Int64Type>();
        let currency = cast(batch.column(1), &DataType::Utf8).map_err(arrow_err)?;
        let currency = currency.as_string::<i32>();
        let amount = cast(
            batch.column(2),
            &DataType::Decimal128(PRECISION, SCALE as i8),
        )
        .map_err(arrow_err)?;
        let amount = amount.as_primitive::<Decimal128Type>();
        for i in 0..batch.num_rows() {
            search.push(Sale {
                t: t.value(i),
                currency: currency.value(i).to_string(),
                amount: Amount::from_scaled(amount.value(i)),
            });
        }
    }
    Ok(search.finish_all())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(t: i64, currency: &str, amount: &str) -> Sale {
        Sale {
            t,
            currency: currency.into(),
            amount: Amount::parse(amount).expect("test amount"),
        }
    }

    fn search(sales: Vec<Sale>) -> Vec<(String, i64, i64, String, i64)> {
        let mut s = WindowSearch::default();
        for sale in sales {
            s.push(sale);
        }
        s.finish_all()
            .primary
            .into_iter()
            .map(|w| (w.currency, w.from, w.to, w.native.to_string(), w.sales))
            .collect()
    }

    #[test]
    fn picks_the_cluster_with_the_largest_amount_per_sale() {
        // USD clusters: [10,11] = 2+3 (2.5 a sale), [30] = 7, [40,41,42] mixed with EUR.
        // EUR: [5] = 1, [20] = 2, [35] = 0.5; the mixed cluster is no window.
        let got = search(vec![
            sale(5, "EUR", "1"),
            sale(10, "USD", "2"),
            sale(11, "USD", "3"),
            sale(20, "EUR", "2"),
            sale(30, "USD", "7"),
            sale(35, "EUR", "0.5"),
            sale(40, "USD", "40"),
            sale(41, "USD", "50"),
            sale(42, "EUR", "30"),
        ]);
        assert_eq!(
            got,
            vec![
                ("EUR".into(), 19, 21, "2".into(), 1),
                ("USD".into(), 29, 31, "7".into(), 1),
            ]
        );
        // One big sale beats many small ones of a larger total.
        let got = search(vec![
            sale(10, "JPY", "1000"),
            sale(11, "JPY", "1000"),
            sale(12, "JPY", "1000"),
            sale(20, "JPY", "1500"),
        ]);
        assert_eq!(got, vec![("JPY".into(), 19, 21, "1500".into(), 1)]);
    }

    #[test]
    fn a_cluster_two_seconds_from_its_neighbours_is_clean_one_second_is_not() {
        let got = search(vec![
            sale(8, "EUR", "1"),
            sale(10, "USD", "2"),
            sale(12, "EUR", "1"),
        ]);
        assert!(
            got.contains(&("USD".into(), 9, 11, "2".into(), 1)),
            "{got:?}"
        );
        let got = search(vec![
            sale(9, "EUR", "1"),
            sale(10, "USD", "2"),
            sale(12, "EUR", "1"),
        ]);
        assert!(!got.iter().any(|w| w.0 == "USD"), "{got:?}");
    }

    #[test]
    fn ties_go_to_the_later_window_and_zero_amounts_are_skipped() {
        let got = search(vec![
            sale(10, "USD", "5"),
            sale(20, "EUR", "0"),
            sale(30, "USD", "5"),
        ]);
        assert_eq!(got, vec![("USD".into(), 29, 31, "5".into(), 1)]);
    }

    #[test]
    fn each_distinct_amount_has_its_smallest_window() {
        let mut s = WindowSearch::default();
        s.push(sale(10, "BTC", "0.0012"));
        s.push(sale(11, "BTC", "0.00025"));
        s.push(sale(20, "BTC", "0.00025"));
        s.push(sale(30, "BTC", "0.00016484"));
        s.push(sale(30, "EUR", "5"));
        let all = s.finish_all();
        let btc = &all.by_amount["BTC"];
        let window_of = |a: &str| {
            btc[&Amount::parse(a).expect("amount")]
                .as_ref()
                .map(|w| (w.from, w.to))
        };
        assert_eq!(window_of("0.0012"), Some((9, 12)));
        // Alone at 20 beats the pair at 10-11.
        assert_eq!(window_of("0.00025"), Some((19, 21)));
        // Only in a cluster with a EUR sale: no window.
        assert_eq!(window_of("0.00016484"), None);
        assert_eq!(all.primary.len(), 1);
        assert!(all.too_many_amounts.is_empty());
    }

    #[test]
    fn a_window_keeps_each_sale_amount() {
        let mut s = WindowSearch::default();
        s.push(sale(10, "JPY", "100"));
        s.push(sale(10, "JPY", "250"));
        s.push(sale(11, "JPY", "300"));
        let got = s.finish_all().primary;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].native.to_string(), "650");
        let amounts: Vec<String> = got[0].amounts.iter().map(|a| a.to_string()).collect();
        assert_eq!(amounts, ["100", "250", "300"]);
    }
}
