//! The fetching half of a stream: pages from the API, handed to the stream's sink (the
//! loader, or the dry run's counter) through a bounded channel, so memory stays bounded
//! however long the stream is.

use serde_json::Value;
use tokio::sync::mpsc;

use crate::api::pager::{PageRequest, Pager};
use crate::api::{ApiClient, ApiError};
use crate::streams::{Answer, StreamDef};

/// What the fetcher tells the sink.
#[derive(Debug)]
pub(crate) enum LoaderMsg {
    /// Rows of one page, in API order.
    Page(Vec<Value>),
    /// Orders re-read one by one (still-PENDING orders older than the lookback), and
    /// how many of the keys asked for answered 404.
    Reread { rows: Vec<Value>, not_found: u64 },
    /// Fetching finished: everything the stream returned has been sent.
    Done(FetchSummary),
}

/// How the fetch went, for the loader's state and the run record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FetchSummary {
    /// Every row of the endpoint was read (soft deletes are allowed).
    pub full_scan: bool,
    /// Orders: newest `order_date` seen, UNIX seconds.
    pub newest: Option<i64>,
}

/// Sends a message; a closed channel means the sink failed, which it reports itself.
pub(crate) async fn send(tx: &mpsc::Sender<LoaderMsg>, msg: LoaderMsg) -> bool {
    tx.send(msg).await.is_ok()
}

/// Reads a whole endpoint (paged, one list, or one object) and sends it to the sink. The
/// read counts as a full scan (which may soft-delete) only if every page boundary was
/// gap-free.
pub(crate) async fn fetch_all(
    client: &ApiClient,
    def: &StreamDef,
    pages_in_flight: usize,
    max_pages: u64,
    tx: mpsc::Sender<LoaderMsg>,
) -> Result<(), ApiError> {
    let mut complete = true;
    match def.answer {
        Answer::Object => {
            let row = client.get(&def.method, &[]).await?;
            if !send(&tx, LoaderMsg::Page(vec![row])).await {
                return Ok(());
            }
        }
        Answer::List => {
            let rows = client.get_list(&def.method, &[]).await?;
            if !send(&tx, LoaderMsg::Page(rows)).await {
                return Ok(());
            }
        }
        Answer::Paged { limit } => {
            let mut pager = Pager::new(
                client.clone(),
                PageRequest {
                    method: def.method.clone(),
                    params: Vec::new(),
                    limit,
                    pages_in_flight,
                    prefetch_pages: None,
                    key_of: def.key_of,
                    max_pages,
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
