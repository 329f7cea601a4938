//! Wire protocols: turn an HTTP request into a protocol-neutral [`Call`] (operation name + typed JSON
//! input) and a service's answer back into the bytes its client expects. Service logic never sees the
//! wire; codecs never see service state.

mod cbor;
mod json;
mod query;
mod validate;
mod xml;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::Value;

use crate::model::Service;

/// How a request was framed, so the answer is framed the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target` + `application/x-amz-json-1.x` (ECS, CodeDeploy 1.1; CloudWatch 1.0).
    AwsJson,
    /// Form-encoded `Action=…&Version=…`, XML answers (ELBv2, legacy CloudWatch).
    AwsQuery,
    /// Smithy RPC v2 CBOR (`/service/<S>/operation/<Op>`).
    RpcV2Cbor,
}

/// One decoded API call.
#[derive(Debug)]
pub struct Call {
    pub service: Service,
    pub operation: String,
    pub input: Value,
    pub protocol: Protocol,
    /// Whether the client asked for awsQuery-compatible errors (`x-amzn-query-mode: true`).
    pub query_mode: bool,
    pub region: String,
    pub account: String,
}

/// An AWS error: `code` is the exception shape name (e.g. `ClusterNotFoundException`) or one of AWS's
/// common codes; the codec maps it to the wire code and HTTP status the model gives it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
    /// The HTTP status, when not the model's (an injected `ServiceUnavailable` is 503, which no model
    /// says); 5xx makes it the server's fault (`Receiver`).
    pub status: Option<u16>,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            message: message.into(),
            status: None,
        }
    }

    pub fn with_status(self, status: u16) -> Self {
        ApiError {
            status: Some(status),
            ..self
        }
    }
}

/// The account used when the access key does not name one (LocalStack's convention: a 12-digit access
/// key id is taken as the account id).
pub const DEFAULT_ACCOUNT: &str = "000000000000";
pub const DEFAULT_REGION: &str = "us-east-1";

/// A request that could not be decoded into a [`Call`]; answered in the protocol it arrived in.
pub struct Rejected {
    pub service: Option<Service>,
    /// The operation the client named, when the request got that far (rejected calls are counted too).
    pub operation: Option<String>,
    pub protocol: Protocol,
    pub query_mode: bool,
    pub error: ApiError,
}

/// Decode an HTTP request into a call. Dispatch follows AWS's own rules: `X-Amz-Target` for awsJson,
/// the `/service/…/operation/…` path for RPC v2 CBOR, the form's `Version` for awsQuery.
pub fn decode(path: &str, headers: &HeaderMap, body: &Bytes) -> Result<Call, Rejected> {
    let Scope {
        region,
        account,
        service: signed_for,
    } = signing_scope(headers);
    let query_mode = header(headers, "x-amzn-query-mode") == Some("true");
    let make = |service, operation: String, input, protocol| Call {
        service,
        operation,
        input,
        protocol,
        query_mode,
        region: region.clone(),
        account: account.clone(),
    };
    if let Some(target) = header(headers, "x-amz-target") {
        let protocol = Protocol::AwsJson;
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let Some(service) = Service::by_target_prefix(prefix) else {
            return Err(unknown_operation(None, protocol, query_mode, target));
        };
        let input = json::decode(service, op, body).map_err(|error| Rejected {
            service: Some(service),
            operation: Some(op.to_string()),
            protocol,
            query_mode,
            error,
        })?;
        return Ok(make(service, op.to_string(), input, protocol));
    }
    if let Some(rest) = path.strip_prefix("/service/") {
        let protocol = Protocol::RpcV2Cbor;
        let (service_name, op) = rest.split_once("/operation/").unwrap_or((rest, ""));
        let Some(service) = Service::by_target_prefix(service_name) else {
            return Err(unknown_operation(
                None,
                protocol,
                query_mode,
                &format!("{service_name}.{op}"),
            ));
        };
        let input = cbor::decode(service, op, body).map_err(|error| Rejected {
            service: Some(service),
            operation: Some(op.to_string()),
            protocol,
            query_mode,
            error,
        })?;
        return Ok(make(service, op.to_string(), input, protocol));
    }
    let protocol = Protocol::AwsQuery;
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // Every awsQuery service (ELBv2, CloudWatch, IAM) shares the one endpoint, so the form's `Version`
    // decides, as it names exactly one API. The credential scope's service (`iam`, signed for
    // us-east-1 or whatever region the client has, since IAM is global) only frames the error when
    // `Version` is missing or unknown.
    let signed_query = signed_for
        .as_deref()
        .and_then(Service::by_signing_name)
        .filter(|s| s.speaks_query());
    let (Some(action), Some(version)) = (get("Action"), get("Version")) else {
        let error = match (get("Action"), signed_query) {
            (Some(_), Some(_)) => ApiError::new(
                "MissingParameter",
                "The request must contain the parameter Version.",
            ),
            _ => ApiError::new(
                "MissingAction",
                "request is neither awsJson (X-Amz-Target), RPC v2 CBOR nor awsQuery (Action and Version form fields)",
            ),
        };
        return Err(Rejected {
            service: signed_query,
            operation: get("Action").map(str::to_string),
            protocol,
            query_mode,
            error,
        });
    };
    let Some(service) = Service::by_query_version(version) else {
        return Err(Rejected {
            service: signed_query,
            operation: Some(action.to_string()),
            protocol,
            query_mode,
            error: ApiError::new(
                "InvalidAction",
                format!("no service with API version {version}"),
            ),
        });
    };
    let input = query::decode(service, action, &form).map_err(|error| Rejected {
        service: Some(service),
        operation: Some(action.to_string()),
        protocol,
        query_mode,
        error,
    })?;
    Ok(make(service, action.to_string(), input, protocol))
}

fn unknown_operation(
    service: Option<Service>,
    protocol: Protocol,
    query_mode: bool,
    what: &str,
) -> Rejected {
    Rejected {
        service,
        operation: None,
        protocol,
        query_mode,
        error: ApiError::new(
            "UnknownOperationException",
            format!("Unknown operation {what}"),
        ),
    }
}

/// Encode a successful answer.
pub fn encode_output(call: &Call, output: Value) -> Response<Bytes> {
    match call.protocol {
        Protocol::AwsJson => json::encode_output(call.service, output),
        Protocol::RpcV2Cbor => cbor::encode_output(call.service, &call.operation, &output),
        Protocol::AwsQuery => xml::encode_output(call.service, &call.operation, &output),
    }
}

/// Encode an error answer.
pub fn encode_error(
    service: Option<Service>,
    protocol: Protocol,
    query_mode: bool,
    error: &ApiError,
) -> Response<Bytes> {
    let (code, status, sender) = match service {
        Some(s) => s.model().error_wire(&error.code),
        None => (error.code.clone(), 400, true),
    };
    let (status, sender) = match error.status {
        Some(given) => (given, given < 500),
        None => (status, sender),
    };
    match protocol {
        Protocol::AwsQuery => xml::encode_error(service, &code, status, sender, &error.message),
        Protocol::AwsJson | Protocol::RpcV2Cbor => {
            // `__type` carries the shape name (clients pick the modeled error type from it); the
            // query-compatible code goes in the header below.
            let mut resp = if protocol == Protocol::RpcV2Cbor {
                cbor::encode_error(&error.code, status, &error.message)
            } else {
                json::encode_error(service, &error.code, status, &error.message)
            };
            // awsQueryCompatible services (CloudWatch) carry the query error code in a header, which
            // botocore prefers over `__type` so its modeled exception classes resolve.
            if query_mode && service.is_some_and(|s| s.model().is_query_compatible()) {
                let fault = if sender { "Sender" } else { "Receiver" };
                if let Ok(v) = HeaderValue::from_str(&format!("{code};{fault}")) {
                    resp.headers_mut().insert("x-amzn-query-error", v);
                }
            }
            resp
        }
    }
}

pub(crate) fn response(status: u16, content_type: &str, body: Vec<u8>) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_str(content_type).expect("static content type"),
    );
    h.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("uuid is a valid header"),
    );
    resp
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What a request's SigV4 credential scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`) says.
#[derive(Debug, PartialEq, Eq)]
struct Scope {
    region: String,
    account: String,
    /// The signing name (`ecs`, `elasticloadbalancing`, `iam`, …), when the request is signed.
    service: Option<String>,
}

/// Region, account and signing name from the SigV4 `Authorization` header's credential scope.
/// Signatures are not checked: any credentials are accepted, as the sandbox holds nothing secret.
fn signing_scope(headers: &HeaderMap) -> Scope {
    let credential = header(headers, "authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or(""))
        .unwrap_or("");
    let mut parts = credential.split('/');
    let access_key = parts.next().unwrap_or("");
    let region = parts
        .nth(1)
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION);
    let service = parts.next().filter(|s| !s.is_empty());
    let account = if access_key.len() == 12 && access_key.bytes().all(|b| b.is_ascii_digit()) {
        access_key
    } else {
        DEFAULT_ACCOUNT
    };
    Scope {
        region: region.to_string(),
        account: account.to_string(),
        service: service.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_scope_reads_region_and_numeric_account() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=123456789012/20260101/eu-west-1/ecs/aws4_request, SignedHeaders=host, Signature=x",
            ),
        );
        let scope = |region: &str, account: &str, service: Option<&str>| Scope {
            region: region.into(),
            account: account.into(),
            service: service.map(Into::into),
        };
        assert_eq!(
            signing_scope(&h),
            scope("eu-west-1", "123456789012", Some("ecs"))
        );
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/ap-northeast-1/ecs/aws4_request",
            ),
        );
        assert_eq!(
            signing_scope(&h),
            scope("ap-northeast-1", DEFAULT_ACCOUNT, Some("ecs"))
        );
        assert_eq!(
            signing_scope(&HeaderMap::new()),
            scope(DEFAULT_REGION, DEFAULT_ACCOUNT, None)
        );
    }

    fn signed(credential: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!(
                "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-date, Signature=x"
            ))
            .unwrap(),
        );
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        h
    }

    /// IAM, ELBv2 and CloudWatch all speak awsQuery on the one endpoint: `Version` tells them apart,
    /// however the client signed (boto3 and the AWS CLI sign IAM for us-east-1 or their own region
    /// when given an endpoint URL; the Rust SDK for us-east-1).
    #[test]
    fn query_calls_go_to_the_service_their_version_names() {
        let cases = [
            (
                "Action=GetRole&Version=2010-05-08&RoleName=ecsCodeDeployRole",
                "AKID/20260101/us-east-1/iam/aws4_request",
                Service::Iam,
            ),
            (
                "Action=ListRoles&Version=2010-05-08",
                "123456789012/20260101/eu-west-1/iam/aws4_request",
                Service::Iam,
            ),
            (
                "Action=DescribeTargetGroups&Version=2015-12-01",
                "AKID/20260101/us-east-1/elasticloadbalancing/aws4_request",
                Service::Elbv2,
            ),
            (
                "Action=DescribeAlarms&Version=2010-08-01",
                "AKID/20260101/us-east-1/monitoring/aws4_request",
                Service::CloudWatch,
            ),
        ];
        for (form, credential, service) in cases {
            let call = decode("/", &signed(credential), &Bytes::from(form))
                .unwrap_or_else(|r| panic!("{form}: {}", r.error));
            assert_eq!(call.service, service, "{form}");
            assert_eq!(call.protocol, Protocol::AwsQuery);
        }
        // IAM's calls land in the signer's account whatever region they were signed for.
        let call = decode(
            "/",
            &signed("123456789012/20260101/eu-west-1/iam/aws4_request"),
            &Bytes::from("Action=ListRoles&Version=2010-05-08"),
        )
        .unwrap_or_else(|r| panic!("{}", r.error));
        assert_eq!(call.account, "123456789012");

        // Without a Version the signing name frames the error in IAM's own terms.
        let Err(rejected) = decode(
            "/",
            &signed("AKID/20260101/us-east-1/iam/aws4_request"),
            &Bytes::from("Action=GetRole&RoleName=x"),
        ) else {
            panic!("a call without Version was accepted")
        };
        assert_eq!(rejected.service, Some(Service::Iam));
        assert_eq!(rejected.error.code, "MissingParameter");
        let resp = encode_error(rejected.service, rejected.protocol, false, &rejected.error);
        let body = String::from_utf8_lossy(resp.body()).into_owned();
        assert!(
            body.contains("xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\""),
            "{body}"
        );
    }

    #[test]
    fn rpc_v2_cbor_path_decodes_and_rejections_name_the_operation() {
        let mut h = HeaderMap::new();
        h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
        h.insert("x-amzn-query-mode", HeaderValue::from_static("true"));
        let path = "/service/GraniteServiceVersion20100801/operation/DescribeAlarms";
        let call = decode(path, &h, &Bytes::new()).unwrap_or_else(|r| panic!("{}", r.error));
        assert_eq!(
            (call.service, call.operation.as_str()),
            (Service::CloudWatch, "DescribeAlarms")
        );
        assert_eq!(call.protocol, Protocol::RpcV2Cbor);
        assert!(call.query_mode);

        let path = "/service/GraniteServiceVersion20100801/operation/Nope";
        let Err(rejected) = decode(path, &h, &Bytes::new()) else {
            panic!("unknown operation accepted")
        };
        assert_eq!(rejected.operation.as_deref(), Some("Nope"));
        assert_eq!(rejected.error.code, "UnknownOperationException");
        assert!(rejected.query_mode);

        // Errors: CBOR body, modeled status, query-compatible code in the header.
        let err = ApiError::new("ResourceNotFound", "Alarm x not found");
        let resp = encode_error(Some(Service::CloudWatch), Protocol::RpcV2Cbor, true, &err);
        assert_eq!(resp.status(), 404);
        assert_eq!(
            resp.headers()["x-amzn-query-error"],
            "ResourceNotFound;Sender"
        );
        assert_eq!(resp.headers()["content-type"], "application/cbor");
        let err = ApiError::new("InvalidFormatFault", "bad json");
        let resp = encode_error(Some(Service::CloudWatch), Protocol::RpcV2Cbor, true, &err);
        assert_eq!(resp.headers()["x-amzn-query-error"], "InvalidFormat;Sender");
        let resp = encode_error(Some(Service::CloudWatch), Protocol::RpcV2Cbor, false, &err);
        assert!(resp.headers().get("x-amzn-query-error").is_none());
    }

    #[test]
    fn an_error_with_its_own_status_keeps_its_code_in_every_protocol() {
        let err = ApiError::new("ServiceUnavailable", "try later").with_status(503);
        let body = |r: &Response<Bytes>| String::from_utf8_lossy(r.body()).into_owned();

        let resp = encode_error(Some(Service::Ecs), Protocol::AwsJson, false, &err);
        assert_eq!(resp.status(), 503);
        let json: Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(json["__type"], "ServiceUnavailable");

        let resp = encode_error(Some(Service::Elbv2), Protocol::AwsQuery, false, &err);
        assert_eq!(resp.status(), 503);
        assert!(
            body(&resp).contains("<Type>Receiver</Type><Code>ServiceUnavailable</Code>"),
            "{}",
            body(&resp)
        );

        let resp = encode_error(Some(Service::CodeDeploy), Protocol::RpcV2Cbor, false, &err);
        assert_eq!(resp.status(), 503);
        assert!(body(&resp).contains("ServiceUnavailable"));

        let resp = encode_error(Some(Service::CloudWatch), Protocol::AwsJson, true, &err);
        assert_eq!(
            resp.headers()["x-amzn-query-error"],
            "ServiceUnavailable;Receiver"
        );

        // A modeled code keeps its wire code; a given status overrides the model's.
        let err = ApiError::new("TargetGroupNotFoundException", "gone").with_status(404);
        let resp = encode_error(Some(Service::Elbv2), Protocol::AwsQuery, false, &err);
        assert_eq!(resp.status(), 404);
        assert!(body(&resp).contains("<Type>Sender</Type><Code>TargetGroupNotFound</Code>"));
    }
}
