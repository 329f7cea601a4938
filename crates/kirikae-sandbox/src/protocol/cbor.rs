//! Smithy RPC v2 CBOR: the body is the operation's input shape as a CBOR map (member names as
//! modeled), answered with the output shape as a CBOR map.
//!
//! Requests become the same typed JSON the awsJson codec produces (timestamps as epoch-second numbers,
//! blobs as base64 strings), so service logic and validation never know which protocol carried a call.
//! Answers are written by hand rather than through a generic CBOR value, so that widths are what Smithy
//! clients expect: doubles and timestamps always as 64-bit floats (tag 1 for timestamps), integers in
//! their shortest form.

use bytes::Bytes;
use ciborium::Value as Cbor;
use http::{HeaderValue, Response};
use serde_json::{Map, Number, Value, json};

use super::{ApiError, response, validate};
use crate::model::{Service, ShapeKind};

pub const CONTENT_TYPE: &str = "application/cbor";

/// CBOR tag 1: epoch-based date/time (RFC 8949 §3.4.2), Smithy's timestamp encoding.
const EPOCH_TAG: u64 = 1;
/// CBOR tag 0: RFC 3339 date/time string.
const DATE_TIME_TAG: u64 = 0;

pub fn decode(service: Service, op: &str, body: &Bytes) -> Result<Value, ApiError> {
    let model = service.model();
    // Only services whose model lists the protocol answer it (CloudWatch, CodeDeploy; not ECS).
    let speaks_cbor = model
        .metadata
        .protocols
        .iter()
        .any(|p| p == "smithy-rpc-v2-cbor");
    let Some(operation) = model.operation(op).filter(|_| speaks_cbor) else {
        return Err(ApiError::new(
            "UnknownOperationException",
            format!("Unknown operation {op}"),
        ));
    };
    // An operation without input may be sent with no body at all.
    let input = if body.is_empty() {
        json!({})
    } else {
        let cbor: Cbor = ciborium::de::from_reader(body.as_ref()).map_err(|e| {
            ApiError::new(
                "SerializationException",
                format!("Malformed CBOR request body: {e}"),
            )
        })?;
        if !cbor.is_map() {
            return Err(ApiError::new(
                "SerializationException",
                "Request body must be a CBOR map",
            ));
        }
        match &operation.input {
            Some(shape) => to_json(service, Some(&shape.shape), cbor)?,
            None => json!({}),
        }
    };
    if let Some(shape) = &operation.input {
        validate::input(service, &shape.shape, &input)?;
    }
    Ok(input)
}

/// Convert a CBOR value to JSON, guided by the shape it should have. A value that does not fit its
/// shape is converted as-is, so that validation reports the mismatch in the usual words.
fn to_json(service: Service, shape_name: Option<&str>, value: Cbor) -> Result<Value, ApiError> {
    let model = service.model();
    let shape = shape_name.map(|n| model.shape(n));
    let kind = shape.map(|s| s.kind);
    Ok(match value {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => Value::String(base64_encode(&b)),
        Cbor::Integer(i) => {
            let n = i128::from(i);
            match kind {
                Some(ShapeKind::Double | ShapeKind::Float | ShapeKind::Timestamp) => {
                    float(n as f64)?
                }
                _ => integer(n)?,
            }
        }
        Cbor::Float(f) => match kind {
            // Clients may send a whole double for an integer member; keep the JSON integral so
            // handlers can read it with `as_i64`.
            Some(ShapeKind::Integer | ShapeKind::Long) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Value::from(f as i64)
            }
            _ => float(f)?,
        },
        Cbor::Tag(EPOCH_TAG, inner) => match *inner {
            Cbor::Integer(i) => float(i128::from(i) as f64)?,
            Cbor::Float(f) => float(f)?,
            _ => return Err(serialization("timestamp tag 1 must wrap a number")),
        },
        // Smithy sends tag 1; generic CBOR encoders (cbor2, ciborium's users) often write tag 0, an
        // RFC 3339 string. Accepting it costs nothing.
        Cbor::Tag(DATE_TIME_TAG, inner) => match *inner {
            Cbor::Text(s) => {
                float(parse_iso8601(&s).ok_or_else(|| serialization("invalid date/time string"))?)?
            }
            _ => return Err(serialization("date/time tag 0 must wrap a string")),
        },
        Cbor::Tag(tag, _) => return Err(serialization(&format!("unexpected CBOR tag {tag}"))),
        Cbor::Array(items) => {
            let member = shape
                .filter(|s| s.kind == ShapeKind::List)
                .and_then(|s| s.member.as_ref())
                .map(|m| m.shape.as_str());
            let items = items
                .into_iter()
                .map(|item| to_json(service, member, item))
                .collect::<Result<_, _>>()?;
            Value::Array(items)
        }
        Cbor::Map(entries) => {
            let mut obj = Map::new();
            for (k, v) in entries {
                let Cbor::Text(key) = k else {
                    return Err(serialization("map keys must be text strings"));
                };
                let v_shape = match shape {
                    Some(s) if s.kind == ShapeKind::Structure => match s.members.get(&key) {
                        Some(m) => Some(m.shape.as_str()),
                        // Smithy: unknown members are ignored (newer clients, older server).
                        None => continue,
                    },
                    Some(s) if s.kind == ShapeKind::Map => {
                        s.value.as_ref().map(|m| m.shape.as_str())
                    }
                    _ => None,
                };
                // A null member of a structure means "absent" (Smithy); dropping it keeps
                // `required` checks and handlers simple.
                if v.is_null() && shape.is_some_and(|s| s.kind == ShapeKind::Structure) {
                    continue;
                }
                obj.insert(key, to_json(service, v_shape, v)?);
            }
            Value::Object(obj)
        }
        _ => return Err(serialization("unsupported CBOR value")),
    })
}

fn integer(n: i128) -> Result<Value, ApiError> {
    if let Ok(i) = i64::try_from(n) {
        Ok(Value::from(i))
    } else if let Ok(u) = u64::try_from(n) {
        Ok(Value::from(u))
    } else {
        Err(serialization("integer out of range"))
    }
}

fn float(f: f64) -> Result<Value, ApiError> {
    // JSON has no NaN or infinities; no member the sandbox serves accepts them either.
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| serialization("non-finite number"))
}

fn serialization(what: &str) -> ApiError {
    ApiError::new(
        "SerializationException",
        format!("Malformed CBOR request body: {what}"),
    )
}

/// A successful answer: the output shape as a CBOR map (an empty map for operations without output).
pub fn encode_output(service: Service, op: &str, output: &Value) -> Response<Bytes> {
    let mut body = Vec::new();
    match service
        .model()
        .operation(op)
        .and_then(|o| o.output.as_ref())
    {
        Some(out) => write_value(service, Some(&out.shape), output, &mut body),
        None => write_head(&mut body, MAJOR_MAP, 0),
    }
    cbor_response(200, body)
}

/// An error answer: `{"__type": code, "message": …}`, read by clients exactly like awsJson's.
pub fn encode_error(code: &str, status: u16, message: &str) -> Response<Bytes> {
    let mut body = Vec::new();
    write_head(&mut body, MAJOR_MAP, 2);
    write_text(&mut body, "__type");
    write_text(&mut body, code);
    write_text(&mut body, "message");
    write_text(&mut body, message);
    cbor_response(status, body)
}

fn cbor_response(status: u16, body: Vec<u8>) -> Response<Bytes> {
    let mut resp = response(status, CONTENT_TYPE, body);
    resp.headers_mut()
        .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    resp
}

const MAJOR_UINT: u8 = 0;
const MAJOR_NINT: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;

fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, MAJOR_TEXT, s.len() as u64);
    out.extend(s.as_bytes());
}

fn write_f64(out: &mut Vec<u8>, f: f64) {
    out.push(0xfb);
    out.extend(f.to_be_bytes());
}

fn write_int(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_head(out, MAJOR_UINT, u);
    } else if let Some(i) = n.as_i64() {
        // Negative integers carry -1 - n.
        write_head(out, MAJOR_NINT, (-1 - i) as u64);
    } else {
        // A fractional number for an integer member: a service bug, but the client still gets a
        // readable (truncated) value.
        write_head(out, MAJOR_UINT, n.as_f64().unwrap_or(0.0).max(0.0) as u64);
    }
}

/// Write a value the way its shape says; without a shape (or when value and shape disagree) the JSON
/// value's own type decides.
fn write_value(service: Service, shape_name: Option<&str>, value: &Value, out: &mut Vec<u8>) {
    let shape = shape_name.map(|n| service.model().shape(n));
    match (shape.map(|s| s.kind), value) {
        (Some(ShapeKind::Timestamp), Value::Number(n)) => {
            write_head(out, MAJOR_TAG, EPOCH_TAG);
            write_f64(out, n.as_f64().unwrap_or(0.0));
        }
        (Some(ShapeKind::Timestamp), Value::String(s)) => {
            write_head(out, MAJOR_TAG, EPOCH_TAG);
            write_f64(out, parse_iso8601(s).unwrap_or(0.0));
        }
        (Some(ShapeKind::Blob), Value::String(s)) => {
            let bytes = base64_decode(s).unwrap_or_else(|| s.as_bytes().to_vec());
            write_head(out, MAJOR_BYTES, bytes.len() as u64);
            out.extend(bytes);
        }
        (Some(ShapeKind::Double | ShapeKind::Float), Value::Number(n)) => {
            write_f64(out, n.as_f64().unwrap_or(0.0));
        }
        (Some(ShapeKind::Integer | ShapeKind::Long), Value::Number(n)) => {
            match n
                .as_f64()
                .filter(|f| !n.is_i64() && !n.is_u64() && f.fract() == 0.0)
            {
                Some(f) => write_int(out, &Number::from(f as i64)),
                None => write_int(out, n),
            }
        }
        (_, Value::Null) => out.push(0xf6),
        (_, Value::Bool(b)) => out.push(if *b { 0xf5 } else { 0xf4 }),
        (_, Value::Number(n)) => {
            if n.is_i64() || n.is_u64() {
                write_int(out, n);
            } else {
                write_f64(out, n.as_f64().unwrap_or(0.0));
            }
        }
        (_, Value::String(s)) => write_text(out, s),
        (_, Value::Array(items)) => {
            let member = shape
                .filter(|s| s.kind == ShapeKind::List)
                .and_then(|s| s.member.as_ref())
                .map(|m| m.shape.as_str());
            write_head(out, MAJOR_ARRAY, items.len() as u64);
            for item in items {
                write_value(service, member, item, out);
            }
        }
        (_, Value::Object(obj)) => match shape {
            Some(s) if s.kind == ShapeKind::Structure => {
                // Only modeled members, and no nulls: Smithy clients read null as "absent" anyway,
                // and unmodeled keys would be noise.
                let present: Vec<_> = s
                    .members
                    .iter()
                    .filter_map(|(name, m)| {
                        obj.get(name).filter(|v| !v.is_null()).map(|v| (name, m, v))
                    })
                    .collect();
                write_head(out, MAJOR_MAP, present.len() as u64);
                for (name, member, v) in present {
                    write_text(out, name);
                    write_value(service, Some(&member.shape), v, out);
                }
            }
            _ => {
                let v_shape = shape
                    .filter(|s| s.kind == ShapeKind::Map)
                    .and_then(|s| s.value.as_ref())
                    .map(|m| m.shape.as_str());
                write_head(out, MAJOR_MAP, obj.len() as u64);
                for (k, v) in obj {
                    write_text(out, k);
                    write_value(service, v_shape, v, out);
                }
            }
        },
    }
}

/// ISO-8601 to epoch seconds, for timestamps a handler kept as text (query inputs carry them so).
fn parse_iso8601(s: &str) -> Option<f64> {
    // humantime takes `Z` only; cbor2 and others write `+00:00`.
    let s = s.strip_suffix("+00:00").unwrap_or(s);
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding: how awsJson carries blobs, so CBOR byte strings become the same JSON.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in digits {
        let v = BASE64.iter().position(|&b| b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built CBOR, so the tests check bytes a real client sends rather than ciborium's own
    /// round-trip.
    fn text(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        write_text(&mut v, s);
        v
    }

    fn decode_cbor(bytes: &[u8]) -> Cbor {
        ciborium::de::from_reader(bytes).unwrap()
    }

    #[test]
    fn decodes_a_typed_input_map() {
        // {"AlarmName": "a", "Threshold": 5 (int for a double), "EvaluationPeriods": 2.0 (float for
        //  an int), "Dimensions": [{"Name": "n", "Value": "v"}], "Unknown": 1}
        let mut b = vec![0xa5];
        b.extend(text("AlarmName"));
        b.extend(text("a"));
        b.extend(text("Threshold"));
        b.push(0x05);
        b.extend(text("EvaluationPeriods"));
        b.extend([0xf9, 0x40, 0x00]); // half-precision 2.0
        b.extend(text("Dimensions"));
        b.push(0x81);
        b.push(0xa2);
        b.extend(text("Name"));
        b.extend(text("n"));
        b.extend(text("Value"));
        b.extend(text("v"));
        b.extend(text("Unknown"));
        b.push(0x01);
        let v = decode(Service::CloudWatch, "PutMetricAlarm", &Bytes::from(b)).unwrap();
        assert_eq!(
            v,
            json!({"AlarmName": "a", "Threshold": 5.0, "EvaluationPeriods": 2,
                   "Dimensions": [{"Name": "n", "Value": "v"}]})
        );
        assert!(v["EvaluationPeriods"].is_i64());
        assert!(v["Threshold"].is_f64());
    }

    #[test]
    fn decodes_timestamps_indefinite_maps_and_empty_bodies() {
        // Indefinite-length map {"StartDate": 1(1700000000), "EndDate": 1(1700000000.5)}
        let mut b = vec![0xbf];
        b.extend(text("StartDate"));
        b.extend([0xc1, 0x1a]);
        b.extend(1_700_000_000u32.to_be_bytes());
        b.extend(text("EndDate"));
        b.extend([0xc1, 0xfb]);
        b.extend(1_700_000_000.5f64.to_be_bytes());
        b.push(0xff);
        let v = decode(Service::CloudWatch, "DescribeAlarmHistory", &Bytes::from(b)).unwrap();
        assert_eq!(
            v,
            json!({"StartDate": 1_700_000_000.0, "EndDate": 1_700_000_000.5})
        );
        // Tag 0 (RFC 3339 text) as generic encoders write it.
        let mut b = vec![0xa1];
        b.extend(text("StartDate"));
        b.push(0xc0);
        b.extend(text("2023-11-14T22:13:20.250000+00:00"));
        let v = decode(Service::CloudWatch, "DescribeAlarmHistory", &Bytes::from(b)).unwrap();
        assert_eq!(v, json!({"StartDate": 1_700_000_000.25}));
        let v = decode(Service::CloudWatch, "DescribeAlarms", &Bytes::new()).unwrap();
        assert_eq!(v, json!({}));
    }

    #[test]
    fn validation_and_unknown_operations_use_the_usual_errors() {
        // {"AlarmName": "a"} for SetAlarmState: StateValue and StateReason are required.
        let mut b = vec![0xa1];
        b.extend(text("AlarmName"));
        b.extend(text("a"));
        let err = decode(Service::CloudWatch, "SetAlarmState", &Bytes::from(b)).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
        assert!(
            err.message.starts_with("2 validation errors detected"),
            "{}",
            err.message
        );
        let err = decode(Service::CloudWatch, "Nope", &Bytes::new()).unwrap_err();
        assert_eq!(err.code, "UnknownOperationException");
        let err = decode(
            Service::CloudWatch,
            "DescribeAlarms",
            &Bytes::from_static(&[0x83, 1, 2, 3]),
        )
        .unwrap_err();
        assert_eq!(err.code, "SerializationException");
        let err = decode(
            Service::CloudWatch,
            "DescribeAlarms",
            &Bytes::from_static(&[0xa1, 0x61]),
        )
        .unwrap_err();
        assert_eq!(err.code, "SerializationException");
    }

    #[test]
    fn only_services_modeled_with_cbor_answer_it() {
        let err = decode(Service::Ecs, "ListClusters", &Bytes::new()).unwrap_err();
        assert_eq!(err.code, "UnknownOperationException");
        assert!(decode(Service::CodeDeploy, "ListApplications", &Bytes::new()).is_ok());
    }

    #[test]
    fn blobs_travel_as_base64_in_json() {
        let mut out = Vec::new();
        write_value(
            Service::CloudWatch,
            Some("MetricWidgetImage"),
            &json!("AAH/"),
            &mut out,
        );
        assert_eq!(out, [0x43, 0x00, 0x01, 0xff]);
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64_decode("!!"), None);
        let cbor = Cbor::Bytes(vec![0, 1, 2, 255]);
        let v = to_json(Service::CloudWatch, None, cbor).unwrap();
        assert_eq!(
            base64_decode(v.as_str().unwrap()).unwrap(),
            vec![0, 1, 2, 255]
        );
    }

    #[test]
    fn encodes_output_guided_by_the_shape() {
        let out = json!({
            "MetricAlarms": [{
                "AlarmName": "a",
                "StateUpdatedTimestamp": 1_700_000_000,
                "Threshold": 5,
                "EvaluationPeriods": 2,
                "ActionsEnabled": true,
                "Dimensions": [],
                "NotModeled": "x",
                "StateReasonData": null
            }]
        });
        let resp = encode_output(Service::CloudWatch, "DescribeAlarms", &out);
        assert_eq!(resp.headers()["smithy-protocol"], "rpc-v2-cbor");
        assert_eq!(resp.headers()["content-type"], "application/cbor");
        let body = resp.body().to_vec();
        // Timestamps: tag 1 + a 64-bit float; doubles: 64-bit floats.
        let mut ts = vec![0xc1, 0xfb];
        ts.extend(1_700_000_000.0f64.to_be_bytes());
        assert!(body.windows(ts.len()).any(|w| w == ts), "{body:x?}");
        let mut th = text("Threshold");
        th.push(0xfb);
        th.extend(5.0f64.to_be_bytes());
        assert!(body.windows(th.len()).any(|w| w == th), "{body:x?}");
        let decoded = decode_cbor(&body);
        let alarms = &decoded.as_map().unwrap()[0].1;
        let alarm = alarms.as_array().unwrap()[0].as_map().unwrap();
        let keys: Vec<_> = alarm.iter().map(|(k, _)| k.as_text().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "ActionsEnabled",
                "AlarmName",
                "Dimensions",
                "EvaluationPeriods",
                "StateUpdatedTimestamp",
                "Threshold"
            ]
        );
        let periods = alarm
            .iter()
            .find(|(k, _)| k.as_text() == Some("EvaluationPeriods"))
            .unwrap();
        assert_eq!(periods.1, Cbor::Integer(2.into()));
    }

    #[test]
    fn empty_output_and_errors() {
        let resp = encode_output(Service::CloudWatch, "PutMetricAlarm", &json!({}));
        assert_eq!(resp.body().as_ref(), &[0xa0]);
        let resp = encode_error("ResourceNotFound", 404, "Alarm x not found");
        assert_eq!(resp.status(), 404);
        let decoded = decode_cbor(resp.body());
        assert_eq!(
            decoded,
            Cbor::Map(vec![
                (
                    Cbor::Text("__type".into()),
                    Cbor::Text("ResourceNotFound".into())
                ),
                (
                    Cbor::Text("message".into()),
                    Cbor::Text("Alarm x not found".into())
                ),
            ])
        );
        // Negative and large integers round-trip through the hand-written encoder.
        let mut out = Vec::new();
        write_value(
            Service::CloudWatch,
            None,
            &json!([-1, -500, 70000, 5_000_000_000u64]),
            &mut out,
        );
        assert_eq!(
            decode_cbor(&out),
            Cbor::Array(vec![
                Cbor::Integer((-1).into()),
                Cbor::Integer((-500).into()),
                Cbor::Integer(70000.into()),
                Cbor::Integer(5_000_000_000u64.into()),
            ])
        );
    }
}
