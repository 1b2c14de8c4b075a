//! One pass over a stream: its fetcher (async, pages in flight) and its sink joined by a
//! bounded channel. The sink is the loader (a blocking thread with its own DuckDB
//! connection, committing the pass in one transaction) or, for `--dry-run`, a counter
//! that reads every row and writes nothing: the same pass either way.

pub(crate) mod fetch;
pub(crate) mod sink;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::api::{ApiClient, ApiError};
use crate::bot_id::BotId;
use crate::config::Settings;
use crate::fx::memo::RevenueMemo;
use crate::progress::{Phase, PhaseLine, Progress, StreamBar};
use crate::secret::redact;
use crate::streams::StreamDef;
use crate::sync::orders::fetch::{OrdersPlan, RereadCount, fetch_orders};
use crate::sync::pass::fetch::{LoaderMsg, fetch_all};
use crate::sync::{FailureKind, StreamFailure, SyncOptions};
use crate::warehouse::state::{RunStamp, StreamFigures, StreamState};
use crate::warehouse::{LoadError, Warehouse};
use sink::{LoaderCtx, LoaderError, count_rows, load_stream};

/// Where a run's passes put their rows.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    /// The warehouse, as run `run`.
    Warehouse {
        warehouse: &'a Warehouse,
        run: RunStamp,
    },
    /// `--dry-run`: nowhere; rows are read and counted.
    DryRun,
}

/// What every stream of one bot's run shares.
#[derive(Clone, Copy)]
pub(super) struct BotRun<'a> {
    pub settings: &'a Settings,
    pub options: &'a SyncOptions,
    pub target: Target<'a>,
    pub bot_id: BotId,
    pub progress: &'a Progress,
    /// `/revenue` answers the reconciliation and the exchange-rate capture share.
    pub revenue: &'a RevenueMemo,
    /// The bot's Parquet rewrite line, counted by every stream's loader.
    pub parquet: &'a Arc<PhaseLine>,
}

/// One stream of one bot's run, ready for passes.
pub(super) struct Pass<'a> {
    pub bot: &'a BotRun<'a>,
    pub def: &'static StreamDef,
    pub client: &'a ApiClient,
    pub bar: &'a StreamBar,
    /// Pages one read of the stream may take ([`crate::api::pager::PageCap`]).
    pub max_pages: u64,
}

impl Pass<'_> {
    /// Fetches the stream (all of it, or the orders `plan` names) into the run's target.
    pub(super) async fn run(
        &self,
        previous: StreamState,
        orders: Option<OrdersPlan>,
    ) -> Result<StreamFigures, StreamFailure> {
        let settings = self.bot.settings;
        let (tx, rx) = mpsc::channel::<LoaderMsg>(settings.pages_ahead_of_loader());
        let pages = settings.pages_in_flight;
        let rereads = self
            .bot
            .progress
            .phase(self.bot.bot_id, Phase::PendingRereads);
        let fetch = async {
            match orders {
                Some(plan) => {
                    fetch_orders(self.client, pages, self.max_pages, plan, tx, &rereads).await
                }
                None => fetch_all(self.client, self.def, pages, self.max_pages, tx).await,
            }
        };
        let sink = self.sink(previous, rx);
        let (fetched, sunk) = tokio::join!(fetch, sink);
        rereads.finish(
            fetched.is_ok(),
            if fetched.is_ok() { "done" } else { "failed" },
        );
        match (fetched, sunk) {
            (Err(api), _) => Err(api_failure(&api)),
            (Ok(()), Ok(mut figures)) => {
                if matches!(self.bot.target, Target::DryRun) {
                    figures.requests = self.client.stats().requests();
                    figures.retries = self.client.stats().retries();
                }
                Ok(figures)
            }
            (Ok(()), Err(LoaderError::StrictRejects { count, first })) => Err(StreamFailure {
                kind: FailureKind::Rejected,
                message: redact(&format!(
                    "{count} rows could not be read and --strict is set (first: {first})"
                )),
            }),
            (Ok(()), Err(e)) => Err(StreamFailure {
                kind: FailureKind::Other,
                message: redact(&e.to_string()),
            }),
        }
    }

    /// The pass's sink: the loader thread, or the dry run's counter.
    async fn sink(
        &self,
        previous: StreamState,
        rx: mpsc::Receiver<LoaderMsg>,
    ) -> Result<StreamFigures, LoaderError> {
        let bar = self.bar.clone();
        let on_rows = move |rows| bar.set_rows(rows);
        let (warehouse, run) = match self.bot.target {
            Target::DryRun => return Ok(count_rows(self.def, rx, on_rows).await),
            Target::Warehouse { warehouse, run } => (warehouse, run),
        };
        let settings = self.bot.settings;
        let ctx = LoaderCtx {
            conn: warehouse.connect()?,
            bot_id: self.bot.bot_id,
            run,
            batch_rows: settings.batch_rows,
            parquet_root: settings.parquet_dir.clone(),
            strict: self.bot.options.strict,
            previous,
            client: self.client.clone(),
            on_rows: Box::new(on_rows),
            parquet_files: Arc::clone(self.bot.parquet),
            delete_guard: crate::warehouse::merge::DeleteGuard {
                allow_large: self.bot.options.allow_large_deletes,
                ..settings.delete_guard
            },
        };
        let def = self.def;
        // The loader's log lines name the bot, as the fetcher's do.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| load_stream(def, ctx, rx)))
            .await
            .map_err(|join| LoaderError::Thread(join.to_string()))?
    }
}

/// A stream failure for an API error, classified for the exit code.
pub(super) fn api_failure(err: &ApiError) -> StreamFailure {
    let kind = if err.is_auth() {
        FailureKind::Auth
    } else if err.is_deadline() {
        FailureKind::Deadline
    } else if err.is_unavailable() {
        FailureKind::Unavailable
    } else {
        FailureKind::Other
    };
    StreamFailure {
        kind,
        message: redact(&err.to_string()),
    }
}

/// A stream failure for a warehouse error.
pub(super) fn load_failure(e: LoadError) -> StreamFailure {
    StreamFailure {
        kind: FailureKind::Other,
        message: redact(&e.to_string()),
    }
}

/// The orders fetch counts its re-reads on the bot's `PendingRereads` line.
impl RereadCount for PhaseLine {
    fn start(&self) {
        PhaseLine::start(self);
    }

    fn set_expected(&self, n: u64) {
        PhaseLine::set_expected(self, n);
    }

    fn add(&self, n: u64) {
        PhaseLine::add(self, n);
    }
}
