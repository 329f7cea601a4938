//! awsJson 1.0 / 1.1: the body is the operation's input shape as JSON, member names as modeled.

use bytes::Bytes;
use http::Response;
use serde_json::{Value, json};

use super::{ApiError, response, validate};
use crate::model::Service;

pub fn decode(service: Service, op: &str, body: &Bytes) -> Result<Value, ApiError> {
    let model = service.model();
    let Some(operation) = model.operation(op) else {
        return Err(ApiError::new(
            "UnknownOperationException",
            format!("Unknown operation {op}"),
        ));
    };
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                "SerializationException",
                format!("Malformed JSON request body: {e}"),
            )
        })?
    };
    if !input.is_object() {
        return Err(ApiError::new(
            "SerializationException",
            "Request body must be a JSON object",
        ));
    }
    if let Some(shape) = &operation.input {
        validate::input(service, &shape.shape, &input)?;
    }
    Ok(input)
}

pub fn encode_output(service: Service, output: Value) -> Response<Bytes> {
    let body = serde_json::to_vec(&output).expect("JSON values serialize");
    response(200, &service.model().json_content_type(), body)
}

/// An error answer, in the service's own JSON version (1.0 for CloudWatch, 1.1 for ECS/CodeDeploy;
/// 1.1 when the service is unknown).
pub fn encode_error(
    service: Option<Service>,
    code: &str,
    status: u16,
    message: &str,
) -> Response<Bytes> {
    let body = serde_json::to_vec(&json!({ "__type": code, "message": message }))
        .expect("JSON values serialize");
    let content_type = service.map_or_else(
        || "application/x-amz-json-1.1".to_string(),
        |s| s.model().json_content_type(),
    );
    response(status, &content_type, body)
}
