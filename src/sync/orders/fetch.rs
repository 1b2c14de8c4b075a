//! The orders fetcher: newest first until the cutoff (or every order on a full scan),
//! then the old pending orders one by one by key (docs/data-contract.md §3.4).

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::api::pager::{PageRequest, Pager};
use crate::api::{ApiClient, ApiError, Method};
use crate::streams::orders::{PAGE_LIMIT, STREAM};
use crate::sync::pass::fetch::{FetchSummary, LoaderMsg, send};

/// More than half of the re-read orders answered 404.
fn most_not_found(not_found: u64, asked: u64) -> bool {
    not_found > 0 && not_found * 2 > asked
}

/// The order_date of a raw order row, if readable and a date the warehouse can hold (a
/// row with another is rejected, and must not move the high-water mark).
fn order_date(row: &Value) -> Option<i64> {
    let secs = match row.get("order_date")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    crate::api::row::TIMESTAMP_RANGE
        .contains(&secs)
        .then_some(secs)
}

/// Which orders one pass reads.
#[derive(Debug, Clone)]
pub(crate) struct OrdersPlan {
    pub full_scan: bool,
    /// Rows older than this (UNIX seconds) are already synced; `None` on a full scan.
    pub cutoff: Option<i64>,
    /// Still-PENDING orders older than the cutoff, to re-read by key.
    pub pending_keys: Vec<String>,
    /// Pages the incremental pass is expected to need (no requests beyond, unless needed).
    pub expected_pages: Option<u64>,
    /// `false`: no `/orders` pages, only the pending keys (the re-read pass that follows
    /// a full scan, or a reconciliation of the older sales finding no difference).
    pub list: bool,
}

impl OrdersPlan {
    /// Every order, newest first.
    pub(crate) fn full_scan() -> OrdersPlan {
        OrdersPlan {
            full_scan: true,
            cutoff: None,
            pending_keys: Vec::new(),
            expected_pages: None,
            list: true,
        }
    }
}

/// Where [`fetch_orders`] counts the old pending orders it re-reads one by one: the sync
/// stage passes its progress line (`streams` knows nothing of the terminal).
pub(crate) trait RereadCount: Sync {
    /// The re-reads begin (before any is counted).
    fn start(&self);
    /// How many re-reads there will be.
    fn set_expected(&self, n: u64);
    /// `n` more re-reads answered.
    fn add(&self, n: u64);
}

/// Orders newest-first: all of them on a full scan; otherwise until a whole page is older
/// than the cutoff (no pages at all when `plan.list` is false). Then the old pending
/// orders the plan names, one by one, counted on `rereads` (the caller ends that line).
pub(crate) async fn fetch_orders(
    client: &ApiClient,
    pages_in_flight: usize,
    max_pages: u64,
    plan: OrdersPlan,
    tx: mpsc::Sender<LoaderMsg>,
    rereads: &impl RereadCount,
) -> Result<(), ApiError> {
    let mut pager = Pager::new(
        client.clone(),
        PageRequest {
            method: Method::Orders,
            params: Vec::new(),
            limit: PAGE_LIMIT,
            pages_in_flight,
            prefetch_pages: plan.expected_pages,
            key_of: STREAM.key_of,
            max_pages,
        },
    );
    let mut newest: Option<i64> = None;
    if !plan.list {
        pager.stop();
    }
    while let Some(page) = pager.next_page().await {
        let rows = page?.rows;
        let dates: Vec<Option<i64>> = rows.iter().map(order_date).collect();
        newest = dates.iter().flatten().copied().chain(newest).max();
        let all_old = match plan.cutoff {
            Some(cutoff) => !rows.is_empty() && dates.iter().all(|d| d.is_some_and(|d| d < cutoff)),
            None => false,
        };
        if !send(&tx, LoaderMsg::Page(rows)).await {
            return Ok(());
        }
        if all_old {
            debug!(
                pages = pager.pages(),
                "orders: a whole page is older than the lookback window; paging stops"
            );
            pager.stop();
            break;
        }
    }
    let pending_keys = plan.pending_keys;
    if !pending_keys.is_empty() {
        info!(
            count = pending_keys.len(),
            "re-reading pending orders older than the lookback window"
        );
        rereads.start();
        rereads.set_expected(pending_keys.len() as u64);
        let fetched: Vec<Result<Option<Value>, ApiError>> = futures::stream::iter(pending_keys)
            .map(|key| async move {
                let answer = client.get(&Method::Order(key), &[]).await;
                rereads.add(1);
                match answer {
                    Ok(row) => Ok(Some(row)),
                    // Gone from the API: left as it is; a full scan will soft-delete it.
                    Err(ApiError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(pages_in_flight.max(1))
            .collect()
            .await;
        let asked = fetched.len() as u64;
        let mut rows = Vec::new();
        for outcome in fetched {
            if let Some(row) = outcome? {
                rows.push(row);
            }
        }
        let not_found = asked - rows.len() as u64;
        if most_not_found(not_found, asked) {
            // A few orders may be gone; most of them gone looks like a wrong path or key
            // scope, which would otherwise leave their statuses stale in silence.
            warn!(
                not_found,
                asked,
                "most re-read pending orders answered 404 (/orders/{{key}}): their status stays as last synced; check the base URL, or run a full refresh"
            );
        }
        if !send(&tx, LoaderMsg::Reread { rows, not_found }).await {
            return Ok(());
        }
    }
    send(
        &tx,
        LoaderMsg::Done(FetchSummary {
            full_scan: plan.full_scan && pager.unrepaired() == 0,
            newest,
        }),
    )
    .await;
    Ok(())
}
