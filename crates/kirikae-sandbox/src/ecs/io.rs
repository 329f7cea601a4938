//! Reading typed inputs and writing outputs without `null`s (absent members are omitted, as AWS does).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::protocol::ApiError;

/// The input as a typed request. The codec has already checked it against the model, so a failure here
/// means a member the handler's struct types more narrowly than the model.
pub fn parse<T: DeserializeOwned>(input: &Value) -> Result<T, ApiError> {
    serde_json::from_value(input.clone()).map_err(|e| {
        ApiError::new(
            "SerializationException",
            format!("cannot read request: {e}"),
        )
    })
}

/// Any serializable value as JSON.
pub fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("ECS state serializes to JSON")
}

/// Drop `null` members of an object (one level): optional members AWS has no value for are absent.
pub fn compact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// The cluster an operation acts on: the `cluster` member, or `default` when it is absent (as AWS).
pub fn cluster_ref(input: &Value) -> &str {
    input
        .get("cluster")
        .and_then(Value::as_str)
        .unwrap_or("default")
}

/// Whether the request includes `TAGS` in its `include` list.
pub fn includes_tags(input: &Value) -> bool {
    input
        .get("include")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|v| v == "TAGS"))
}

/// One page of `items` for `nextToken`/`maxResults`. Tokens are opaque offsets.
pub fn page<T>(
    items: Vec<T>,
    input: &Value,
    default_max: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = input
        .get("maxResults")
        .and_then(Value::as_i64)
        .map(|m| m.clamp(1, 100) as usize)
        .unwrap_or(default_max);
    let start = match input.get("nextToken").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(token) => token
            .strip_prefix("kirikae-")
            .and_then(|n| usize::from_str_radix(n, 16).ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::new("InvalidParameterException", "Invalid nextToken."))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("kirikae-{end:x}"));
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_through_items() {
        let items: Vec<u32> = (0..25).collect();
        let (first, next) = page(items.clone(), &json!({"maxResults": 10}), 100).unwrap();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        let (second, next) = page(
            items.clone(),
            &json!({"maxResults": 10, "nextToken": next}),
            100,
        )
        .unwrap();
        assert_eq!(second, (10..20).collect::<Vec<_>>());
        let (third, next) = page(
            items.clone(),
            &json!({"maxResults": 10, "nextToken": next}),
            100,
        )
        .unwrap();
        assert_eq!(third, (20..25).collect::<Vec<_>>());
        assert_eq!(next, None);
        assert!(page(items, &json!({"nextToken": "bogus"}), 100).is_err());
    }

    #[test]
    fn compact_drops_nulls_only() {
        assert_eq!(
            compact(json!({"a": null, "b": 0, "c": []})),
            json!({"b": 0, "c": []})
        );
    }
}
