//! Time windows from which exchange rates are read off the API's own `/revenue`.
//!
//! For each native currency C: the window holding the largest run of consecutive sales
//! that are all in C, with no sale in another currency within one second of either end.
//! `/revenue` over that window in currency X, divided by the window's native total, is
//! the service's rate C → X exactly as it converts revenue (SPEC §2: one rate per
//! currency). The one-second margins make the window read the same whether the API
//! treats `from`/`to` as inclusive or exclusive.
//!
//! The search is one pass over the completed sales per (second, currency) in time order
//! (`sql/fx_sales.sql`), streamed out of DuckDB, so it holds one run and one window per
//! currency whatever the number of orders. Done in SQL with window functions over all
//! sales, it needed about 50 MB of DuckDB's capped memory per million orders and failed
//! at 3,000,000 orders under a 96 MB cap.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use duckdb::{Connection, params};

use crate::load::LoadError;
use crate::load::error::DbContext;
use crate::money::{Amount, PRECISION, SCALE};

const FX_SALES_SQL: &str = include_str!("../../sql/fx_sales.sql");

/// Completed sales of one currency within one second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleSecond {
    /// UNIX seconds.
    pub t: i64,
    pub currency: String,
    pub amount: Amount,
    pub sales: i64,
}

/// One window to read rates from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxWindow {
    pub currency: String,
    /// UNIX seconds, one before the first sale and one after the last.
    pub from: i64,
    pub to: i64,
    /// The window's native total (in `currency`).
    pub native: Amount,
    pub sales: i64,
}

/// Consecutive sales in one currency.
#[derive(Debug)]
struct Run {
    currency: String,
    first_t: i64,
    last_t: i64,
    /// `None` once the sum overflows: such a run is not used.
    native: Option<Amount>,
    sales: i64,
    /// The time of the sale just before the run (in another currency).
    prev_t: Option<i64>,
}

/// The search, fed sales in `(t, currency)` order.
#[derive(Debug, Default)]
pub struct WindowSearch {
    run: Option<Run>,
    last_t: Option<i64>,
    best: BTreeMap<String, FxWindow>,
}

impl WindowSearch {
    /// Takes the next (second, currency) in `(t, currency)` order.
    pub fn push(&mut self, sale: SaleSecond) {
        match &mut self.run {
            Some(run) if run.currency == sale.currency => {
                run.last_t = sale.t;
                run.native = run
                    .native
                    .and_then(|n| n.scaled().checked_add(sale.amount.scaled()))
                    .map(Amount::from_scaled);
                run.sales += sale.sales;
            }
            _ => {
                if let Some(run) = self.run.take() {
                    self.close(run, Some(sale.t));
                }
                self.run = Some(Run {
                    currency: sale.currency,
                    first_t: sale.t,
                    last_t: sale.t,
                    native: Some(sale.amount),
                    sales: sale.sales,
                    prev_t: self.last_t,
                });
            }
        }
        self.last_t = Some(sale.t);
    }

    /// Ends a run; `next_t` is the time of the sale right after it.
    fn close(&mut self, run: Run, next_t: Option<i64>) {
        let Some(native) = run.native else { return };
        let clear_before = run.prev_t.is_none_or(|p| p < run.first_t - 1);
        let clear_after = next_t.is_none_or(|n| n > run.last_t + 1);
        if native <= Amount::ZERO || !clear_before || !clear_after {
            return;
        }
        let window = FxWindow {
            currency: run.currency,
            from: run.first_t - 1,
            to: run.last_t + 1,
            native,
            sales: run.sales,
        };
        // The largest native total wins; between equal totals, the later window.
        let better = self
            .best
            .get(&window.currency)
            .is_none_or(|b| (window.native, window.to) > (b.native, b.to));
        if better {
            self.best.insert(window.currency.clone(), window);
        }
    }

    /// The chosen window of each currency, by currency.
    pub fn finish(mut self) -> Vec<FxWindow> {
        if let Some(run) = self.run.take() {
            self.close(run, None);
        }
        self.best.into_values().collect()
    }
}

/// Finds the windows of one bot from its synced orders.
pub fn find_windows(conn: &Connection, bot_id: i64) -> Result<Vec<FxWindow>, LoadError> {
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
        let sales = batch.column(3).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            search.push(SaleSecond {
                t: t.value(i),
                currency: currency.value(i).to_string(),
                amount: Amount::from_scaled(amount.value(i)),
                sales: sales.value(i),
            });
        }
    }
    Ok(search.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(t: i64, currency: &str, amount: &str) -> SaleSecond {
        SaleSecond {
            t,
            currency: currency.into(),
            amount: Amount::parse(amount).expect("test amount"),
            sales: 1,
        }
    }

    fn search(sales: Vec<SaleSecond>) -> Vec<(String, i64, i64, String, i64)> {
        let mut s = WindowSearch::default();
        for sale in sales {
            s.push(sale);
        }
        s.finish()
            .into_iter()
            .map(|w| (w.currency, w.from, w.to, w.native.to_string(), w.sales))
            .collect()
    }

    #[test]
    fn picks_the_largest_clean_run_of_each_currency() {
        // USD runs: [10,11] = 5 (clean: EUR at 5 and 20), [30] = 7 (clean), [40,41] = 9
        // but a EUR sale at 42 touches it. EUR runs: [5] = 1, [20] = 2, [42] = 3 (last,
        // but USD at 41 touches it).
        let got = search(vec![
            sale(5, "EUR", "1"),
            sale(10, "USD", "2"),
            sale(11, "USD", "3"),
            sale(20, "EUR", "2"),
            sale(30, "USD", "7"),
            sale(35, "EUR", "0.5"),
            sale(40, "USD", "4"),
            sale(41, "USD", "5"),
            sale(42, "EUR", "3"),
        ]);
        assert_eq!(
            got,
            vec![
                ("EUR".into(), 19, 21, "2".into(), 1),
                ("USD".into(), 29, 31, "7".into(), 1),
            ]
        );
    }

    #[test]
    fn a_run_two_seconds_from_its_neighbours_is_clean_one_second_is_not() {
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
    fn two_currencies_in_one_second_split_runs_and_touch_each_other() {
        // (t, currency) order: (10, EUR) then (10, USD): both runs touch.
        let got = search(vec![
            sale(10, "EUR", "1"),
            sale(10, "USD", "2"),
            sale(20, "USD", "3"),
        ]);
        assert_eq!(got, vec![]);
    }

    #[test]
    fn ties_go_to_the_later_window_and_zero_totals_are_skipped() {
        let got = search(vec![
            sale(10, "USD", "5"),
            sale(20, "EUR", "0"),
            sale(30, "USD", "5"),
        ]);
        assert_eq!(got, vec![("USD".into(), 29, 31, "5".into(), 1)]);
    }

    #[test]
    fn a_run_sums_amounts_and_sales_exactly() {
        let mut many = sale(10, "JPY", "0.000000000000000001");
        many.sales = 3;
        let got = search(vec![
            many,
            sale(11, "JPY", "123456789012345678.999999999999999999"),
        ]);
        assert_eq!(
            got,
            vec![("JPY".into(), 9, 12, "123456789012345679".into(), 4)]
        );
    }
}
