//! The one pager for limit/offset endpoints (SPEC §1).
//!
//! Pages are requested ahead (up to `pages_in_flight` at once, each as its own task so
//! they progress while the caller loads the previous page) and handed out in offset
//! order. Paging stops at the first page shorter than `limit`, at a page whose keys were
//! all seen earlier in this run (an endpoint that ignores `limit`/`offset` must not loop
//! forever), at the first error, or when the caller says so (orders' incremental stop).

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::{Instrument, info_span, warn};

use super::client::ApiClient;
use super::endpoint::Method;
use super::error::ApiError;

/// One page of raw rows, with the offset it was asked for.
#[derive(Debug)]
pub struct Page {
    pub offset: u64,
    pub rows: Vec<Value>,
}

/// Extracts a row's key (as text) for the already-seen check; `None` if it has none.
pub type KeyFn = fn(&Value) -> Option<String>;

/// What to page and how.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub method: Method,
    /// Filters sent with every page (`currency`, `order_status`, ...).
    pub params: Vec<(&'static str, String)>,
    pub limit: u32,
    pub pages_in_flight: usize,
    /// Pages past this many are requested one at a time (no speculative requests): for
    /// a read expected to stop early, such as orders' incremental pass.
    pub prefetch_pages: Option<u64>,
    pub key_of: KeyFn,
}

type PageTask = JoinHandle<Result<Vec<Value>, ApiError>>;

/// Hands out pages in order while fetching ahead.
pub struct Pager {
    client: ApiClient,
    request: PageRequest,
    next_offset: u64,
    queue: VecDeque<(u64, PageTask)>,
    /// Hashes of the keys seen so far: 8 bytes a row, enough to spot a repeating page.
    seen: HashSet<u64>,
    /// Until the first full page, one request at a time: small streams cost one request.
    ramped_up: bool,
    done: bool,
    pages: u64,
}

impl Pager {
    pub fn new(client: ApiClient, request: PageRequest) -> Pager {
        Pager {
            client,
            request,
            next_offset: 0,
            queue: VecDeque::new(),
            seen: HashSet::new(),
            ramped_up: false,
            done: false,
            pages: 0,
        }
    }

    /// Pages handed out so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The next page in offset order, or `None` when paging is over.
    pub async fn next_page(&mut self) -> Option<Result<Page, ApiError>> {
        if self.done {
            return None;
        }
        self.fill();
        let (offset, task) = self.queue.pop_front()?;
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(join_error) => Err(ApiError::UnexpectedResult {
                endpoint: self.request.method.label(),
                cause: format!("page task failed: {join_error}"),
            }),
        };
        let rows = match outcome {
            Ok(rows) => rows,
            Err(err) => {
                self.stop();
                return Some(Err(err));
            }
        };
        if rows.len() < self.request.limit as usize {
            self.stop();
        } else {
            self.ramped_up = true;
        }
        if !rows.is_empty() && self.all_seen(&rows) {
            warn!(
                endpoint = %self.request.method,
                offset,
                "every row of this page was already seen in this run: the endpoint seems to ignore limit/offset; paging stops here"
            );
            self.stop();
            return None;
        }
        self.pages += 1;
        Some(Ok(Page { offset, rows }))
    }

    /// Stops paging and cancels the requests still in flight.
    pub fn stop(&mut self) {
        self.done = true;
        for (_, task) in self.queue.drain(..) {
            task.abort();
        }
    }

    /// Records the page's keys; true if there were keys and all had been seen before.
    fn all_seen(&mut self, rows: &[Value]) -> bool {
        let mut any_key = false;
        let mut all_seen = true;
        for row in rows {
            if let Some(key) = (self.request.key_of)(row) {
                any_key = true;
                let mut h = DefaultHasher::new();
                key.hash(&mut h);
                if self.seen.insert(h.finish()) {
                    all_seen = false;
                }
            } else {
                all_seen = false;
            }
        }
        any_key && all_seen
    }

    fn fill(&mut self) {
        let window = if self.ramped_up {
            self.request.pages_in_flight.max(1)
        } else {
            1
        };
        while !self.done && self.queue.len() < window {
            let page_index = self.next_offset / u64::from(self.request.limit.max(1));
            if let Some(cap) = self.request.prefetch_pages {
                if page_index >= cap && !self.queue.is_empty() {
                    break;
                }
            }
            let offset = self.next_offset;
            self.next_offset += u64::from(self.request.limit);
            let client = self.client.clone();
            let method = self.request.method.clone();
            let mut params = self.request.params.clone();
            params.push(("limit", self.request.limit.to_string()));
            params.push(("offset", offset.to_string()));
            let page = offset / u64::from(self.request.limit.max(1));
            let span = info_span!("page", endpoint = %method, page, offset);
            let task = tokio::spawn(
                async move {
                    let result = client.get(&method, &params).await?;
                    match result {
                        Value::Array(rows) => Ok(rows),
                        Value::Null => Ok(Vec::new()),
                        other => Err(ApiError::UnexpectedResult {
                            endpoint: method.label(),
                            cause: format!("expected a list, got {}", json_kind(&other)),
                        }),
                    }
                }
                .instrument(span),
            );
            self.queue.push_back((offset, task));
        }
    }
}

impl Drop for Pager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `"an object"`, `"a string"`: for messages about unexpected shapes.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
