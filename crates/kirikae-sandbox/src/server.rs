//! The sandbox's one HTTP endpoint: every service, every protocol, plus `/_kirikae/*` for tools.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::faults::{Hit, listener::Endpoint};
use crate::model::Service;
use crate::protocol::{self, ApiError, Call};
use crate::world::{RegionKey, Shared};
use crate::{cloudwatch, codedeploy, ecs, elbv2, iam, sts};

pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    // Accepting goes through the fault-aware endpoint: `refuse` faults close it for their window.
    let mut endpoint = Endpoint::new(listener);
    while let Some(stream) = endpoint.accept(&shared).await {
        let shared = shared.clone();
        tokio::spawn(async move {
            // Cancelled to drop the connection without answering (see `no_answer`).
            let close = CancellationToken::new();
            let closing = close.clone();
            let service = service_fn(move |req| {
                let (shared, close) = (shared.clone(), close.clone());
                async move {
                    let resp = handle(&shared, req).await;
                    if resp.extensions().get::<NoAnswer>().is_some() {
                        close.cancel();
                        return std::future::pending().await;
                    }
                    Ok::<_, Infallible>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection closes its socket with the request unanswered.
            tokio::select! {
                _ = conn => {}
                _ = closing.cancelled() => {}
            }
        });
    }
}

/// Marks a response that is never sent: the connection is closed instead, as when AWS's endpoint
/// fails mid-request (`refuse` and `hang` faults).
#[derive(Clone, Copy)]
struct NoAnswer;

fn no_answer() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    resp.extensions_mut().insert(NoAnswer);
    resp
}

async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let endpoint = shared.hooks.endpoint_url.strip_prefix("http://");
    if let Some(refused) = crate::browsers::refuse(&parts, endpoint.and_then(|a| a.parse().ok())) {
        return refused;
    }
    let body = match crate::limits::read_body(&parts, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let path = parts.uri.path();
    if let Some(what) = path.strip_prefix("/_kirikae/") {
        return internal(shared, &parts.method, what, &body);
    }
    // A request on a connection opened before a `refuse` window gets no answer either.
    if shared.faults.refuses_request() {
        return no_answer();
    }
    let resp = match protocol::decode(path, &parts.headers, &body) {
        Ok(call) => {
            count(shared, call.service, &call.operation);
            // Faults come after decoding (they match on the operation) and before the throttle.
            let run = || admit(shared, &call).and_then(|()| dispatch(shared, &call));
            let result = match shared.faults.hit(call.service, &call.operation) {
                None => run(),
                Some(Hit::Error(e)) => Err(e),
                // The call's effects happen; whatever its outcome, the client sees the error.
                Some(Hit::Ambiguous(e)) => run().and(Err(e)),
                Some(Hit::Hang { id, until }) => {
                    shared.faults.hang(&id, until, &shared.shutdown).await;
                    return no_answer();
                }
            };
            shared.wake.notify_one();
            match result {
                Ok(output) => protocol::encode_output(&call, output),
                Err(e) => {
                    tracing::debug!(service = call.service.name(), op = %call.operation, code = %e.code, "{}", e.message);
                    protocol::encode_error(Some(call.service), call.protocol, call.query_mode, &e)
                }
            }
        }
        Err(rejected) => {
            if let (Some(service), Some(op)) = (rejected.service, &rejected.operation) {
                count(shared, service, op);
            }
            protocol::encode_error(
                rejected.service,
                rejected.protocol,
                rejected.query_mode,
                &rejected.error,
            )
        }
    };
    resp.map(Full::new)
}

fn region_key(call: &Call) -> RegionKey {
    RegionKey {
        account: call.account.clone(),
        region: call.region.clone(),
    }
}

/// The region an IAM call is throttled in: IAM is global, so one bucket per account whatever region
/// the client signed for.
const GLOBAL: &str = "aws-global";

/// The optional rate limit, before any work.
fn admit(shared: &Shared, call: &Call) -> Result<(), ApiError> {
    let Some(throttle) = &shared.throttle else {
        return Ok(());
    };
    let mut key = region_key(call);
    if call.service == Service::Iam {
        key.region = GLOBAL.to_string();
    }
    throttle.admit(&key, call.service).inspect_err(|_| {
        shared
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
}

fn dispatch(shared: &Arc<Shared>, call: &Call) -> Result<Value, ApiError> {
    let now = shared.clock.now_epoch();
    let mut world = shared.world();
    // IAM is global: its calls act on the account only, whatever region they were signed for.
    if call.service == Service::Iam {
        let account = world.account(&call.account, now);
        return iam::handle(&mut account.iam, now, &call.operation, &call.input);
    }
    if call.service == Service::Sts {
        return sts::handle(&call.account, &call.operation);
    }
    let mut cx = world.ctx(shared, &region_key(call), now);
    match call.service {
        Service::Ecs => ecs::handle(&mut cx, &call.operation, &call.input),
        Service::Elbv2 => elbv2::handle(&mut cx, &call.operation, &call.input),
        Service::CodeDeploy => codedeploy::handle(&mut cx, &call.operation, &call.input),
        Service::CloudWatch => cloudwatch::handle(&mut cx, &call.operation, &call.input),
        Service::Iam | Service::Sts => unreachable!("answered above"),
    }
}

fn count(shared: &Shared, service: Service, op: &str) {
    let mut calls = shared.calls.lock().unwrap_or_else(|e| e.into_inner());
    *calls.entry(format!("{}.{op}", service.name())).or_default() += 1;
}

/// Whether an operation only reads (AWS's naming convention holds for every emulated service).
pub fn is_read_only(op: &str) -> bool {
    ["Describe", "List", "Get", "BatchGet"]
        .iter()
        .any(|p| op.starts_with(p))
}

fn internal(
    shared: &Shared,
    method: &hyper::Method,
    what: &str,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    match what {
        "health" => plain(200, "ok\n"),
        "calls" => {
            let calls = shared
                .calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let mutating: u64 = calls
                .iter()
                .filter(|(k, _)| !is_read_only(k.split_once('.').map_or("", |(_, op)| op)))
                .map(|(_, n)| n)
                .sum();
            let total: u64 = calls.values().sum();
            let throttled = shared.throttled.load(std::sync::atomic::Ordering::Relaxed);
            let faulted = shared.faults.faulted();
            let body = json!({ "calls": calls, "total": total, "mutating": mutating, "throttled": throttled, "faulted": faulted });
            json_response(200, &body)
        }
        w if w == "faults" || w.starts_with("faults/") => {
            let (status, answer) = shared.faults.control(method, w, body);
            json_response(status, &answer)
        }
        _ => plain(
            404,
            "unknown sandbox endpoint; try /_kirikae/health, /_kirikae/calls or /_kirikae/faults\n",
        ),
    }
}

fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn plain(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).expect("static status");
    resp
}
