//! The one place that uses the SDK's schema-based JSON codec (a young API, versions pinned in the workspace):
//! camelCase API JSON (what `aws ecs describe-*` prints) in, SDK input types out, and back.

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_smithy_json::codec::{JsonCodec, JsonCodecSettings};
use aws_smithy_schema::codec::Codec;
use aws_smithy_schema::serde::{SerdeError, SerializableStruct, ShapeSerializer};
use serde_json::Value;

fn codec() -> JsonCodec {
    // awsJson protocols use member names, not jsonName traits.
    JsonCodec::new(JsonCodecSettings::builder().use_json_name(false).build())
}

/// A type the codec reads and writes.
pub trait ApiJson: Sized + SerializableStruct {
    fn decode(bytes: &[u8]) -> Result<Self, SerdeError>;
}

impl ApiJson for RegisterTaskDefinitionInput {
    fn decode(bytes: &[u8]) -> Result<Self, SerdeError> {
        RegisterTaskDefinitionInput::deserialize(&mut codec().create_deserializer(bytes))
    }
}

impl ApiJson for CreateServiceInput {
    fn decode(bytes: &[u8]) -> Result<Self, SerdeError> {
        CreateServiceInput::deserialize(&mut codec().create_deserializer(bytes))
    }
}

/// Parses API JSON into `T`. Keys the SDK does not know are reported as `Err(paths)` rather than dropped
/// silently: the AWS model the files were checked against can be newer than the SDK kirikae was built with.
pub fn decode<T: ApiJson>(json: &Value) -> Result<T, DecodeError> {
    let bytes = serde_json::to_vec(json).expect("a Value serialises");
    let value = T::decode(&bytes).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    let back = encode(&value).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    let mut dropped = Vec::new();
    missing_keys(json, &back, "", &mut dropped);
    if dropped.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::Unsupported(dropped))
    }
}

/// Serialises an SDK value back into API JSON.
pub fn encode<T: SerializableStruct>(value: &T) -> Result<Value, SerdeError> {
    let mut ser = codec().create_serializer();
    ser.write_struct(value.schema(), value)?;
    let bytes = ser.finish();
    serde_json::from_slice(&bytes).map_err(|e| SerdeError::custom(e.to_string()))
}

#[derive(Debug)]
pub enum DecodeError {
    Invalid(String),
    /// Paths of keys the SDK dropped.
    Unsupported(Vec<String>),
}

/// Paths present in `a` but absent in `b` (values are not compared: re-serialising adds defaults).
fn missing_keys(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(bv) => missing_keys(v, bv, &p, out),
                    None => out.push(p),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (av, bv)) in a.iter().zip(b).enumerate() {
                missing_keys(av, bv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_definition_round_trips_through_sdk_types() {
        let json = json!({
            "family": "web",
            "networkMode": "awsvpc",
            "cpu": "256",
            "containerDefinitions": [{
                "name": "web", "image": "kirikae/demo:v1", "essential": true,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "A", "value": "1"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}
            }],
            "tags": [{"key": "team", "value": "sre"}]
        });
        let input: RegisterTaskDefinitionInput = decode(&json).unwrap();
        assert_eq!(input.family(), Some("web"));
        let c = &input.container_definitions()[0];
        assert_eq!(c.image(), Some("kirikae/demo:v1"));
        assert_eq!(c.port_mappings()[0].container_port(), Some(8080));
        assert_eq!(input.tags()[0].key(), Some("team"));
    }

    #[test]
    fn create_service_input_parses() {
        let json = json!({
            "serviceName": "web", "desiredCount": 2, "launchType": "FARGATE",
            "loadBalancers": [{"targetGroupArn": "arn:tg", "containerName": "web", "containerPort": 8080}],
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}
        });
        let input: CreateServiceInput = decode(&json).unwrap();
        assert_eq!(input.desired_count(), Some(2));
        assert_eq!(input.load_balancers()[0].container_port(), Some(8080));
    }

    #[test]
    fn keys_the_sdk_drops_are_reported() {
        let mut out = Vec::new();
        missing_keys(
            &json!({"a": {"b": 1, "c": 2}, "l": [{"x": 1}]}),
            &json!({"a": {"b": 1}, "l": [{}]}),
            "",
            &mut out,
        );
        assert_eq!(out, vec!["a.c", "l[0].x"]);
    }
}
