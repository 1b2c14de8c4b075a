//! Exchange rates read while the streams load: a run after the first reads its canaries
//! off the windows the warehouse already holds, at the start of the run instead of after
//! the streams, and reads again only what the run changed (a window moved by new sales).
//! The rates stay the simulator's own 8-decimal pair rates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use serde_json::Value;
use tgm_sync::currency::Currency;
use tgm_sync::sim::{FaultOptions, OrderStatus, RequestInfo, SimHandle};

use crate::nightly::{assert_rates_exact, native_currencies, synced_in_many_currencies};
use crate::support::newest_order_date;
use crate::sync::{open, sync_once};

/// One request as the simulator saw it: sequence number, method path, and for
/// `/revenue` its `from`, `to` and `currency`.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) seq: u64,
    pub(crate) path: String,
    pub(crate) window: Option<(String, String, String)>,
}

/// Records every request the simulator answers from now on.
pub(crate) fn record_requests(handle: &SimHandle) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    handle.set_response_hook(Some(Arc::new(move |info: &RequestInfo, _: &mut Value| {
        let param = |name: &str| info.param(name).unwrap_or_default().to_string();
        let window = (info.method_path == "revenue")
            .then(|| (param("from"), param("to"), param("currency").to_uppercase()));
        sink.lock().expect("request log").push(Seen {
            seq: info.seq,
            path: info.method_path.clone(),
            window,
        });
    })));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_after_the_first_reads_its_rates_while_the_streams_load() {
    let (server, _dir, settings) = synced_in_many_currencies().await;
    let n = native_currencies(&open(&settings)).len();
    assert!(n >= 8, "a data set in many currencies: {n}");

    // Latency makes the streams' tail (pages, re-reads by key) take a while.
    server.handle.set_faults(FaultOptions {
        latency_ms: 10,
        ..FaultOptions::default()
    });
    let seen = record_requests(&server.handle);
    sync_once(&settings).await;
    server.handle.set_response_hook(None);
    let seen = seen.lock().expect("request log").clone();

    // Nothing changed: each native currency's window is read for its canary (in the
    // currency the reconciliation reads it in), not in all 12 pairs.
    let mut by_window: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for s in &seen {
        if let Some((from, to, currency)) = &s.window
            && from != "0"
        {
            by_window
                .entry((from.clone(), to.clone()))
                .or_default()
                .insert(currency.clone());
        }
    }
    assert_eq!(
        by_window.len(),
        n,
        "one window per native currency: {by_window:?}"
    );
    let first_rate_read = seen
        .iter()
        .filter(|s| s.window.as_ref().is_some_and(|(from, _, _)| from != "0"))
        .map(|s| s.seq)
        .min()
        .expect("reads");
    let last_stream_request = seen
        .iter()
        .filter(|s| matches!(s.path.as_str(), "orders" | "orders/key" | "members"))
        .map(|s| s.seq)
        .max()
        .expect("the streams made requests");
    assert!(
        first_rate_read < last_stream_request,
        "the rates were read after the streams (first read #{first_rate_read}, \
         last stream request #{last_stream_request})"
    );
    // Each window in each currency once: nothing was asked twice.
    let mut asked: BTreeMap<&(String, String, String), usize> = BTreeMap::new();
    for s in &seen {
        if let Some(w) = &s.window {
            *asked.entry(w).or_default() += 1;
        }
    }
    let twice: Vec<_> = asked.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "/revenue asked more than once: {twice:?}");
    assert_rates_exact(&open(&settings));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_the_run_moves_is_read_again_and_the_rates_stay_exact() {
    let (server, _dir, settings) = synced_in_many_currencies().await;

    // A sale bigger than any before, alone in its minute, in the currency of the most
    // sales: that currency's window moves to it, after the early reads used the old one.
    let data = server.handle.data();
    let currency = {
        let mut counts: BTreeMap<Currency, usize> = BTreeMap::new();
        for o in data
            .orders
            .iter()
            .filter(|o| o.order_status == OrderStatus::Completed)
        {
            *counts.entry(o.currency).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(c, n)| (*n, *c))
            .map(|(c, _)| c)
            .expect("sales")
    };
    let plan_id = data
        .plans
        .iter()
        .find(|p| p.currency == currency)
        .map(|p| p.plan_id)
        .expect("a plan in that currency");
    let newest = newest_order_date(&data);
    let t = newest + 60;
    let big: Decimal = "98765432109.123456789".parse().expect("a decimal");
    server.handle.add_sale(plan_id, big, currency, t);

    let seen = record_requests(&server.handle);
    sync_once(&settings).await;
    server.handle.set_response_hook(None);
    let seen = seen.lock().expect("request log").clone();
    let (from, to) = ((t - 1).to_string(), (t + 1).to_string());
    let moved: Vec<&Seen> = seen
        .iter()
        .filter(|s| {
            s.window
                .as_ref()
                .is_some_and(|(f, tt, _)| *f == from && *tt == to)
        })
        .collect();
    assert!(
        !moved.is_empty(),
        "the {} window the run added ([{from}, {to})) was not read",
        currency.code()
    );
    assert_rates_exact(&open(&settings));
    server.shutdown().await;
}
