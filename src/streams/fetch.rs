//! The fetching half of a stream: pages from the API, handed to the stream's loader
//! through a bounded channel (so memory stays bounded however long the stream is).

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::api::pager::{PageRequest, Pager};
use crate::api::{ApiClient, ApiError, Method};

use super::catalog::FetchSpec;
use crate::progress::PhaseLine;

/// What the fetcher tells the loader.
#[derive(Debug)]
pub enum LoaderMsg {
    /// Rows of one page, in API order.
    Page(Vec<Value>),
    /// Orders re-fetched one by one (still-PENDING orders older than the lookback), and
    /// how many of the keys asked for answered 404.
    Refetched { rows: Vec<Value>, not_found: u64 },
    /// Fetching finished: everything the stream returned has been sent.
    Done(FetchSummary),
}

/// How the fetch went, for the loader's state and the run record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchSummary {
    /// Every row of the endpoint was read (soft deletes are allowed).
    pub full_scan: bool,
    /// Orders: newest `order_date` seen, UNIX seconds.
    pub newest: Option<i64>,
}

/// Sends a message; a closed channel means the loader failed, which it reports itself.
async fn send(tx: &mpsc::Sender<LoaderMsg>, msg: LoaderMsg) -> bool {
    tx.send(msg).await.is_ok()
}

/// Reads a whole endpoint (paged or single) and sends it to the loader. The read counts
/// as a full scan (which may soft-delete) only if every page boundary was gap-free.
pub async fn fetch_all(
    client: &ApiClient,
    spec: FetchSpec,
    pages_in_flight: usize,
    tx: mpsc::Sender<LoaderMsg>,
) -> Result<(), ApiError> {
    let mut complete = true;
    match spec.page_limit {
        None => {
            let method = (spec.method)();
            let rows = client.get_list(&method, &[]).await?;
            if !send(&tx, LoaderMsg::Page(rows)).await {
                return Ok(());
            }
        }
        Some(limit) => {
            let mut pager = Pager::new(
                client.clone(),
                PageRequest {
                    method: (spec.method)(),
                    params: Vec::new(),
                    limit,
                    pages_in_flight,
                    prefetch_pages: None,
                    key_of: spec.key_of,
                },
            );
            while let Some(page) = pager.next_page().await {
                if !send(&tx, LoaderMsg::Page(page?.rows)).await {
                    return Ok(());
                }
            }
            complete = pager.unrepaired() == 0;
        }
    }
    let done = FetchSummary {
        full_scan: complete,
        newest: None,
    };
    send(&tx, LoaderMsg::Done(done)).await;
    Ok(())
}

/// More than half of the re-fetched orders answered 404.
fn most_not_found(not_found: u64, asked: u64) -> bool {
    not_found > 0 && not_found * 2 > asked
}

/// The order_date of a raw order row, if readable.
fn order_date(row: &Value) -> Option<i64> {
    match row.get("order_date")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What the orders fetch needs to know from the warehouse.
#[derive(Debug, Clone)]
pub struct OrdersPlan {
    pub full_scan: bool,
    /// Rows older than this (UNIX seconds) are already synced; `None` on a full scan.
    pub cutoff: Option<i64>,
    /// Still-PENDING orders older than the cutoff, to re-fetch by key.
    pub pending_keys: Vec<String>,
    /// Pages the incremental pass is expected to need (no requests beyond, unless needed).
    pub expected_pages: Option<u64>,
    /// `false`: no `/orders` pages, only the pending keys (the re-read pass that follows
    /// a full scan, or a reconciliation of the older sales finding no difference).
    pub list: bool,
}

/// Orders newest-first: all of them on a full scan; otherwise until a whole page is older
/// than the cutoff (no pages at all when `plan.list` is false). Then the old pending
/// orders the plan names, one by one, counted on `rereads` (the caller ends that line).
pub async fn fetch_orders(
    client: &ApiClient,
    spec: FetchSpec,
    pages_in_flight: usize,
    plan: OrdersPlan,
    tx: mpsc::Sender<LoaderMsg>,
    rereads: &PhaseLine,
) -> Result<(), ApiError> {
    let mut pager = Pager::new(
        client.clone(),
        PageRequest {
            method: Method::Orders,
            params: Vec::new(),
            limit: spec.page_limit.unwrap_or(100),
            pages_in_flight,
            prefetch_pages: plan.expected_pages,
            key_of: spec.key_of,
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
            "re-fetching pending orders older than the lookback window"
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
                "most re-fetched pending orders answered 404 (/orders/{{key}}): their status stays as last synced; check the base URL, or run a full refresh"
            );
        }
        if !send(&tx, LoaderMsg::Refetched { rows, not_found }).await {
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
