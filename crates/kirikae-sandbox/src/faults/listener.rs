//! The endpoint's listening socket under `refuse` faults: closed for each window, so connecting
//! fails the way it does when an endpoint is down (the kernel refuses), and bound again to the same
//! address when the window ends, so clients keep their URL.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use super::Refusal;
use crate::world::Shared;

pub(crate) struct Endpoint {
    addr: SocketAddr,
    listener: Option<TcpListener>,
}

impl Endpoint {
    pub fn new(listener: TcpListener) -> Endpoint {
        let addr = listener
            .local_addr()
            .expect("a bound listener has a local address");
        Endpoint {
            addr,
            listener: Some(listener),
        }
    }

    /// The next connection; `None` once the sandbox shuts down.
    pub async fn accept(&mut self, shared: &Shared) -> Option<TcpStream> {
        let shutdown = &shared.shutdown;
        let mut changes = shared.faults.subscribe();
        loop {
            let refusal = shared.faults.refusal(Instant::now());
            if let Refusal::Now { until } = refusal {
                if self.listener.take().is_some() {
                    tracing::info!(addr = %self.addr, "fault: refusing connections");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep_until(until.into()) => {}
                    _ = changes.changed() => {}
                }
                continue;
            }
            if self.listener.is_none() {
                self.listener = Some(self.rebind(shared).await?);
                tracing::info!(addr = %self.addr, "fault window over: accepting connections again");
            }
            let listener = self.listener.as_ref().expect("bound above");
            // Wake at the next window's start, or far in the future when none is planned.
            let next = match refusal {
                Refusal::From(at) => at,
                _ => Instant::now() + Duration::from_secs(86_400),
            };
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        return Some(stream);
                    }
                }
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = changes.changed() => {}
            }
        }
    }

    /// Binds the same address again. Another process may have taken the port meanwhile; keep trying
    /// (loudly) rather than move the endpoint clients were given.
    async fn rebind(&self, shared: &Shared) -> Option<TcpListener> {
        let mut warned = false;
        loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => return Some(listener),
                Err(e) if !warned => {
                    tracing::error!(addr = %self.addr, "cannot listen again after a refuse fault (retrying): {e}");
                    warned = true;
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = shared.shutdown.cancelled() => return None,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }
}
