//! The fetching half of a stream: pages from the API, handed to the stream's loader
//! through a bounded channel (so memory stays bounded however long the stream is).

use std::collections::BTreeSet;

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
    /// On a full scan: which PENDING orders to re-fetch by key afterwards, chosen from the
    /// rows just read exactly as an incremental run chooses them from the warehouse.
    /// `/orders/{order_key}` alone carries `member_email`; re-fetching the same orders
    /// after either kind of run keeps the warehouse independent of which kind ran (a
    /// killed run completed by an incremental one equals one full run). `None`: no
    /// re-fetch (a dry run).
    pub pending_after_scan: Option<PendingWindow>,
}

/// Which PENDING orders a run re-fetches by key: the newest `limit` of those older than
/// the newest order minus `lookback_secs` (newest first, ties by key descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingWindow {
    pub lookback_secs: i64,
    pub limit: usize,
}

/// Chooses, while a full scan pages, the PENDING orders a [`PendingWindow`] names. Memory
/// stays bounded: older candidates are kept `limit` at most; those inside the window so
/// far (few: the window is days long) are kept until the newest order is known.
#[derive(Debug)]
struct PendingPicker {
    window: PendingWindow,
    newest: Option<i64>,
    /// (order_date, order_key) older than the window as known so far; the `limit` largest.
    older: BTreeSet<(i64, String)>,
    /// Candidates inside the window as known so far (it only moves later as pages come).
    recent: Vec<(i64, String)>,
}

impl PendingPicker {
    fn new(window: PendingWindow) -> PendingPicker {
        PendingPicker {
            window,
            newest: None,
            older: BTreeSet::new(),
            recent: Vec::new(),
        }
    }

    fn cutoff(&self) -> Option<i64> {
        self.newest
            .map(|n| n.saturating_sub(self.window.lookback_secs))
    }

    fn keep_older(&mut self, candidate: (i64, String)) {
        self.older.insert(candidate);
        while self.older.len() > self.window.limit {
            self.older.pop_first();
        }
    }

    fn see(&mut self, rows: &[Value], dates: &[Option<i64>]) {
        self.newest = dates.iter().flatten().copied().chain(self.newest).max();
        let cutoff = self.cutoff().unwrap_or(i64::MIN);
        // Earlier candidates the window has now passed.
        let (passed, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.recent)
            .into_iter()
            .partition(|c| c.0 < cutoff);
        self.recent = still;
        for candidate in passed {
            self.keep_older(candidate);
        }
        for (row, date) in rows.iter().zip(dates) {
            let pending = row
                .get("order_status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("PENDING"));
            let (Some(date), Some(key), true) = (*date, key_text(row), pending) else {
                continue;
            };
            if date < cutoff {
                self.keep_older((date, key));
            } else {
                self.recent.push((date, key));
            }
        }
    }

    /// The keys to re-fetch, newest first.
    fn keys(self) -> Vec<String> {
        let cutoff = self.cutoff().unwrap_or(i64::MIN);
        let mut all: Vec<(i64, String)> = self
            .older
            .into_iter()
            .chain(self.recent)
            .filter(|c| c.0 < cutoff)
            .collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        all.dedup();
        all.truncate(self.window.limit);
        all.into_iter().map(|(_, key)| key).collect()
    }
}

fn key_text(row: &Value) -> Option<String> {
    match row.get("order_key")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Orders newest-first: all of them on a full scan; otherwise until a whole page is older
/// than the cutoff. Then the old pending orders one by one (those the plan names, or on a
/// full scan those its [`PendingWindow`] picks from the rows read), counted on `rereads`
/// (the caller ends that line).
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
    let mut picker = plan
        .pending_after_scan
        .filter(|_| plan.full_scan)
        .map(PendingPicker::new);
    let mut newest: Option<i64> = None;
    while let Some(page) = pager.next_page().await {
        let rows = page?.rows;
        let dates: Vec<Option<i64>> = rows.iter().map(order_date).collect();
        newest = dates.iter().flatten().copied().chain(newest).max();
        if let Some(picker) = picker.as_mut() {
            picker.see(&rows, &dates);
        }
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
    let pending_keys = match picker {
        Some(picker) => picker.keys(),
        None => plan.pending_keys,
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(key: &str, date: i64, status: &str) -> Value {
        json!({"order_key": key, "order_date": date, "order_status": status})
    }

    fn pick(window: PendingWindow, pages: &[Vec<Value>]) -> Vec<String> {
        let mut picker = PendingPicker::new(window);
        for rows in pages {
            let dates: Vec<Option<i64>> = rows.iter().map(order_date).collect();
            picker.see(rows, &dates);
        }
        picker.keys()
    }

    #[test]
    fn picks_the_newest_pending_orders_older_than_the_window() {
        let window = PendingWindow {
            lookback_secs: 100,
            limit: 2,
        };
        let rows = vec![
            order("new", 1_000, "PENDING"),
            order("in-window", 950, "pending"),
            order("done", 880, "COMPLETED"),
            order("b", 850, "PENDING"),
            order("a", 850, "PENDING"),
            order("old", 10, "PENDING"),
        ];
        // Window edge at 900: "b" and "a" (same date, larger key first) are the newest two.
        assert_eq!(pick(window, std::slice::from_ref(&rows)), vec!["b", "a"]);
        // The same rows in any order and split over pages: the same choice.
        let mut shuffled = rows.clone();
        shuffled.reverse();
        let pages: Vec<Vec<Value>> = shuffled.chunks(2).map(|c| c.to_vec()).collect();
        assert_eq!(pick(window, &pages), vec!["b", "a"]);
        let wide = PendingWindow {
            lookback_secs: 10,
            limit: 10,
        };
        assert_eq!(pick(wide, &pages), vec!["in-window", "b", "a", "old"]);
    }
}
