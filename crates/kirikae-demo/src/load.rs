//! A steady load through a listener: `connections` keep-alive HTTP/1.1 connections, each sending `GET /`
//! at an even pace so that together they make `rate` requests per second. A late answer delays that
//! connection's next request (no catch-up burst). Every request is recorded: when it started and ended,
//! and which version answered (the demo app's JSON), or why it failed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Origin;
use super::stack::Address;

/// A request that takes longer than this failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Settings {
    /// Requests per second, all connections together.
    pub rate: f64,
    pub connections: usize,
}

/// One request.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the origin, just before the request was written.
    pub start: f64,
    pub end: f64,
    /// The version that answered (a 200 with the demo app's JSON).
    pub version: Option<String>,
    /// Why it failed (connection error, time-out, a status other than 200, an unexpected body).
    pub error: Option<String>,
}

/// What the load has seen so far, for live progress: answers by version, and failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub by_version: std::collections::BTreeMap<String, u64>,
    pub failed: u64,
    /// The version of the newest answer.
    pub latest: Option<String>,
}

impl Counts {
    pub fn sent(&self) -> u64 {
        self.by_version.values().sum::<u64>() + self.failed
    }

    fn record(&mut self, version: Option<&str>) {
        match version {
            Some(v) => {
                *self.by_version.entry(v.to_string()).or_default() += 1;
                self.latest = Some(v.to_string());
            }
            None => self.failed += 1,
        }
    }
}

/// The running load; [`Load::stop`] ends it.
pub struct Load {
    stop: CancellationToken,
    workers: JoinSet<Vec<Sample>>,
    counts: Arc<Mutex<Counts>>,
}

pub async fn start(address: &Address, settings: Settings, origin: Origin) -> Load {
    let stop = CancellationToken::new();
    let counts = Arc::new(Mutex::new(Counts::default()));
    let mut workers = JoinSet::new();
    let connections = settings.connections.max(1);
    let period = Duration::from_secs_f64(connections as f64 / settings.rate.max(0.1));
    for i in 0..connections {
        let worker = Worker {
            address: address.clone(),
            period,
            origin,
            sender: None,
            counts: counts.clone(),
        };
        // Spread the connections' first requests over one period.
        let first = Instant::now() + period.mul_f64(i as f64 / connections as f64);
        workers.spawn(worker.run(first, stop.clone()));
    }
    Load {
        stop,
        workers,
        counts,
    }
}

impl Load {
    /// What the load has seen so far.
    pub fn counts(&self) -> Counts {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops sending; requests in flight complete. The samples, by start time.
    pub async fn stop(self) -> Vec<Sample> {
        self.stop.cancel();
        let mut samples: Vec<Sample> = self.workers.join_all().await.concat();
        samples.sort_by(|a, b| a.start.total_cmp(&b.start));
        samples
    }
}

struct Worker {
    address: Address,
    period: Duration,
    origin: Origin,
    sender: Option<SendRequest<Empty<Bytes>>>,
    counts: Arc<Mutex<Counts>>,
}

impl Worker {
    async fn run(mut self, first: Instant, stop: CancellationToken) -> Vec<Sample> {
        let mut samples = Vec::new();
        let mut next = first;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(next) => {}
            }
            let start = self.origin.elapsed();
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, self.request()).await;
            let (version, error) = match answer {
                Ok(Ok(version)) => (Some(version), None),
                Ok(Err(e)) => (None, Some(e)),
                Err(_) => (None, Some("timed out".to_string())),
            };
            if error.is_some() {
                // A fresh connection for the next request, as a client would open.
                self.sender = None;
            }
            self.counts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(version.as_deref());
            samples.push(Sample {
                start,
                end: self.origin.elapsed(),
                version,
                error,
            });
            next = (next + self.period).max(Instant::now());
        }
        samples
    }

    /// `GET /` on the worker's connection (opened on first use); the version that answered.
    async fn request(&mut self) -> Result<String, String> {
        let sender = match &mut self.sender {
            Some(s) if !s.is_closed() => s,
            _ => self.sender.insert(connect(&self.address).await?),
        };
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let request = hyper::Request::get("/")
            .header(hyper::header::HOST, &self.address.host)
            .header(hyper::header::USER_AGENT, "kirikae-demo")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("response body: {e}"))?
            .to_bytes();
        if status != hyper::StatusCode::OK {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        version_of(&body).ok_or_else(|| "a 200 without the demo app's version".to_string())
    }
}

async fn connect(address: &Address) -> Result<SendRequest<Empty<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(address.socket)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// `{"app":"kirikae/demo","version":"v2","task":"…"}` → `v2`.
fn version_of(body: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    doc.get("version")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_demo_apps_version() {
        assert_eq!(
            version_of(br#"{"app":"kirikae/demo","version":"v2","task":"abc"}"#).as_deref(),
            Some("v2")
        );
        assert_eq!(version_of(b"<html>503</html>"), None);
    }

    #[test]
    fn counts_answers_by_version_and_failures() {
        let mut c = Counts::default();
        c.record(Some("v1"));
        c.record(Some("v2"));
        c.record(None);
        c.record(Some("v2"));
        assert_eq!(c.sent(), 4);
        assert_eq!(c.failed, 1);
        assert_eq!(c.by_version["v2"], 2);
        assert_eq!(c.latest.as_deref(), Some("v2"));
    }
}
