//! Starting and stopping the simulator: generate the data, bind 127.0.0.1, serve axum
//! until shut down (or until the `SimServer` is dropped).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::SimOptions;
use super::data::generate;
use super::routes::router;
use super::state::{SimHandle, SimState, unix_now};

/// A running simulator. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct SimServer {
    pub addr: SocketAddr,
    pub handle: SimHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SimServer {
    /// Generates the data and serves it on `127.0.0.1` at a free port.
    pub async fn start(opts: SimOptions) -> io::Result<SimServer> {
        SimServer::start_on(opts, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// As `start`, on a given loopback address (anything else is refused).
    pub async fn start_on(opts: SimOptions, addr: SocketAddr) -> io::Result<SimServer> {
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
        let state = tokio::task::spawn_blocking(move || {
            let data = generate(&opts, unix_now());
            SimState::new(data, opts.api_key, opts.seed, opts.faults, opts.quirks)
        })
        .await
        .map_err(|e| io::Error::other(format!("simulator data generation failed: {e}")))?;
        let state = Arc::new(state);
        let handle = SimHandle {
            state: Arc::clone(&state),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state);
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
