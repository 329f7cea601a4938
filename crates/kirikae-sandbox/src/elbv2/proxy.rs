//! The listener's reverse proxy: HTTP/1.1 with keep-alive, bodies streamed both ways. Each request
//! is routed afresh (`routing::route`, under the world lock only long enough to choose); the request
//! is then forwarded with the lock released.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_util::sync::CancellationToken;

use super::conditions::RequestFacts;
use super::errors;
use super::routing::{self, Decision};
use crate::protocol::ApiError;
use crate::world::{RegionKey, Shared};

type Body = BoxBody<Bytes, hyper::Error>;

/// What one listener's proxy needs to route a request.
struct Proxy {
    shared: Arc<Shared>,
    /// The listener's account and region: where to look it up per request.
    key: RegionKey,
    listener_arn: String,
    port: u16,
    client: Client<HttpConnector, Incoming>,
}

/// Bind `ip:port` now (so a failure answers the API call), then serve it until the returned token
/// (a child of the sandbox's shutdown token) is cancelled.
pub fn start(
    shared: &Arc<Shared>,
    key: RegionKey,
    listener_arn: String,
    ip: Ipv4Addr,
    port: u16,
) -> Result<CancellationToken, ApiError> {
    let cannot = |e: std::io::Error| {
        // Real ALBs listen on 80/443; unprivileged Linux users cannot, so say how to allow it.
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied && port < 1024 {
            " (ports below 1024 need root, or: sudo sysctl net.ipv4.ip_unprivileged_port_start=0)"
        } else {
            ""
        };
        errors::invalid_configuration(format!(
            "The listener cannot listen on {ip}:{port}: {e}{hint}"
        ))
    };
    let std_listener = std::net::TcpListener::bind((ip, port)).map_err(cannot)?;
    std_listener.set_nonblocking(true).map_err(cannot)?;
    let listener = tokio::net::TcpListener::from_std(std_listener).map_err(cannot)?;
    let stop = shared.shutdown.child_token();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let proxy = Arc::new(Proxy {
        shared: shared.clone(),
        key,
        listener_arn,
        port,
        client: Client::builder(TokioExecutor::new()).build(connector),
    });
    tracing::info!(%ip, port, listener = %proxy.listener_arn, "listener serving");
    tokio::spawn(accept_loop(listener, proxy, stop.clone()));
    Ok(stop)
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    proxy: Arc<Proxy>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // E.g. too many open files: back off briefly rather than spin.
                tracing::warn!(port = proxy.port, "accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.serve(req, peer).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            // A deleted listener drops its open connections too.
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
    tracing::info!(port = proxy.port, listener = %proxy.listener_arn, "listener closed");
}

impl Proxy {
    async fn serve(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let decision = self.decide(&req, peer);
        match decision {
            Decision::Forward(target) => self.forward(req, peer, target).await,
            Decision::Fixed(r) => {
                let mut resp = Response::new(full(r.message_body.unwrap_or_default()));
                *resp.status_mut() = r.status_code.parse().unwrap_or(StatusCode::OK);
                let content_type = r
                    .content_type
                    .unwrap_or_else(|| "text/plain; charset=utf-8".into());
                if let Ok(v) = HeaderValue::from_str(&content_type) {
                    resp.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                with_server(resp)
            }
            Decision::Redirect { status, location } => {
                let mut resp = Response::new(full(String::new()));
                *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
                if let Ok(v) = HeaderValue::from_str(&location) {
                    resp.headers_mut().insert(header::LOCATION, v);
                }
                with_server(resp)
            }
            Decision::NoHealthyTarget | Decision::NoListener => {
                alb_error(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    /// Route under the world lock, released before anything awaits.
    fn decide(&self, req: &Request<Incoming>, peer: SocketAddr) -> Decision {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        let facts = RequestFacts {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query(),
            host,
            headers: req.headers(),
            source: peer.ip(),
        };
        let mut world = self.shared.world();
        routing::route(
            &mut world.region(&self.key).elbv2,
            &self.listener_arn,
            &facts,
            self.port,
        )
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        target: SocketAddr,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let Ok(uri) = format!("http://{target}{path}").parse() else {
            return alb_error(StatusCode::BAD_REQUEST);
        };
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        strip_hop_by_hop(&mut parts.headers);
        self.add_forwarded_headers(&mut parts.headers, peer);
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(resp) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, body.boxed())
            }
            Err(e) => {
                tracing::debug!(%target, "target connection failed: {e}");
                alb_error(StatusCode::BAD_GATEWAY)
            }
        }
    }

    /// `X-Forwarded-For` (appended to, as ALB's default `append` mode does), `-Proto`, `-Port`.
    fn add_forwarded_headers(&self, headers: &mut HeaderMap, peer: SocketAddr) {
        let trace = (!headers.contains_key("x-amzn-trace-id")).then(trace_id);
        let client = peer.ip().to_string();
        let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prior) if !prior.is_empty() => format!("{prior}, {client}"),
            _ => client,
        };
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        set("x-forwarded-for", xff);
        set("x-forwarded-proto", "http".into());
        set("x-forwarded-port", self.port.to_string());
        if let Some(t) = trace {
            set("x-amzn-trace-id", t);
        }
    }
}

/// `Root=1-{epoch seconds, hex}-{96 random bits, hex}`, the format ALB stamps on requests.
fn trace_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r: u128 = rand::random();
    format!("Root=1-{secs:08x}-{:024x}", r & ((1u128 << 96) - 1))
}

/// Headers that describe one connection, not the message: never forwarded by a proxy.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

fn with_server(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("awselb/2.0"));
    resp
}

/// The page an ALB answers with when it cannot reach a target (502) or has none (503).
fn alb_error(status: StatusCode) -> Response<Body> {
    let title = match status {
        StatusCode::SERVICE_UNAVAILABLE => "503 Service Temporarily Unavailable".to_string(),
        s => format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("")),
    };
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    let mut resp = Response::new(full(html));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    with_server(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("content-type"));
    }

    #[test]
    fn trace_ids_look_like_albs() {
        let t = trace_id();
        let parts: Vec<&str> = t.trim_start_matches("Root=").split('-').collect();
        assert_eq!(parts.len(), 3, "{t}");
        assert_eq!((parts[0], parts[1].len(), parts[2].len()), ("1", 8, 24));
    }
}
