//! Starting and stopping the simulator: generate each bot's data, bind 127.0.0.1, serve
//! axum until shut down (or until the `SimServer` is dropped).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::SimOptions;
use super::data::generate;
use super::routes::{SimBots, router};
use super::state::{RequestCounts, SimHandle, SimState, unix_now};

/// A running simulator. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct SimServer {
    pub addr: SocketAddr,
    /// The first bot's handle (the only one for a one-bot simulator).
    pub handle: SimHandle,
    /// Every bot's handle, in [`SimOptions::bot_list`] order (the first is `handle`).
    pub handles: Vec<SimHandle>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SimServer {
    /// Generates the data and serves it on `127.0.0.1` at a free port.
    pub async fn start(opts: SimOptions) -> io::Result<SimServer> {
        SimServer::start_on(opts, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// As `start`, on a given loopback address (anything else is refused).
    pub(crate) async fn start_on(opts: SimOptions, addr: SocketAddr) -> io::Result<SimServer> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the simulator only listens on loopback addresses, not {addr}"),
            ));
        }
        opts.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let states = tokio::task::spawn_blocking(move || {
            let now = unix_now();
            opts.bot_list()
                .iter()
                .map(|bot| {
                    let one = opts.for_bot(bot);
                    let data = generate(&one, now);
                    Arc::new(SimState::new(
                        data,
                        one.api_key,
                        one.seed,
                        one.faults,
                        one.quirks,
                    ))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| io::Error::other(format!("simulator data generation failed: {e}")))?;
        let handles: Vec<SimHandle> = states
            .iter()
            .map(|state| SimHandle {
                state: Arc::clone(state),
            })
            .collect();
        let handle = handles
            .first()
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no bot to serve"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(SimBots::new(states));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A send or a dropped sender both mean stop.
                    let _ = stopped.await;
                })
                .await
        });
        tracing::debug!(%addr, "simulator listening");
        Ok(SimServer {
            addr,
            handle,
            handles,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A handle on the server's data and settings (same as the `handle` field).
    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }

    /// Requests received for every bot, added up (faults and per-path counts too).
    pub fn requests(&self) -> RequestCounts {
        let mut all = RequestCounts::default();
        for counts in self.handles.iter().map(SimHandle::requests) {
            all.total += counts.total;
            all.serving += counts.serving;
            all.legacy += counts.legacy;
            for (path, n) in counts.by_path {
                *all.by_path.entry(path).or_default() += n;
            }
            let (f, g) = (&mut all.faults, &counts.faults);
            f.rate_limited += g.rate_limited;
            f.rps_limited += g.rps_limited;
            f.server_errors += g.server_errors;
            f.ok_false += g.ok_false;
            f.truncated += g.truncated;
            f.dropped += g.dropped;
        }
        all
    }

    /// Resets every bot's request counts.
    pub fn reset_counts(&self) {
        for handle in &self.handles {
            handle.reset_counts();
        }
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "simulator stopped with an error"),
                Ok(Err(e)) => tracing::warn!(error = %e, "simulator task failed"),
                Err(_) => task.abort(),
            }
        }
    }

    /// Waits until the server stops on its own (it does not, unless it fails).
    pub(crate) async fn wait(&mut self) -> io::Result<()> {
        match self.task.as_mut() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}
