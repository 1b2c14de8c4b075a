//! The orders stream's strategy: which passes a run makes over `/orders`.
//!
//! An incremental pass (newest first, down to the lookback window), then a
//! reconciliation of the older sales against the API; if they differ (a refund, a
//! deletion, a late completion) a full scan follows in the same run, otherwise the old
//! PENDING orders due on their schedule (young ones often, old ones rarely; see
//! [`pending_due`]) are re-read by key, up to a budget. A planned full scan (first run,
//! every `full_scan_max_age`, `--full-refresh`, a renamed plan) is followed by a re-read
//! of those the next incremental run will re-read (see [`reread_after_full_scan`]).
//! The stream itself (endpoint, row, table) is declared in [`crate::streams::orders`];
//! the fetch of one pass is [`fetch`].

pub(crate) mod fetch;

use duckdb::{Connection, params};
use tracing::{info, warn};

use crate::bot_id::BotId;
use crate::error::Error;
use crate::fx::reconcile::old_sales_differ;
use crate::progress::Phase;
use crate::sql_files::sql_file;
use crate::streams::StreamName;
use crate::streams::orders::{ORDERS, PAGE_LIMIT};
use crate::sync::StreamFailure;
use crate::sync::orders::fetch::OrdersPlan;
use crate::sync::pass::{Pass, api_failure, load_failure};
use crate::warehouse::error::DbContext;
use crate::warehouse::state::{
    RunStamp, StreamFigures, StreamState, live_rows, read_state, record_pending_checks,
    record_stream,
};
use crate::warehouse::{LoadError, Warehouse, query_strings};

const STREAM: &str = "orders";

/// The orders passes of one run, into `warehouse` as run `run`.
pub(super) async fn sync(
    pass: &Pass<'_>,
    warehouse: &Warehouse,
    run: RunStamp,
    previous: StreamState,
) -> Result<StreamFigures, StreamFailure> {
    let orders = Orders {
        pass,
        conn: warehouse.conn(),
        run,
    };
    let figures = orders.passes(previous).await?;
    orders.fill_member_emails(figures).await
}

impl Orders<'_> {
    /// The list passes, the reconciliation, and the re-reads they call for.
    async fn passes(&self, previous: StreamState) -> Result<StreamFigures, StreamFailure> {
        let (orders, pass) = (self, self.pass);
        let plan = orders.plan(previous).map_err(load_failure)?;
        let cutoff = plan.cutoff;
        pass.bar
            .set_expected(orders.expected(&plan).map_err(load_failure)?);
        let figures = pass.run(previous, Some(plan)).await?;
        let Some(cutoff) = cutoff else {
            // A planned full scan (first run, every `full_scan_max_age`, --full-refresh).
            return orders.reread_after_full_scan(figures).await;
        };
        let Some(difference) = orders.reconcile(cutoff).await? else {
            // No old sale appeared or vanished (a late completion moves the count or the
            // revenue): only non-sale statuses of old PENDING orders can be stale. Those
            // due on their schedule are re-read, up to a budget, and recorded.
            return orders
                .reread_pending(figures, cutoff, Rotation::Advance)
                .await;
        };
        info!(
            "sales before the lookback window differ from the API ({difference}): running a full scan of orders"
        );
        let previous = orders.state()?;
        pass.bar.restart(
            live_rows(orders.conn, STREAM, orders.bot_id())
                .ok()
                .filter(|&n| n > 0),
        );
        let second = pass.run(previous, Some(OrdersPlan::full_scan())).await?;
        let figures = orders.add_pass(figures, second)?;
        orders.reread_after_full_scan(figures).await
    }

    /// With `fetch_member_emails`: the COMPLETED orders this run wrote that have no
    /// `member_email` are re-read by key, the only answer that carries it (one request
    /// each), in a pass with no `/orders` pages. Later list reads keep the email.
    async fn fill_member_emails(
        &self,
        figures: StreamFigures,
    ) -> Result<StreamFigures, StreamFailure> {
        if !self.pass.bot.settings.orders.fetch_member_emails {
            return Ok(figures);
        }
        let keys = query_strings(
            self.conn,
            sql_file!("sync/orders/new_sales_without_email.sql").text,
            params![self.bot_id(), self.run.run_id],
            || "listing new sales without member_email".to_string(),
        )
        .map_err(load_failure)?;
        if keys.is_empty() {
            return Ok(figures);
        }
        let previous = self.state()?;
        let plan = OrdersPlan {
            full_scan: false,
            cutoff: previous.high_water_mark,
            pending_keys: keys,
            expected_pages: Some(0),
            list: false,
        };
        let second = self.pass.run(previous, Some(plan)).await?;
        self.add_pass(figures, second)
    }
}

/// Whether a re-read of old PENDING orders is recorded (`_pending_checks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rotation {
    /// After an incremental pass whose reconciliation found no difference: the orders
    /// re-read are recorded: their schedule starts again from this run.
    Advance,
    /// After a full scan: those of the same orders with no stored email are re-read,
    /// and nothing is recorded.
    Peek,
}

/// The orders stream of one bot's run.
struct Orders<'a> {
    pass: &'a Pass<'a>,
    conn: &'a Connection,
    run: RunStamp,
}

impl Orders<'_> {
    fn bot_id(&self) -> BotId {
        self.pass.bot.bot_id
    }

    fn state(&self) -> Result<StreamState, StreamFailure> {
        read_state(self.conn, self.bot_id(), StreamName::Orders.as_str()).map_err(load_failure)
    }

    /// Decides between a full scan and an incremental read of orders.
    fn plan(&self, previous: StreamState) -> Result<OrdersPlan, LoadError> {
        let settings = self.pass.bot.settings;
        let bot_id = self.bot_id();
        let max_age_micros = settings.orders.full_scan_max_age.as_micros() as i64;
        let due = match previous.last_full_scan_micros {
            None => true,
            Some(last) => self.run.at_micros - last >= max_age_micros,
        };
        let Some(hwm) = previous
            .high_water_mark
            .filter(|_| !self.pass.bot.options.full_refresh && !due)
        else {
            return Ok(OrdersPlan::full_scan());
        };
        // A plan renamed in this run while orders still carry its old name: the API now
        // lists those orders under the new name, so read them all again.
        let renamed: i64 = self
            .conn
            .query_row(
                sql_file!("sync/orders/renamed_plans.sql").text,
                params![bot_id, self.run.run_id],
                |r| r.get(0),
            )
            .during(|| "checking for renamed plans".into())?;
        if renamed > 0 {
            info!(
                plans = renamed,
                "plans were renamed: orders get a full scan"
            );
            return Ok(OrdersPlan::full_scan());
        }
        let cutoff = hwm - settings.orders.lookback.as_secs() as i64;
        let in_window: i64 = self
            .conn
            .query_row(
                sql_file!("sync/orders/orders_in_window.sql").text,
                params![bot_id, cutoff],
                |r| r.get(0),
            )
            .during(|| "counting orders in the lookback window".into())?;
        // Old PENDING orders are re-read after the reconciliation, not here.
        Ok(OrdersPlan {
            full_scan: false,
            cutoff: Some(cutoff),
            pending_keys: Vec::new(),
            expected_pages: Some(crate::api::pager::pages_to_pass(
                in_window.max(0) as u64,
                PAGE_LIMIT,
            )),
            list: true,
        })
    }

    /// The orders the pass of `plan` is expected to read: the whole table on a full
    /// scan; otherwise the pages up to the first one wholly past the lookback window.
    fn expected(&self, plan: &OrdersPlan) -> Result<u64, LoadError> {
        match plan.expected_pages {
            Some(pages) if !plan.full_scan => {
                let stride = crate::api::pager::stride(PAGE_LIMIT);
                Ok(pages.saturating_sub(1) * stride + u64::from(PAGE_LIMIT))
            }
            _ => live_rows(self.conn, ORDERS.name, self.bot_id()),
        }
    }

    /// Compares the sales before `cutoff` with the API's, on its own progress line;
    /// `Some` names the difference. An API that cannot answer for other reasons than
    /// auth or availability is no evidence of one (a warning, `None`).
    async fn reconcile(&self, cutoff: i64) -> Result<Option<String>, StreamFailure> {
        let bot = self.pass.bot;
        let line = bot.progress.phase(bot.bot_id, Phase::Reconciliation);
        line.start();
        let checked =
            old_sales_differ(self.pass.client, self.conn, bot.bot_id, cutoff, bot.revenue).await;
        line.set(self.sales_before(cutoff));
        match &checked {
            Ok(None) => line.finish(true, "match"),
            Ok(Some(_)) => line.finish(true, "differ: full scan of orders"),
            Err(_) => line.finish(false, "failed"),
        }
        match checked {
            Ok(differ) => Ok(differ.map(|d| d.to_string())),
            // A warehouse that cannot be read is no evidence of a difference: the stream
            // fails.
            Err(Error::Load(e)) => Err(load_failure(e)),
            Err(Error::Api(e)) if e.is_auth() || e.is_unavailable() => Err(api_failure(&e)),
            Err(Error::Api(e)) => {
                warn!(
                    "could not reconcile older orders: {}",
                    crate::secret::redact(&e.to_string())
                );
                Ok(None)
            }
        }
    }

    /// The sales before `cutoff` that the reconciliation compared (its line's count; a
    /// failed count shows as 0 rather than stopping the run).
    fn sales_before(&self, cutoff: i64) -> u64 {
        self.conn
            .query_row(
                sql_file!("sync/orders/sales_before.sql").text,
                params![self.bot_id(), cutoff],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .unwrap_or(0)
    }

    /// After a full scan (planned, or brought by a difference in the older sales): of
    /// the old PENDING orders (before the newest order less the lookback) that the next
    /// incremental run will re-read (due then, the scan counting as their last read; none
    /// while the lookback is 2 days or more), those with no `member_email` yet are
    /// re-read by key now, unrecorded. The scan has just read every
    /// status from the list; `/orders/{order_key}` alone carries `member_email` (later
    /// list reads keep it), so only an unknown email is worth a request. Choosing from
    /// what the next incremental run re-reads keeps the warehouse independent of the kind
    /// of run: a full run equals a full run followed by a quiet incremental one (which
    /// re-reads the same orders and finds nothing new), and a killed full run completed
    /// by an incremental one equals one full run; a full scan after one that already
    /// fetched those emails re-reads nothing.
    async fn reread_after_full_scan(
        &self,
        figures: StreamFigures,
    ) -> Result<StreamFigures, StreamFailure> {
        let Some(newest) = self.state()?.high_water_mark else {
            return Ok(figures);
        };
        let cutoff = newest - self.pass.bot.settings.orders.lookback.as_secs() as i64;
        self.reread_pending(figures, cutoff, Rotation::Peek).await
    }

    /// Re-reads by key, in a pass with no `/orders` pages, the old PENDING orders
    /// (before `cutoff`) that [`pending_due`] names, and adds that pass to
    /// `figures`.
    async fn reread_pending(
        &self,
        figures: StreamFigures,
        cutoff: i64,
        rotation: Rotation,
    ) -> Result<StreamFigures, StreamFailure> {
        let previous = self.state()?;
        let lookback = self.pass.bot.settings.orders.lookback.as_secs() as i64;
        let ask = PendingAsk {
            cutoff,
            newest: previous.high_water_mark.unwrap_or(cutoff + lookback),
            budget: self.pass.bot.settings.orders.pending_reread_limit,
            peek: rotation == Rotation::Peek,
        };
        let keys = pending_due(self.conn, self.bot_id(), ask).map_err(load_failure)?;
        if keys.is_empty() {
            return Ok(figures);
        }
        let reread = OrdersPlan {
            full_scan: false,
            cutoff: Some(cutoff),
            pending_keys: keys.clone(),
            expected_pages: Some(0),
            list: false,
        };
        let second = self.pass.run(previous, Some(reread)).await?;
        if rotation == Rotation::Advance {
            record_pending_checks(self.conn, self.bot_id(), &keys, self.run)
                .map_err(load_failure)?;
        }
        self.add_pass(figures, second)
    }

    /// The stream's figures over its passes in this run, recorded.
    fn add_pass(
        &self,
        mut figures: StreamFigures,
        later: StreamFigures,
    ) -> Result<StreamFigures, StreamFailure> {
        figures.add_pass(later);
        record_stream(self.conn, self.run.run_id, self.bot_id(), STREAM, &figures)
            .map_err(load_failure)?;
        Ok(figures)
    }
}

/// The longest a still-PENDING old order waits between two reads of its status, in the
/// bot's runs: the cap of its schedule (see [`pending_due`]).
pub const PENDING_MAX_INTERVAL_RUNS: i64 = 32;

/// Which old PENDING orders (before `cutoff`) to re-read, and for which run.
#[derive(Debug, Clone, Copy)]
struct PendingAsk {
    cutoff: i64,
    /// The newest synced order (UNIX seconds): ages are counted back from it.
    newest: i64,
    budget: usize,
    /// After a full scan: those due in the next run, that have no stored email.
    peek: bool,
}

/// The old PENDING orders (before `cutoff`) due for a re-read: each is due once the bot's
/// runs since its status was last read (by key, or by the last full scan) reach its age
/// in whole days before the newest order, at least 1 and at most
/// [`PENDING_MAX_INTERVAL_RUNS`], so young ones are re-read often and old ones rarely.
/// `budget` of them, most overdue first, then the newest orders, then the larger key.
/// While the due orders fit the budget, a non-sale change of status (cancelled, refunded)
/// is seen within that many runs of the last read; when more are due, the most overdue go
/// first, so within [`PENDING_MAX_INTERVAL_RUNS`] + ⌈old PENDING orders / budget⌉ − 1
/// runs; and never later than the next full scan. (An old PENDING order that became a
/// sale is caught by the next run's reconciliation.) With `peek` (after a full scan,
/// which is the last read of every status), those that the next run will re-read and
/// that have no stored email.
fn pending_due(
    conn: &Connection,
    bot_id: BotId,
    ask: PendingAsk,
) -> Result<Vec<String>, LoadError> {
    query_strings(
        conn,
        sql_file!("sync/orders/pending_due.sql").text,
        params![
            bot_id,
            ask.cutoff,
            ask.newest,
            PENDING_MAX_INTERVAL_RUNS,
            i64::from(ask.peek),
            ask.budget as i64,
            ask.peek
        ],
        || "listing pending orders to re-read".to_string(),
    )
}
