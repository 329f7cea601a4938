//! Reading the (already validated and typed) input JSON: small accessors so handlers read like the API.

use serde_json::Value;

use super::errors;
use crate::protocol::ApiError;

pub fn str_opt<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

/// A member the model marks required (validation has already rejected its absence).
pub fn str_req<'a>(input: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    str_opt(input, name).ok_or_else(|| errors::validation(format!("{name} is required")))
}

pub fn i64_opt(input: &Value, name: &str) -> Option<i64> {
    input.get(name).and_then(Value::as_i64)
}

pub fn bool_opt(input: &Value, name: &str) -> Option<bool> {
    input.get(name).and_then(Value::as_bool)
}

/// A list of strings; `None` when the member is absent (an empty list is `Some(vec![])`).
pub fn strings(input: &Value, name: &str) -> Option<Vec<String>> {
    input.get(name).and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// AWS `Marker`/`PageSize` paging: the marker is an opaque offset into the full, stably ordered answer.
pub fn page(items: Vec<Value>, input: &Value) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let start = match str_opt(input, "Marker") {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| errors::validation(format!("Invalid marker '{m}'")))?,
        None => 0,
    };
    // The model bounds PageSize to 1-400; AWS answers up to 400 items when it is absent.
    let size = i64_opt(input, "PageSize").unwrap_or(400).max(1) as usize;
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    let page = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_walk_the_whole_answer() {
        let items: Vec<Value> = (0..5).map(Value::from).collect();
        let (p, next) = page(items.clone(), &json!({"PageSize": 2})).unwrap();
        assert_eq!((p, next.as_deref()), (vec![json!(0), json!(1)], Some("2")));
        let (p, next) = page(items.clone(), &json!({"PageSize": 2, "Marker": "4"})).unwrap();
        assert_eq!((p, next), (vec![json!(4)], None));
        assert!(page(items, &json!({"Marker": "x"})).is_err());
    }
}
