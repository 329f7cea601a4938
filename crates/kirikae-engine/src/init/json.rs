//! JSON written as a person would lay it out: the keys a reader looks for first at the top, in a fixed
//! order, then the rest alphabetically; two-space indentation, a newline at the end. (The engine's
//! `serde_json` keeps object keys sorted, so the order is chosen here, at the edge.)

use serde_json::Value;

/// `value` pretty-printed with, at every level, the keys in `first` in that order, then the others
/// sorted.
pub fn pretty_with_order(value: &Value, first: &[&str]) -> String {
    let mut out = String::new();
    write(value, first, 0, &mut out);
    out.push('\n');
    out
}

fn write(v: &Value, first: &[&str], depth: usize, out: &mut String) {
    let pad = |d: usize| "  ".repeat(d);
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            let rank = |k: &str| first.iter().position(|f| *f == k).unwrap_or(first.len());
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write(&map[k.as_str()], first, depth + 1, out);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write(item, first, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Recursively removes nulls, empty lists and empty objects (what a person leaves out).
pub fn prune(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                prune(child);
            }
            map.retain(|_, c| !is_empty(c));
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_follow_the_same_order() {
        let v = json!({"containerDefinitions": [{"image": "i", "name": "web", "cpu": 1}], "family": "f"});
        let text = pretty_with_order(&v, &["family", "name", "image"]);
        assert!(text.starts_with("{\n  \"family\": \"f\",\n  \"containerDefinitions\": [\n    {\n      \"name\": \"web\",\n      \"image\": \"i\",\n      \"cpu\": 1\n    }\n  ]\n}"), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
        assert_eq!(
            pretty_with_order(&json!({"a": [], "b": {}}), &[]),
            "{\n  \"a\": [],\n  \"b\": {}\n}\n"
        );
    }

    #[test]
    fn chosen_keys_first_then_the_rest_sorted() {
        let v = json!({"b": 1, "family": "web", "a": [1, 2], "cpu": "256"});
        let text = pretty_with_order(&v, &["family", "cpu"]);
        assert_eq!(
            text,
            "{\n  \"family\": \"web\",\n  \"cpu\": \"256\",\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": 1\n}\n"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn empties_are_pruned_recursively() {
        let mut v = json!({"a": [], "b": {"c": null, "d": {}}, "e": [{"f": []}], "g": 0});
        prune(&mut v);
        assert_eq!(v, json!({"e": [{}], "g": 0}));
    }
}
