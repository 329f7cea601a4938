//! The request size limit. (The sandbox's other caps live with what they limit: tasks at once and
//! address exhaustion in `addr`, `desiredCount` in `ecs::services`, load balancers per region in
//! `elbv2::load_balancers`.)

use bytes::Bytes;
use http::request::Parts;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Response;
use hyper::body::Incoming;

use crate::model::Service;
use crate::protocol::{self, ApiError, Protocol};

/// The largest request body the endpoint reads. The largest legitimate requests (a task definition with
/// ten containers, a CodeDeploy revision with its AppSpec) are tens of kilobytes; AWS's own limits are
/// of the same order (64 KiB of container definitions).
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// The request's body, or the answer to send instead: 413 in the protocol the request speaks when it
/// is larger than [`MAX_REQUEST_BYTES`] (refused from `Content-Length` before reading, else as soon as
/// the limit is passed), 400 when it cannot be read.
pub async fn read_body(parts: &Parts, body: Incoming) -> Result<Bytes, Response<Full<Bytes>>> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        return Err(too_large(parts));
    }
    match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(parts)),
        Err(_) => {
            let mut resp = Response::new(Full::new(Bytes::from_static(
                b"could not read request body",
            )));
            *resp.status_mut() = http::StatusCode::BAD_REQUEST;
            Err(resp)
        }
    }
}

/// 413, framed as the request's protocol frames errors (from its headers and path only: the body is
/// not read), so clients report it as an AWS error.
fn too_large(parts: &Parts) -> Response<Full<Bytes>> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let query_mode = header("x-amzn-query-mode") == Some("true");
    let (service, protocol) = if let Some(target) = header("x-amz-target") {
        let prefix = target.split_once('.').map_or(target, |(p, _)| p);
        (Service::by_target_prefix(prefix), Protocol::AwsJson)
    } else if let Some(rest) = parts.uri.path().strip_prefix("/service/") {
        let name = rest.split_once("/operation/").map_or(rest, |(s, _)| s);
        (Service::by_target_prefix(name), Protocol::RpcV2Cbor)
    } else {
        (None, Protocol::AwsQuery)
    };
    let error = ApiError::new(
        "RequestEntityTooLarge",
        format!(
            "Request must be smaller than {MAX_REQUEST_BYTES} bytes (the kirikae sandbox's limit on request bodies)"
        ),
    );
    let mut resp = protocol::encode_error(service, protocol, query_mode, &error);
    *resp.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
    // The rest of the body is not read: the connection cannot be reused.
    resp.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    resp.map(Full::new)
}
