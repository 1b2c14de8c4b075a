//! What a nightly run costs: exchange rates read one per pair (and exact to 8 places
//! against the simulator's own quoted rates), the reconciliation's rate reads shared with
//! the capture, and old PENDING orders re-read in rotation, a budget a run.

use std::collections::{BTreeMap, BTreeSet};

use duckdb::Connection;
use rust_decimal::Decimal;
use tgm_sync::config::Settings;
use tgm_sync::currency::Currency;
use tgm_sync::sim::rates::pair_rate;
use tgm_sync::sim::{OrderStatus, SimData, SimServer};
use tgm_sync::sync::PENDING_MAX_INTERVAL_RUNS;
use tgm_sync::warehouse::state::read_state;

use crate::fx_early::record_requests;
use crate::support::*;
use crate::sync::{assert_equals_sim, open, sync_once};

/// Native currencies of the completed orders in the warehouse.
pub(crate) fn native_currencies(conn: &Connection) -> BTreeSet<String> {
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT upper(currency) FROM orders \
             WHERE order_status = 'COMPLETED' AND _deleted_at IS NULL AND currency IS NOT NULL",
        )
        .expect("query");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The simulator's own 8-decimal rate for the pair (its exact rate quoted half away
/// from zero): `"5.46296296"` for USD → BRL.
pub(crate) fn expected_rate(from: Currency, to: Currency) -> Decimal {
    pair_rate(from, to)
}

/// A stored DECIMAL as a `Decimal`.
pub(crate) fn stored(text: &str) -> Decimal {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A simulator whose sales are in many currencies (24 plans cover every plan currency it
/// draws from), synced once.
pub(crate) async fn synced_in_many_currencies() -> (SimServer, tempfile::TempDir, Settings) {
    let mut options = sim_options(3_000, 100);
    options.plans = 24;
    let server = start_sim(options).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    (server, dir, settings)
}

/// Every `api` rate in `fx_rates` is the pair's own 8-decimal rate as the simulator
/// quotes it: where its window pins it down (`rate_low = rate_high`), equal; where it
/// does not, within the recorded bounds. No identity pair is stored, and every native
/// currency, and only those, has one into each of the 12 other report currencies.
/// Returns the pairs that are not pinned down.
pub(crate) fn assert_rates_exact(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare(
            "SELECT from_currency, to_currency, rate::VARCHAR, rate_low::VARCHAR, \
                    rate_high::VARCHAR, rate_tail::VARCHAR \
             FROM fx_rates WHERE source = 'api'",
        )
        .expect("query");
    type RateRow = (String, String, String, String, String, String);
    let rows: Vec<RateRow> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut targets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut loose = Vec::new();
    for (from, to, rate, low, high, tail) in &rows {
        assert_ne!(from, to, "identity pairs are not stored");
        let (Ok(f), Ok(t)) = (from.parse::<Currency>(), to.parse::<Currency>()) else {
            panic!("a rate between unknown currencies: {from} → {to}");
        };
        let want = expected_rate(f, t);
        let (rate, low, high) = (stored(rate), stored(low), stored(high));
        assert_eq!(stored(tail), Decimal::ZERO, "{from} → {to}: no tail");
        assert!(
            low <= rate && rate <= high,
            "{from} → {to}: {rate} within [{low}, {high}]"
        );
        if low == high {
            assert_eq!(rate, want, "{from} → {to}");
        } else {
            assert!(
                low <= want && want <= high,
                "{from} → {to}: the simulator's {want} within [{low}, {high}]"
            );
            loose.push(format!("{from}→{to}"));
        }
        targets.entry(from.clone()).or_default().insert(to.clone());
    }
    let sources: BTreeSet<String> = targets.keys().cloned().collect();
    assert_eq!(
        sources,
        native_currencies(conn),
        "a rate from every native currency"
    );
    for (from, to) in &targets {
        assert_eq!(
            to.len(),
            12,
            "{from} has a rate into each other report currency"
        );
    }
    loose
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_rates_are_read_per_pair_exact_to_8_places() {
    let (server, _dir, settings) = synced_in_many_currencies().await;
    let conn = open(&settings);
    let natives = native_currencies(&conn);
    let n = natives.len() as u64;
    assert!(n >= 8, "a data set in many currencies: {natives:?}");

    let loose = assert_rates_exact(&conn);
    // Only a currency whose sales are all small amounts leaves a rate not pinned down
    // (0.0012 BTC pins a BTC → JPY rate to about 830 steps of 1e-8).
    assert!(
        loose.len() < 12 * natives.len() / 2,
        "most rates are pinned down: {loose:?}"
    );
    // The full sync: 1 for the preferred currency, then one read per pair: 12 per
    // native currency (the API quotes each pair on its own; none follows from others);
    // a pair not pinned down costs at most one more read per distinct sale amount of its
    // currency (the windows that settle them).
    let revenue = server.handle.requests().get("revenue");
    let settling: u64 = loose
        .iter()
        .map(|pair| {
            let from = pair.split('→').next().unwrap_or_default();
            conn.query_row(
                "SELECT count(DISTINCT amount) FROM sales WHERE currency = ?",
                [from],
                |r| r.get::<_, i64>(0),
            )
            .expect("distinct amounts") as u64
        })
        .sum();
    assert!(
        (1 + 12 * n..=1 + 12 * n + settling).contains(&revenue),
        "{revenue} /revenue requests for {n} native currencies (12 per currency, at most \
         {settling} more to settle {} rates not pinned down)",
        loose.len()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_change_run_shares_the_rate_reads_of_the_reconciliation() {
    let (server, _dir, settings) = synced_in_many_currencies().await;
    let n = native_currencies(&open(&settings)).len() as u64;
    let full_scan_before = read_state(&open(&settings), BOT, "orders")
        .expect("state")
        .last_full_scan_micros;

    server.handle.reset_counts();
    sync_once(&settings).await;
    let revenue = server.handle.requests().get("revenue");
    // Preferred currency 1, the old sales in their majority currency 1, each other native
    // currency's window into it n − 1 (the canaries of those currencies, in hand for the
    // capture), the majority currency's canary 1; at most one own-currency check per
    // currency. Not every pair (12·n): nothing changed.
    let shared = 1 + 1 + n;
    assert!(
        revenue <= shared + (n - 1),
        "{revenue} /revenue requests in a no-change run with {n} native currencies (at most {})",
        shared + (n - 1)
    );
    let conn = open(&settings);
    assert_eq!(
        read_state(&conn, BOT, "orders")
            .expect("state")
            .last_full_scan_micros,
        full_scan_before,
        "nothing changed: no full scan"
    );
    assert_equals_sim(&conn, &server.handle.data());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_change_run_reads_one_canary_per_native_currency_not_every_pair() {
    let (server, _dir, settings) = synced_in_many_currencies().await;
    let n = native_currencies(&open(&settings)).len();
    assert!(n >= 8, "a data set in many currencies: {n}");
    let as_of_before: i64 = open(&settings)
        .query_row("SELECT epoch_us(max(as_of)) FROM fx_rates", [], |r| {
            r.get(0)
        })
        .expect("as_of");

    server.handle.reset_counts();
    let seen = record_requests(&server.handle);
    sync_once(&settings).await;
    server.handle.set_response_hook(None);
    let seen = seen.lock().expect("request log").clone();

    // Each rate read's window, named by the currency of the simulator's sale one second
    // in: a read in another currency is a rate read (the reconciliation's or a canary),
    // one in its own is the reconciliation's check of the native sum.
    let data = server.handle.data();
    let currency_at = |t: i64| {
        data.orders
            .iter()
            .find(|o| o.order_status == OrderStatus::Completed && o.order_date == t)
            .map(|o| o.currency.code().to_string())
            .unwrap_or_else(|| panic!("no sale at {t}"))
    };
    let mut foreign = BTreeSet::new();
    for s in &seen {
        if let Some((from, to, currency)) = &s.window
            && from != "0"
        {
            let start: i64 = from.parse().expect("from");
            if currency_at(start + 1) != *currency {
                foreign.insert((from.clone(), to.clone(), currency.clone()));
            }
        }
    }
    assert!(
        foreign.len() <= n,
        "{} rate reads in a no-change run with {n} native currencies (at most one each, \
         not 12): {foreign:?}",
        foreign.len()
    );
    // The stored rates stand, recorded again as of this run, exact.
    let conn = open(&settings);
    let as_of_after: i64 = conn
        .query_row(
            "SELECT epoch_us(min(as_of)) FROM fx_rates WHERE as_of > make_timestamp(?)",
            [as_of_before],
            |r| r.get(0),
        )
        .expect("as_of");
    let recorded: i64 = conn
        .query_row(
            "SELECT count(*) FROM fx_rates WHERE source = 'api' AND epoch_us(as_of) = ?",
            [as_of_after],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        recorded as usize,
        12 * n,
        "every pair recorded as of the second run"
    );
    assert_rates_exact(&conn);
    assert_equals_sim(&conn, &data);
    server.shutdown().await;
}

/// Old PENDING orders in the warehouse: before the newest order less the lookback.
/// The oldest of `keys` in the simulator's data (ties: the smaller key).
fn oldest_of(data: &SimData, keys: &BTreeSet<String>) -> String {
    data.orders
        .iter()
        .filter(|o| keys.contains(&o.order_key))
        .min_by_key(|o| (o.order_date, o.order_key.clone()))
        .map(|o| o.order_key.clone())
        .expect("an old pending order")
}

fn old_pending(conn: &Connection, lookback_secs: i64) -> BTreeSet<String> {
    let mut stmt = conn
        .prepare(
            "SELECT order_key FROM orders WHERE order_status = 'PENDING' AND _deleted_at IS NULL \
             AND epoch(order_date::TIMESTAMP) \
                 < (SELECT max(epoch(order_date::TIMESTAMP)) FROM orders) - ?",
        )
        .expect("query");
    stmt.query_map([lookback_secs], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The schedule of the re-reads of old PENDING orders, computed apart from the sync: each
/// order is due once the runs since its last read (by key, or by the full scan, run 0)
/// reach its age in whole days before the newest order, clamped to 1 ..=
/// `PENDING_MAX_INTERVAL_RUNS`; `budget` of the due ones a run, the most overdue first,
/// then the newest, then the larger key.
struct Schedule {
    /// (key, order date, every, run of the last read)
    orders: Vec<(String, i64, i64, i64)>,
    budget: usize,
    /// Whether some run had more orders due than the budget.
    overflowed: bool,
}

impl Schedule {
    fn new(data: &SimData, pending: &BTreeSet<String>, budget: usize) -> Schedule {
        let newest = newest_order_date(data);
        let orders = data
            .orders
            .iter()
            .filter(|o| pending.contains(&o.order_key))
            .map(|o| {
                let every = ((newest - o.order_date) / 86_400).clamp(1, PENDING_MAX_INTERVAL_RUNS);
                (o.order_key.clone(), o.order_date, every, 0)
            })
            .collect();
        Schedule {
            orders,
            budget,
            overflowed: false,
        }
    }

    /// The keys run `run` re-reads (and records them as read).
    fn run(&mut self, run: i64) -> BTreeSet<String> {
        let mut due: Vec<usize> = (0..self.orders.len())
            .filter(|&i| run - self.orders[i].3 >= self.orders[i].2)
            .collect();
        due.sort_by(|&a, &b| {
            let (oa, ob) = (&self.orders[a], &self.orders[b]);
            (run - ob.3 - ob.2, ob.1, &ob.0).cmp(&(run - oa.3 - oa.2, oa.1, &oa.0))
        });
        self.overflowed |= due.len() > self.budget;
        due.truncate(self.budget);
        due.iter()
            .map(|&i| {
                self.orders[i].3 = run;
                self.orders[i].0.clone()
            })
            .collect()
    }

    fn every(&self, key: &str) -> i64 {
        self.orders.iter().find(|o| o.0 == key).map_or(0, |o| o.2)
    }
}

/// The old PENDING orders the last run re-read by key (recorded at its start time).
fn checked_in_last_run(conn: &Connection) -> BTreeSet<String> {
    let mut stmt = conn
        .prepare(
            "SELECT order_key FROM _pending_checks \
             WHERE checked_at = (SELECT max(started_at) FROM _sync_runs)",
        )
        .expect("query");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn status_of(conn: &Connection, key: &str) -> String {
    conn.query_row(
        "SELECT order_status FROM orders WHERE order_key = ?",
        [key],
        |r| r.get(0),
    )
    .expect("the order")
}

/// Syncs `runs` times after a full sync and checks each run's re-reads by key against
/// [`Schedule`]. With `cancel`, an old PENDING order the schedule re-reads in a later run
/// is cancelled in the API first (not a sale: the reconciliation cannot see it), and must
/// be brought over by that run and not before.
async fn check_pending_schedule(
    options: tgm_sync::sim::SimOptions,
    budget: usize,
    runs: i64,
    cancel: bool,
) {
    let server = start_sim(options).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    settings.orders.pending_reread_limit = budget;
    sync_once(&settings).await;
    let lookback = settings.orders.lookback.as_secs() as i64;
    let pending = old_pending(&open(&settings), lookback);
    let data = server.handle.data();
    let mut schedule = Schedule::new(&data, &pending, budget);
    let full_scan_before = read_state(&open(&settings), BOT, "orders")
        .expect("state")
        .last_full_scan_micros;
    let cancelled = if cancel {
        // The planned re-reads, to pick the cancelled order: the last one re-read first in
        // the last run, among those the incremental pass does not list (its last pages reach
        // past the lookback window: 3 pages past its first older order keep clear of them).
        let newest = newest_order_date(&data);
        let first_old = data
            .orders
            .iter()
            .position(|o| o.order_date < newest - lookback)
            .expect("old orders");
        let listed: BTreeSet<&String> = data
            .orders
            .iter()
            .take(first_old + 300)
            .map(|o| &o.order_key)
            .collect();
        let mut planned = Schedule::new(&data, &pending, budget);
        let plan: Vec<BTreeSet<String>> = (1..=runs).map(|run| planned.run(run)).collect();
        let (caught_in, cancelled) = plan
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, keys)| {
                let earlier: BTreeSet<&String> = plan[..i].iter().flatten().collect();
                keys.iter()
                    .find(|k| !earlier.contains(k) && !listed.contains(k))
                    .map(|k| (i as i64 + 1, k.clone()))
            })
            .expect("an old pending order re-read for the first time");
        assert!(
            caught_in > 1,
            "the cancelled order waits a few runs: {caught_in}"
        );
        assert!(
            server
                .handle
                .set_order_status(&cancelled, OrderStatus::Canceled)
        );
        Some((caught_in, cancelled))
    } else {
        None
    };
    for run in 1..=runs {
        server.handle.reset_counts();
        sync_once(&settings).await;
        let expected = schedule.run(run);
        let conn = open(&settings);
        assert_eq!(
            server.handle.requests().get("orders/key"),
            expected.len() as u64,
            "run {run}: re-reads by key (budget {budget})"
        );
        assert_eq!(checked_in_last_run(&conn), expected, "run {run}");
        let Some((caught_in, cancelled)) = &cancelled else {
            continue;
        };
        let status = status_of(&conn, cancelled);
        if run < *caught_in {
            assert_eq!(status, "PENDING", "run {run}: not yet due");
        } else {
            assert_eq!(
                status,
                "CANCELED",
                "run {run}: the cancelled old order (re-read every {} runs), brought over",
                schedule.every(cancelled)
            );
        }
    }
    assert!(
        cancel || schedule.overflowed,
        "more orders due than the budget in some run"
    );
    let conn = open(&settings);
    assert_eq!(
        read_state(&conn, BOT, "orders")
            .expect("state")
            .last_full_scan_micros,
        full_scan_before,
        "by the re-reads, not a full scan"
    );
    assert_equals_sim(&conn, &server.handle.data());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_pending_orders_are_re_read_on_a_schedule_that_backs_off_with_their_age() {
    // A month of busy trade (100 orders a day): old PENDING orders of every age from 3
    // days, some past the incremental pass's last page yet due within the 8 runs, and a
    // budget none of these runs reaches.
    let mut options = sim_options(3_000, 100);
    options.history_days = Some(30);
    check_pending_schedule(options, 1_000, 8, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_more_pending_orders_are_due_than_the_budget_the_most_overdue_go_first() {
    // Three months of steady trade, about 2 old PENDING orders a day of age: a budget of
    // 1 falls behind.
    let mut options = sim_options(3_000, 100);
    options.history_days = Some(90);
    check_pending_schedule(options, 1, 6, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_change_run_on_two_year_data_re_reads_no_pending_order_and_a_late_payment_is_caught() {
    // Two years of steady trade: every old PENDING order is at least 3 days old, so none
    // is due in the two runs after the full scan that read them all (the rotation re-read
    // `pending_reread_limit` of them every run, 50 by default).
    let mut options = sim_options(3_000, 100);
    options.history_days = Some(730);
    let server = start_sim(options).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let lookback = settings.orders.lookback.as_secs() as i64;
    let pending = old_pending(&open(&settings), lookback);
    assert!(pending.len() > 100, "old pending orders: {}", pending.len());
    for run in 1..=2 {
        server.handle.reset_counts();
        sync_once(&settings).await;
        assert_eq!(
            server.handle.requests().get("orders/key"),
            0,
            "run {run}: no old PENDING order due"
        );
    }
    // The oldest of them is paid: a sale, caught by the next run's reconciliation of the
    // older sales (which brings a full scan), whatever the re-read schedule.
    let oldest = oldest_of(&server.handle.data(), &pending);
    assert!(
        server
            .handle
            .set_order_status(&oldest, OrderStatus::Completed)
    );
    sync_once(&settings).await;
    let conn = open(&settings);
    assert_eq!(status_of(&conn, &oldest), "COMPLETED", "caught in one run");
    assert_equals_sim(&conn, &server.handle.data());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_completion_before_the_window_brings_a_full_scan_not_a_re_read() {
    let server = start_sim(sim_options(3_000, 100)).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    settings.orders.pending_reread_limit = 5;
    sync_once(&settings).await;
    let lookback = settings.orders.lookback.as_secs() as i64;
    let pending = old_pending(&open(&settings), lookback);
    let data = server.handle.data();
    // The old pending order the rotation would reach last: the oldest.
    let last = oldest_of(&data, &pending);
    assert!(
        server
            .handle
            .set_order_status(&last, OrderStatus::Completed)
    );

    server.handle.reset_counts();
    sync_once(&settings).await;
    let conn = open(&settings);
    assert_eq!(
        server.handle.requests().get("orders/key"),
        0,
        "a difference in the older sales: the full scan re-reads everything, no re-reads by key"
    );
    assert_equals_sim(&conn, &server.handle.data());
    server.shutdown().await;
}
