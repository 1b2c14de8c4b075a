//! `/orders`: the one fact stream read incrementally. Newest first down to a lookback
//! window, then still-PENDING orders re-read one by one; a full scan now and then (the
//! strategy that decides which pass runs is `sync::orders`).

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::fetch::{FetchSummary, LoaderMsg, send};
use super::row::{check_row, stage_row};
use super::{Answer, Role, Strategy, StreamDef, StreamName, key_text};
use crate::api::pager::{PageRequest, Pager};
use crate::api::row::{RowError, RowReader};
use crate::api::{ApiClient, ApiError, Method};
use crate::load::table::{Layout, TableSpec};
use crate::money::Amount;

crate::staged_row! {
    /// An order (`/orders`, `/orders/{order_key}`). Amount and currency are native unless
    /// the request asked for a `currency`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Order {
        order_key: String => Text,
        order_type: Option<i64> => Int,
        /// UNIX seconds.
        order_date: i64 => Timestamp,
        order_status: String => Text,
        member_id: Option<i64> => Int,
        member_name: Option<String> => Text,
        member_email: Option<String> => Text,
        plan_id: Option<i64> => Int,
        plan_name: Option<String> => Text,
        project_id: Option<i64> => Int,
        /// A display name in `/orders`, a code in `/orders/{order_key}`.
        payment_gateway: Option<String> => Text,
        amount: Option<Amount> => Money,
        /// Upper-case currency code.
        currency: Option<String> => Text,
        #[serde(skip)]
        extra: Option<String> => Text as "_extra",
    }
}

impl Order {
    pub fn from_json(row: Value) -> Result<Order, RowError> {
        let mut r = RowReader::new(row)?;
        let order = Order {
            order_key: r.key_str("order_key")?,
            order_type: r.opt_id("order_type")?,
            order_date: r.key_timestamp("order_date")?,
            order_status: r.key_str("order_status")?.to_ascii_uppercase(),
            member_id: r.opt_id("member_id")?,
            member_name: r.opt_str("member_name")?,
            member_email: r.opt_str("member_email")?,
            plan_id: r.opt_id("plan_id")?,
            plan_name: r.opt_str("plan_name")?,
            project_id: r.opt_id("project_id")?,
            payment_gateway: r.opt_str("payment_gateway")?,
            amount: r.opt_money("amount")?,
            currency: r.opt_str("currency")?.map(|c| c.to_ascii_uppercase()),
            extra: None,
        };
        // `formatted` is derived from amount and currency: not kept.
        r.opt_str("formatted")?;
        Ok(Order {
            extra: r.finish(),
            ..order
        })
    }
}

pub static ORDERS: TableSpec = TableSpec {
    name: "orders",
    keys: &["order_key"],
    columns: <Order as super::row::StagedRow>::COLUMNS,
    derived: &[],
    month_partition: Some("order_date"),
    kept_when_null: &["member_email"],
    layout: Layout::Merged,
};

pub static STREAM: StreamDef = StreamDef {
    name: StreamName::Orders,
    role: Role::Fact,
    method: Method::Orders,
    answer: Answer::Paged { limit: PAGE_LIMIT },
    key_of: |row| key_text(row, ORDERS.keys),
    table: &ORDERS,
    strategy: Strategy::NewestFirst,
    stage: stage_row::<Order>,
    check: check_row::<Order>,
};

/// Rows per `/orders` page.
pub const PAGE_LIMIT: u32 = 100;

/// More than half of the re-fetched orders answered 404.
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

impl OrdersPlan {
    /// Every order, newest first.
    pub fn full_scan() -> OrdersPlan {
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
pub trait RereadCount: Sync {
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
pub async fn fetch_orders(
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

    #[test]
    fn reads_the_documented_order() {
        let order = Order::from_json(json!({
            "order_key": "66804997RC5418150", "order_type": 1, "order_date": 1721285697,
            "order_status": "PENDING", "member_id": 1111111111, "member_name": "John Doe",
            "plan_id": 20, "plan_name": "EUR Demo Plan", "project_id": 0,
            "payment_gateway": "PayPal", "amount": "1.344882", "currency": "USD",
            "formatted": "$1.34"
        }))
        .expect("valid order");
        assert_eq!(order.order_key, "66804997RC5418150");
        assert_eq!(order.order_date, 1721285697);
        assert_eq!(order.amount.map(|a| a.to_string()), Some("1.344882".into()));
        assert_eq!(order.extra, None);
    }

    #[test]
    fn reads_the_documented_single_order_without_amount() {
        let order = Order::from_json(json!({
            "order_key": "ABCD123", "member_id": 0, "member_name": "John Doe",
            "member_email": "john@doe.com", "payment_gateway": "stripe",
            "order_status": "PENDING", "order_date": 1721159920, "plan_id": 11, "project_id": 1
        }))
        .expect("valid order");
        assert_eq!(order.amount, None);
        assert_eq!(order.member_email.as_deref(), Some("john@doe.com"));
    }

    #[test]
    fn the_key_is_the_order_key_as_text() {
        assert_eq!(
            (STREAM.key_of)(&json!({"order_key": "AB1", "order_date": 1})),
            Some("AB1".into())
        );
        assert_eq!((STREAM.key_of)(&json!({"order_date": 1})), None);
    }
}
