//! Web pages are the one client that can reach a loopback-only endpoint on the operator's behalf: any
//! page the operator visits may POST to `http://127.0.0.1:4747` (a form-encoded awsQuery call, or a
//! body to `/service/…/operation/…`, needs no CORS preflight), and a DNS-rebinding page may even read
//! the answers. The API has no authentication and starts processes, so the endpoint refuses:
//!
//! - requests with an `Origin` header: browsers send it on every cross-origin POST, AWS clients never
//!   do (and the sandbox answers no CORS, so no web page could use it anyway);
//! - when it listens on loopback, requests whose `Host` is neither a loopback address nor `localhost`:
//!   a rebinding page reaches it under its own domain name.
//!
//! Listener proxies (load balancers' addresses) are not concerned: browsing a task through them is fine.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::request::Parts;
use http_body_util::Full;
use hyper::Response;

/// `Some(answer)` when the request comes from a web page (see the module's doc); `endpoint` is the
/// address the sandbox listens on.
pub fn refuse(parts: &Parts, endpoint: Option<SocketAddr>) -> Option<Response<Full<Bytes>>> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if parts.headers.contains_key(http::header::ORIGIN) {
        return Some(forbidden(
            "the kirikae sandbox refuses requests from web pages (they carry an Origin header): its API has no authentication and starts processes",
        ));
    }
    let loopback_only = endpoint.is_some_and(|e| e.ip().to_canonical().is_loopback());
    if loopback_only
        && let Some(host) = header("host")
        && !is_local_host(host)
    {
        return Some(forbidden(
            "the kirikae sandbox listens on loopback and only answers requests addressed to a loopback address or localhost (Host header), so that web pages cannot reach it through a domain name of theirs",
        ));
    }
    None
}

/// Whether a `Host` header names this machine: a loopback address or `localhost`, with or without port.
fn is_local_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn forbidden(why: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(format!("{why}\n"))));
    *resp.status_mut() = http::StatusCode::FORBIDDEN;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut req = http::Request::post("/");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn local_hosts_are_recognised() {
        for ok in [
            "127.0.0.1:4747",
            "127.0.0.1",
            "localhost:4747",
            "LOCALHOST",
            "[::1]:4747",
            "127.16.0.1:80",
        ] {
            assert!(is_local_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:4747",
            "evil.example",
            "10.0.0.1:4747",
            "localhost.evil.example",
            "[::2]:1",
        ] {
            assert!(!is_local_host(bad), "{bad}");
        }
    }

    #[test]
    fn web_pages_are_refused_and_clients_are_not() {
        let local: Option<SocketAddr> = Some("127.0.0.1:4747".parse().unwrap());
        let anywhere: Option<SocketAddr> = Some("0.0.0.0:4747".parse().unwrap());
        let sdk = parts(&[("host", "127.0.0.1:4747")]);
        assert!(refuse(&sdk, local).is_none());
        let page = parts(&[
            ("host", "127.0.0.1:4747"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(refuse(&page, local).unwrap().status(), 403);
        assert_eq!(refuse(&page, anywhere).unwrap().status(), 403);
        let rebound = parts(&[("host", "evil.example:4747")]);
        assert_eq!(refuse(&rebound, local).unwrap().status(), 403);
        // With --allow-remote, clients name the machine as they like.
        assert!(refuse(&rebound, anywhere).is_none());
    }
}
