//! The one pager for limit/offset endpoints (docs/data-contract.md §1.5).
//!
//! Pages are requested ahead (up to `pages_in_flight` at once, each as its own task so
//! they progress while the caller loads the previous page) and handed out in offset
//! order. Paging stops at the first page shorter than `limit`, at the first error, or when
//! the caller says so (orders' incremental stop). A page of `limit` rows whose keys were
//! all seen earlier in this run (an endpoint that ignores `offset`) is asked for again
//! and, if it stands, is an error naming its offset: the read is incomplete, so nothing
//! it missed may be deleted. A page of more than `limit` rows all seen before is an
//! endpoint that ignores `limit` too and answers its whole listing each time: its first
//! answer was complete, and paging ends there. Past `max_pages` pages, paging is an error.
//!
//! Offset paging drifts: a row inserted at the top while pages are in flight shifts the
//! pages served after it by one. Served one after another, that only repeats a row; but
//! pages in flight together are served in any order, and a page served *before* the one
//! above it can leave a gap. So consecutive pages overlap by a few rows (`overlap`): two
//! neighbours that share no key may have a gap between them, and the pager then re-reads
//! that stretch one page at a time (which cannot leave gaps) until it meets the later
//! page. Rows repeated at a boundary are handed out once.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info_span, warn};

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
pub(crate) type KeyFn = fn(&Value) -> Option<String>;

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
    /// Pages past this many are an error (see [`PageCap`]).
    pub max_pages: u64,
}

/// The most pages one read of a stream may take, relative to what the warehouse already
/// holds: `per_known_page` times the pages its live rows fill (plus one), and never
/// fewer than `floor` (a first sync starts from nothing). An endpoint that never ends
/// its listing stops there instead of running forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCap {
    pub floor: u64,
    pub per_known_page: u64,
}

impl PageCap {
    /// 50,000 pages (4.9 million orders at 100 a page) for a first sync, and four times
    /// what the warehouse holds after that.
    pub(crate) const DEFAULT: PageCap = PageCap {
        floor: 50_000,
        per_known_page: 4,
    };

    /// The cap for a stream whose warehouse table holds `live_rows`, read `limit` a page.
    pub fn pages(self, live_rows: u64, limit: u32) -> u64 {
        let known_pages = (live_rows / stride(limit)).saturating_add(1);
        self.floor
            .max(self.per_known_page.saturating_mul(known_pages))
    }
}

impl Default for PageCap {
    fn default() -> Self {
        PageCap::DEFAULT
    }
}

/// Rows two consecutive pages share, so that a gap between them can be seen.
pub fn overlap(limit: u32) -> u32 {
    if limit < 2 { 0 } else { (limit / 50).max(1) }
}

/// How far apart consecutive page offsets are.
pub fn stride(limit: u32) -> u64 {
    u64::from(limit - overlap(limit)).max(1)
}

/// Requests a newest-first read makes until a page lies wholly past the first `rows`
/// rows: pages at offsets 0, stride, 2·stride, … up to the first one at or past `rows`.
pub fn pages_to_pass(rows: u64, limit: u32) -> u64 {
    rows.div_ceil(stride(limit)) + 1
}

/// At most this many extra requests repair one boundary; past that the drift is too fast
/// to chase and the next run picks the rows up.
const MAX_REPAIR_REQUESTS: u32 = 50;

/// Extra requests for a page that cannot be right (see [`Pager::anomaly`]).
const RECHECKS: u32 = 2;

type PageTask = JoinHandle<Result<Vec<Value>, ApiError>>;

/// Hands out pages in order while fetching ahead.
pub struct Pager {
    client: ApiClient,
    request: PageRequest,
    next_offset: u64,
    queue: VecDeque<(u64, PageTask)>,
    /// Key hashes of the first and the latest pages, to spot a repeating page.
    seen: SeenKeys,
    /// Key hashes of the last page handed out, and whether it was full.
    previous: Option<(u64, HashSet<u64>, bool)>,
    /// Until the first full page, one request at a time: small streams cost one request.
    ramped_up: bool,
    done: bool,
    pages: u64,
    unrepaired: u64,
}

/// Key hashes of the pages handed out, in bounded memory: those of the first pages (an
/// endpoint that ignores `offset`, or wraps around past the end, repeats them) and of the
/// latest ones (one that clamps `offset` to its last page repeats that). Keeping every key
/// instead grew with the stream: 19 MB at 1,000,000 orders (heaptrack, docs/performance.md).
#[derive(Debug, Default)]
struct SeenKeys {
    first: HashSet<u64>,
    first_pages: usize,
    latest: VecDeque<HashSet<u64>>,
}

impl SeenKeys {
    const FIRST_PAGES: usize = 4;
    const LATEST_PAGES: usize = 16;

    fn contains(&self, hash: u64) -> bool {
        self.first.contains(&hash) || self.latest.iter().any(|page| page.contains(&hash))
    }

    fn add_page(&mut self, hashes: impl IntoIterator<Item = u64>) {
        if self.first_pages < Self::FIRST_PAGES {
            self.first_pages += 1;
            self.first.extend(hashes);
            return;
        }
        if self.latest.len() == Self::LATEST_PAGES {
            self.latest.pop_front();
        }
        self.latest.push_back(hashes.into_iter().collect());
    }
}

/// The rows one page hands out, and the hashes of their keys (each key once).
struct HandedOut {
    rows: Vec<Value>,
    keys: HashSet<u64>,
}

impl HandedOut {
    fn with_capacity(rows: usize) -> HandedOut {
        HandedOut {
            rows: Vec::with_capacity(rows),
            keys: HashSet::new(),
        }
    }

    /// Hands `row` out unless its key is one to `skip` or was handed out already.
    fn push(&mut self, row: Value, hash: Option<u64>, skip: impl Fn(u64) -> bool) {
        if let Some(h) = hash
            && (skip(h) || !self.keys.insert(h))
        {
            return;
        }
        self.rows.push(row);
    }
}

fn key_hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

async fn fetch(
    client: ApiClient,
    method: Method,
    params: Vec<(&'static str, String)>,
) -> Result<Vec<Value>, ApiError> {
    client.get_list(&method, &params).await
}

impl Pager {
    pub fn new(client: ApiClient, request: PageRequest) -> Pager {
        Pager {
            client,
            request,
            next_offset: 0,
            queue: VecDeque::new(),
            seen: SeenKeys::default(),
            previous: None,
            ramped_up: false,
            done: false,
            pages: 0,
            unrepaired: 0,
        }
    }

    /// Pages handed out so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Boundaries whose re-read gave up: rows may be missing, so this read must not be
    /// taken as complete (no soft deletes on its strength).
    pub(crate) fn unrepaired(&self) -> u64 {
        self.unrepaired
    }

    fn params_for(&self, offset: u64) -> Vec<(&'static str, String)> {
        let mut params = self.request.params.clone();
        params.push(("limit", self.request.limit.to_string()));
        params.push(("offset", offset.to_string()));
        params
    }

    /// The next page in offset order, or `None` when paging is over.
    pub async fn next_page(&mut self) -> Option<Result<Page, ApiError>> {
        if self.done {
            return None;
        }
        if self.pages >= self.request.max_pages {
            self.stop();
            return Some(Err(ApiError::UnexpectedResult {
                endpoint: self.request.method.label(),
                cause: format!(
                    "the listing goes on past {} pages, far more than the warehouse holds; paging stopped there and nothing is deleted",
                    self.request.max_pages
                ),
            }));
        }
        self.fill();
        let (offset, task) = self.queue.pop_front()?;
        match self.take_page(offset, task).await {
            Ok(page) => page.map(Ok),
            Err(err) => {
                self.stop();
                Some(Err(err))
            }
        }
    }

    /// The page at `offset` once its request is in: confirmed, checked for a repeat, the
    /// gap above it re-read, the overlap with the previous page dropped. `None` when the
    /// endpoint answers its whole listing every time (its first answer held every row).
    /// An error ends paging ([`Pager::next_page`] stops).
    async fn take_page(&mut self, offset: u64, task: PageTask) -> Result<Option<Page>, ApiError> {
        let rows = self.answer(task).await?;
        let rows = self.confirm(offset, rows).await?;
        let full = rows.len() >= self.request.limit as usize;
        if full {
            self.ramped_up = true;
        } else {
            self.stop();
        }
        let hashes = self.key_hashes(&rows);
        // A short page ends paging anyway (and may hold nothing but the overlap); a full
        // page of rows already seen means the endpoint ignores limit/offset: paging stops,
        // and the read is not complete (an error, never a quiet end of data).
        if full && self.all_seen(&hashes) {
            self.stop();
            if rows.len() > self.request.limit as usize {
                // More rows than asked for, again: the endpoint ignores `limit` and
                // `offset` alike and answers its whole listing every time (the documented
                // `/coupons` takes neither), so the first answer held every row.
                debug!(endpoint = %self.request.method, offset, "the endpoint answers its whole listing whatever the limit; paging stops");
                return Ok(None);
            }
            return Err(self.repeated_page(offset));
        }
        let mut handed = HandedOut::with_capacity(rows.len());
        self.repair_gap_above(&hashes, &mut handed).await?;
        self.skip_overlap(rows, &hashes, &mut handed);
        let HandedOut {
            rows: out_rows,
            keys: out_keys,
        } = handed;
        self.seen
            .add_page(hashes.iter().flatten().copied().chain(out_keys));
        self.previous = Some((offset, hashes.iter().flatten().copied().collect(), full));
        self.pages += 1;
        Ok(Some(Page {
            offset,
            rows: out_rows,
        }))
    }

    /// A page request's answer; a task that failed is an error of the endpoint.
    async fn answer(&self, task: PageTask) -> Result<Vec<Value>, ApiError> {
        match task.await {
            Ok(outcome) => outcome,
            Err(join_error) => Err(ApiError::UnexpectedResult {
                endpoint: self.request.method.label(),
                cause: format!("page task failed: {join_error}"),
            }),
        }
    }

    /// The hash of each row's key (`None` for a row without one).
    fn key_hashes(&self, rows: &[Value]) -> Vec<Option<u64>> {
        rows.iter()
            .map(|r| (self.request.key_of)(r).map(|k| key_hash(&k)))
            .collect()
    }

    /// Whether the page has keys and every row's key was handed out before.
    fn all_seen(&self, hashes: &[Option<u64>]) -> bool {
        let any_key = hashes.iter().any(Option::is_some);
        any_key
            && hashes
                .iter()
                .all(|h| h.is_some_and(|h| self.seen.contains(h)))
    }

    /// A possible gap above this page (the previous page was full and the two share no
    /// key): re-read the stretch one page at a time, handing out the rows neither page
    /// holds.
    async fn repair_gap_above(
        &mut self,
        hashes: &[Option<u64>],
        handed: &mut HandedOut,
    ) -> Result<(), ApiError> {
        let Some((prev_offset, prev_keys, prev_full)) = self.previous.take() else {
            return Ok(());
        };
        let any_key = hashes.iter().any(Option::is_some);
        let this_keys: HashSet<u64> = hashes.iter().flatten().copied().collect();
        let touching = this_keys.iter().any(|h| prev_keys.contains(h));
        if prev_full && any_key && !touching && overlap(self.request.limit) > 0 {
            for row in self.repair(prev_offset, &this_keys).await? {
                let hash = (self.request.key_of)(&row).map(|k| key_hash(&k));
                handed.push(row, hash, |h| {
                    prev_keys.contains(&h) || this_keys.contains(&h)
                });
            }
        }
        self.previous = Some((prev_offset, prev_keys, prev_full));
        Ok(())
    }

    /// The page's rows, less those the previous page already handed out (the overlap).
    fn skip_overlap(&self, rows: Vec<Value>, hashes: &[Option<u64>], handed: &mut HandedOut) {
        let prev_keys = self.previous.as_ref().map(|(_, k, _)| k);
        for (row, hash) in rows.into_iter().zip(hashes) {
            handed.push(row, *hash, |h| prev_keys.is_some_and(|k| k.contains(&h)));
        }
    }

    /// What makes this page impossible to take at face value, if anything. Either answer
    /// would end paging early and drop (on a full scan: soft-delete) the rows after it:
    /// - an empty page right after a full one: pages overlap, so it should hold at least
    ///   the previous page's last rows, unless the listing shrank meanwhile;
    /// - a full page of rows all read before (an endpoint that ignores offset repeats
    ///   itself from the second page on).
    fn anomaly(&self, offset: u64, rows: &[Value]) -> Option<String> {
        let (prev_offset, _, prev_full) = self.previous.as_ref()?;
        if rows.is_empty() && *prev_full && overlap(self.request.limit) > 0 {
            return Some(format!(
                "an empty page at offset {offset} right after a full page at offset {prev_offset}"
            ));
        }
        let repeated = rows.len() == self.request.limit as usize
            && rows.iter().all(|r| {
                (self.request.key_of)(r).is_some_and(|k| self.seen.contains(key_hash(&k)))
            });
        repeated.then(|| {
            format!("the page at offset {offset} repeats rows already read (does the endpoint ignore `offset`?)")
        })
    }

    /// The error for a full page of rows already read that stands.
    fn repeated_page(&self, offset: u64) -> ApiError {
        warn!(
            endpoint = %self.request.method,
            offset,
            "every row of this page was already read in this run: the endpoint seems to ignore limit/offset; paging stops, and the read is incomplete"
        );
        ApiError::UnexpectedResult {
            endpoint: self.request.method.label(),
            cause: format!(
                "the page at offset {offset} repeats rows already read: the endpoint seems to ignore `offset`; paging stopped there and nothing is deleted"
            ),
        }
    }

    /// Asks again for a page [`Pager::anomaly`] objects to. A glitch passes; an answer
    /// that stands fails the stream rather than completing it on a guess, unless the
    /// listing really shrank (the previous page is no longer full).
    async fn confirm(&mut self, offset: u64, rows: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        let Some(mut what) = self.anomaly(offset, &rows) else {
            return Ok(rows);
        };
        for _ in 0..RECHECKS {
            warn!(endpoint = %self.request.method, offset, "{what}: asking for the page again");
            let again = self.fetch_at(offset).await?;
            match self.anomaly(offset, &again) {
                None => return Ok(again),
                Some(w) => what = w,
            }
        }
        if rows.is_empty()
            && let Some((prev_offset, _, _)) = self.previous
            && self.fetch_at(prev_offset).await?.len() < self.request.limit as usize
        {
            return Ok(Vec::new());
        }
        Err(ApiError::UnexpectedResult {
            endpoint: self.request.method.label(),
            cause: format!(
                "{what}, asked {} times; ending the listing there would drop the rows after it",
                RECHECKS + 1
            ),
        })
    }

    async fn fetch_at(&self, offset: u64) -> Result<Vec<Value>, ApiError> {
        fetch(
            self.client.clone(),
            self.request.method.clone(),
            self.params_for(offset),
        )
        .await
    }

    /// Reads, one page at a time from `from_offset`, until a page shares a key with the
    /// page whose keys are `until`; returns the rows read on the way.
    async fn repair(
        &mut self,
        from_offset: u64,
        until: &HashSet<u64>,
    ) -> Result<Vec<Value>, ApiError> {
        debug!(endpoint = %self.request.method, from_offset, "pages shared no row: re-reading the boundary one page at a time");
        let mut rows = Vec::new();
        let mut offset = from_offset;
        for _ in 0..MAX_REPAIR_REQUESTS {
            let page = fetch(
                self.client.clone(),
                self.request.method.clone(),
                self.params_for(offset),
            )
            .await?;
            let short = page.len() < self.request.limit as usize;
            let met = page
                .iter()
                .any(|r| (self.request.key_of)(r).is_some_and(|k| until.contains(&key_hash(&k))));
            rows.extend(page);
            if met || short {
                return Ok(rows);
            }
            offset += stride(self.request.limit);
        }
        warn!(endpoint = %self.request.method, "rows move faster than a boundary can be re-read; this read is not complete and deletes nothing");
        self.unrepaired += 1;
        Ok(rows)
    }

    /// Stops paging and cancels the requests still in flight.
    pub fn stop(&mut self) {
        self.done = true;
        for (_, task) in self.queue.drain(..) {
            task.abort();
        }
    }

    fn fill(&mut self) {
        let window = if self.ramped_up {
            self.request.pages_in_flight.max(1)
        } else {
            1
        };
        let stride = stride(self.request.limit);
        while !self.done && self.queue.len() < window {
            let page_index = self.next_offset / stride;
            if let Some(cap) = self.request.prefetch_pages
                && page_index >= cap
                && !self.queue.is_empty()
            {
                break;
            }
            let offset = self.next_offset;
            self.next_offset += stride;
            let span =
                info_span!("page", endpoint = %self.request.method, page = page_index, offset);
            let task = tokio::spawn(
                fetch(
                    self.client.clone(),
                    self.request.method.clone(),
                    self.params_for(offset),
                )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_stride() {
        assert_eq!((overlap(100), stride(100)), (2, 98));
        assert_eq!((overlap(1000), stride(1000)), (20, 980));
        assert_eq!((overlap(3), stride(3)), (1, 2));
        assert_eq!((overlap(1), stride(1)), (0, 1));
        // 250 rows newest-first: pages at 0, 98, 196 hold rows up to 295; the page at 294
        // is the first wholly past them.
        assert_eq!(pages_to_pass(250, 100), 4);
        assert_eq!(pages_to_pass(0, 100), 1);
        assert_eq!(pages_to_pass(98, 100), 2);
    }

    #[test]
    fn the_page_cap_grows_with_the_rows_held_from_its_floor() {
        let cap = PageCap {
            floor: 10,
            per_known_page: 4,
        };
        assert_eq!(cap.pages(0, 100), 10);
        // 980 rows fill 10 strides of 98: 4 × 11 pages.
        assert_eq!(cap.pages(980, 100), 44);
        assert_eq!(PageCap::DEFAULT.pages(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn seen_keys_keep_the_first_and_the_latest_pages_only() {
        let mut seen = SeenKeys::default();
        let pages = SeenKeys::FIRST_PAGES + 3 * SeenKeys::LATEST_PAGES;
        for page in 0..pages as u64 {
            seen.add_page((page * 10)..(page * 10 + 10));
        }
        let page_seen = |page: usize| (0..10).all(|i| seen.contains(page as u64 * 10 + i));
        for page in 0..SeenKeys::FIRST_PAGES {
            assert!(page_seen(page), "first page {page} forgotten");
        }
        for page in SeenKeys::FIRST_PAGES..pages - SeenKeys::LATEST_PAGES {
            assert!(!seen.contains(page as u64 * 10), "middle page {page} kept");
        }
        for page in pages - SeenKeys::LATEST_PAGES..pages {
            assert!(page_seen(page), "latest page {page} forgotten");
        }
        assert!(!seen.contains(pages as u64 * 10));
        let held: usize = seen.first.len() + seen.latest.iter().map(HashSet::len).sum::<usize>();
        assert_eq!(held, 10 * (SeenKeys::FIRST_PAGES + SeenKeys::LATEST_PAGES));
    }
}
