//! The check of old sales before the lookback window: changes the count of sales cannot
//! show (a refund and a late completion in one period, a changed amount) still bring a
//! full scan in the same run; a warehouse error there is an error, not a difference; and
//! pending re-reads that mostly answer 404 are warned about and counted.

use duckdb::Connection;
use rust_decimal::Decimal;
use tgm_sync::error::Error;
use tgm_sync::fx::reconcile::old_sales_differ;
use tgm_sync::sim::{Order, OrderStatus, Quirks, SimData};
use tgm_sync::warehouse::state::read_state;

use crate::support::*;
use crate::sync::{assert_equals_sim, open, sync_once};

const DAY: i64 = 86_400;

/// When the last full scan of orders committed (microseconds), from the warehouse.
fn last_full_scan(settings: &tgm_sync::config::Settings) -> Option<i64> {
    let conn = open(settings);
    read_state(&conn, BOT, "orders")
        .expect("state reads")
        .last_full_scan_micros
}

/// Orders of `status` between 20 and 200 days before the newest order (well before the
/// 3-day lookback window), oldest first.
fn old_orders(data: &SimData, status: OrderStatus) -> Vec<Order> {
    let newest = data.orders.front().expect("orders").order_date;
    let mut old: Vec<Order> = data
        .orders
        .iter()
        .filter(|o| o.order_status == status)
        .filter(|o| o.order_date < newest - 20 * DAY && o.order_date > newest - 200 * DAY)
        .cloned()
        .collect();
    old.reverse();
    old
}

fn completed_sales(data: &SimData) -> usize {
    data.orders.iter().filter(|o| o.is_sale()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_refund_and_late_completion_with_the_count_unchanged_bring_a_full_scan() {
    let server = start_sim(sim_options(900, 150)).await;
    let dir = tempdir();
    let mut settings = settings_for(&server, dir.path());
    // No pending re-reads: the late completion is seen by nothing but the check of
    // old sales (a re-read would show it, and move the count).
    settings.orders.pending_reread_limit = 0;
    sync_once(&settings).await;
    let first_scan = last_full_scan(&settings).expect("the first sync is a full scan");

    let h = &server.handle;
    let data = h.data();
    let refunded = old_orders(&data, OrderStatus::Completed)
        .into_iter()
        .next()
        .expect("an old completed order");
    let completed = old_orders(&data, OrderStatus::Pending)
        .into_iter()
        .find(|o| o.amount != refunded.amount || o.currency != refunded.currency)
        .expect("an old pending order of another amount");
    let sales_before = completed_sales(&data);
    assert!(h.set_order_status(&refunded.order_key, OrderStatus::Refunded));
    assert!(h.set_order_status(&completed.order_key, OrderStatus::Completed));
    let data = h.data();
    assert_eq!(
        completed_sales(&data),
        sales_before,
        "the number of sales is as before"
    );

    sync_once(&settings).await;
    let second_scan = last_full_scan(&settings);
    assert!(
        second_scan > Some(first_scan),
        "a full scan ran in the second sync (last full scan {first_scan} then {second_scan:?})"
    );
    assert_equals_sim(&open(&settings), &data);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_changed_amount_brings_a_full_scan_even_with_float_revenue() {
    let mut options = sim_options(900, 150);
    options.plans = 13; // several native currencies: rates read off windows are needed
    options.quirks = Quirks {
        float_revenue: true,
        ..Quirks::default()
    };
    let server = start_sim(options).await;
    let dir = tempdir();
    let settings = settings_for(&server, dir.path());
    sync_once(&settings).await;
    let first_scan = last_full_scan(&settings).expect("the first sync is a full scan");
    let h = &server.handle;
    let currencies: std::collections::BTreeSet<_> = h
        .data()
        .orders
        .iter()
        .filter(|o| o.is_sale())
        .map(|o| o.currency)
        .collect();
    assert!(currencies.len() > 1, "sales in several currencies");

    // Nothing changed: the float residue of /revenue is no difference.
    sync_once(&settings).await;
    assert_eq!(
        last_full_scan(&settings),
        Some(first_scan),
        "a quiet run under float revenue made no full scan"
    );

    // One old sale costs a cent more (in its own currency): same count, other revenue.
    let changed = old_orders(&h.data(), OrderStatus::Completed)
        .into_iter()
        .next()
        .expect("an old completed order");
    let cent = Decimal::new(1, 2);
    assert!(h.set_order_amount(&changed.order_key, changed.amount + cent));
    let data = h.data();
    sync_once(&settings).await;
    let second_scan = last_full_scan(&settings);
    assert!(
        second_scan > Some(first_scan),
        "a full scan ran after {} changed from {} to {} (last full scan {first_scan} then {second_scan:?})",
        changed.order_key,
        changed.amount,
        changed.amount + cent
    );
    assert_equals_sim(&open(&settings), &data);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_error_in_the_old_sales_check_is_an_error_not_a_difference() {
    let server = start_sim(sim_options(50, 10)).await;
    let client = client_for(&server);
    let dir = tempdir();
    // A DuckDB file without the orders table: the check cannot read its side.
    let conn = Connection::open(dir.path().join("empty.duckdb")).expect("duckdb opens");
    let memo = tgm_sync::fx::memo::RevenueMemo::default();
    let got = old_sales_differ(&client, &conn, BOT, 1_700_000_000, &memo).await;
    match got {
        Err(Error::Load(e)) => {
            assert!(
                e.to_string().contains("before the lookback window"),
                "the error says what was being done: {e}"
            );
        }
        other => panic!("expected a warehouse error, got {other:?}"),
    }
    assert_eq!(
        server.handle.requests().get("revenue"),
        0,
        "no /revenue request on a warehouse that cannot be read"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_pending_rereads_answering_404_are_warned_about_and_counted() {
    // A month of steady trade: old PENDING orders of every age from 3 days.
    let mut options = sim_options(900, 150);
    options.history_days = Some(30);
    let server = start_sim(options).await;
    let dir = tempdir();
    let url = server.base_url();
    let out = sync_command(&url, dir.path())
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Quiet runs, so that the next one is the 12th since the full scan: each old PENDING
    // order is due after as many runs as its age in days, so those 3, 4, 6 and 12 days
    // old are re-read in it.
    let quiet = 11;
    let settings = settings_for(&server, dir.path());
    for _ in 0..quiet {
        sync_once(&settings).await;
    }

    // The old pending orders, all gone from the API.
    let data = server.handle.data();
    let newest = data.orders.front().expect("orders").order_date;
    let pending: Vec<String> = data
        .orders
        .iter()
        .filter(|o| o.order_status == OrderStatus::Pending && o.order_date < newest - 3 * DAY)
        .map(|o| o.order_key.clone())
        .collect();
    assert_eq!(server.handle.remove_orders(&pending), pending.len());

    server.handle.reset_counts();
    let out = sync_command(&url, dir.path())
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let reread = server.handle.requests().get("orders/key");
    assert!(reread >= 3, "old pending orders re-read: {reread}");
    assert!(
        stderr.contains("most re-read pending orders answered 404"),
        "a warning names the 404s:\n{stderr}"
    );
    let conn = Connection::open(dir.path().join("warehouse.duckdb")).expect("warehouse");
    let counts: Vec<i64> = conn
        .prepare("SELECT refetch_not_found FROM _sync_runs ORDER BY run_id")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut expected = vec![0; 1 + quiet];
    expected.push(reread as i64);
    assert_eq!(counts, expected, "404 re-reads per run in _sync_runs");
    server.shutdown().await;
}
