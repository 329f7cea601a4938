//! The gate's HTTP checks: requests through the test listener, each judged by its status and (optionally)
//! its body, the check passing when no more than its share of requests failed.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client as Legacy;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

use super::CheckResult;
use crate::config::gate::HttpCheck;

/// A body longer than this is a failed request (a health page is small; the check must not buffer a
/// download).
const MAX_BODY: usize = 1 << 20;

/// One HTTP client for the gate's checks: plain HTTP, or HTTPS with the system's roots.
#[derive(Clone)]
pub enum Client {
    Http(Legacy<HttpConnector, Empty<Bytes>>),
    Https(Legacy<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>),
}

impl Client {
    pub fn for_url(base: &str) -> Result<Client, String> {
        if base.starts_with("https://") {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| format!("no TLS root certificates: {e}"))?
                .https_only()
                .enable_http1()
                .build();
            Ok(Client::Https(
                Legacy::builder(TokioExecutor::new()).build(https),
            ))
        } else {
            Ok(Client::Http(
                Legacy::builder(TokioExecutor::new()).build_http(),
            ))
        }
    }

    /// Sends `req`; the status and the body (at most [`MAX_BODY`]).
    async fn send(&self, req: http::Request<Empty<Bytes>>) -> Result<(u16, Bytes), String> {
        match self {
            Client::Http(c) => read(c.request(req).await).await,
            Client::Https(c) => read(c.request(req).await).await,
        }
    }
}

async fn read<B>(
    sent: Result<http::Response<B>, hyper_util::client::legacy::Error>,
) -> Result<(u16, Bytes), String>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let resp = sent.map_err(|e| {
        use std::error::Error as _;
        let what = if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        match e.source() {
            Some(s) => format!("{what}: {s}"),
            None => what.to_string(),
        }
    })?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// Runs one check against `base` (the test listener's URL, no trailing slash).
pub async fn run(check: &HttpCheck, base: &str, client: &Client) -> CheckResult {
    let started = Instant::now();
    let url = format!("{}{}", base.trim_end_matches('/'), check.path);
    let body_re = check
        .body
        .as_deref()
        .map(|b| regex_lite::Regex::new(b).expect("checked when the plan was built"));
    let spacing = (check.duration_seconds > 0)
        .then(|| Duration::from_secs(check.duration_seconds.into()) / check.requests.max(1));
    let mut failures = 0u32;
    let mut first_failure = None;
    for i in 0..check.requests {
        if let Some(gap) = spacing {
            tokio::time::sleep_until(started + gap * i).await;
        }
        if let Err(why) = one(check, &url, body_re.as_ref(), client).await {
            failures += 1;
            first_failure.get_or_insert_with(|| format!("request {}: {why}", i + 1));
        }
    }
    let ratio = f64::from(failures) / f64::from(check.requests.max(1));
    CheckResult {
        check: check.said(),
        url,
        requests: check.requests,
        failures,
        max_failure_ratio: check.max_failure_ratio,
        passed: ratio <= check.max_failure_ratio,
        first_failure,
        duration_seconds: started.elapsed().as_secs_f64(),
    }
}

/// One request: `Err` says why it failed.
async fn one(
    check: &HttpCheck,
    url: &str,
    body_re: Option<&regex_lite::Regex>,
    client: &Client,
) -> Result<(), String> {
    let req = http::Request::builder()
        .method(check.method.as_str())
        .uri(url)
        .header("user-agent", "kirikae-gate")
        .body(Empty::new())
        .map_err(|e| format!("invalid request: {e}"))?;
    let limit = Duration::from_secs(check.timeout_seconds.into());
    let (status, body) = tokio::time::timeout(limit, client.send(req))
        .await
        .map_err(|_| format!("no answer within {} s", check.timeout_seconds))??;
    if status != check.status {
        return Err(format!("HTTP {status} (expected {})", check.status));
    }
    if let Some(re) = body_re {
        let text = String::from_utf8_lossy(&body);
        if !re.is_match(&text) {
            let shown: String = text.trim().chars().take(120).collect();
            return Err(format!(
                "the body does not match /{}/: {shown}",
                re.as_str()
            ));
        }
    }
    Ok(())
}
