//! The ECS API model (botocore's `service-2.json`, stripped of docs), used to check definition files
//! before anything is sent: every key must be a member of its shape (the SDK's codec would silently drop
//! a typo), values must have the member's type, enum values must be known.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::suggest::closest;

static ECS_MODEL: &str = include_str!("../../models/ecs.json");

/// A parsed service model.
pub struct Model {
    shapes: Map<String, Value>,
}

/// What is wrong, and where (`containerDefinitions[0].portMappings[1].containerPort`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

pub fn ecs() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let v: Value = serde_json::from_str(ECS_MODEL).expect("embedded ECS model is valid JSON");
        let shapes = v
            .get("shapes")
            .and_then(Value::as_object)
            .cloned()
            .expect("model has shapes");
        Model { shapes }
    })
}

impl Model {
    /// Member names of a structure shape.
    pub fn members(&self, shape: &str) -> Vec<&str> {
        self.shapes
            .get(shape)
            .and_then(|s| s.get("members"))
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Checks `value` against the structure `shape` and normalises it in place (nulls removed, numbers
    /// given for string members turned into strings, as `"cpu": 256` is commonly written). Top-level keys
    /// in `ignore` (read-only fields of describe output) are removed without complaint.
    pub fn check_top(&self, shape: &str, value: &mut Value, ignore: &[&str]) -> Result<(), Issue> {
        if let Value::Object(obj) = value {
            obj.retain(|k, _| !ignore.contains(&k.as_str()));
        }
        self.check(shape, value, "", false)
    }

    fn check(
        &self,
        shape_name: &str,
        value: &mut Value,
        path: &str,
        nested: bool,
    ) -> Result<(), Issue> {
        let shape = self
            .shapes
            .get(shape_name)
            .unwrap_or_else(|| panic!("ECS model has no shape {shape_name}"));
        let kind = shape
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("structure");
        let issue = |message: String| Issue {
            path: display_path(path),
            message,
            hint: None,
        };
        match kind {
            "structure" => {
                let Value::Object(obj) = value else {
                    return Err(issue(format!(
                        "expected an object, found {}",
                        kind_of(value)
                    )));
                };
                let members = shape
                    .get("members")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                obj.retain(|_, v| !v.is_null());
                for (key, v) in obj.iter_mut() {
                    let child = join(path, key);
                    let Some(member) = members.get(key) else {
                        let hint = closest(key, members.keys().map(String::as_str))
                            .map(|m| format!("did you mean `{m}`?"));
                        return Err(Issue {
                            path: display_path(&child),
                            message: format!("unknown key `{key}`"),
                            hint: hint.or_else(|| {
                                Some("keys are the AWS API's member names (camelCase)".into())
                            }),
                        });
                    };
                    let target = member
                        .get("shape")
                        .and_then(Value::as_str)
                        .unwrap_or("String");
                    self.check(target, v, &child, true)?;
                }
                if nested {
                    for req in shape
                        .get("required")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let req = req.as_str().unwrap_or_default();
                        if !obj.contains_key(req) {
                            return Err(issue(format!("missing required key `{req}`")));
                        }
                    }
                }
                Ok(())
            }
            "list" => {
                let Value::Array(items) = value else {
                    return Err(issue(format!("expected a list, found {}", kind_of(value))));
                };
                let member = shape
                    .pointer("/member/shape")
                    .and_then(Value::as_str)
                    .unwrap_or("String");
                for (i, item) in items.iter_mut().enumerate() {
                    self.check(member, item, &format!("{path}[{i}]"), true)?;
                }
                Ok(())
            }
            "map" => {
                let Value::Object(obj) = value else {
                    return Err(issue(format!(
                        "expected an object, found {}",
                        kind_of(value)
                    )));
                };
                let target = shape
                    .pointer("/value/shape")
                    .and_then(Value::as_str)
                    .unwrap_or("String");
                for (key, v) in obj.iter_mut() {
                    self.check(target, v, &join(path, key), true)?;
                }
                Ok(())
            }
            "string" => {
                match value {
                    Value::String(_) => {}
                    Value::Number(n) => *value = Value::String(n.to_string()),
                    _ => {
                        return Err(issue(format!(
                            "expected a string, found {}",
                            kind_of(value)
                        )));
                    }
                }
                if let Some(allowed) = shape.get("enum").and_then(Value::as_array) {
                    let s = value.as_str().unwrap_or_default();
                    if !allowed.iter().any(|a| a.as_str() == Some(s)) {
                        let list: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                        return Err(Issue {
                            path: display_path(path),
                            message: format!("`{s}` is not one of {}", list.join(", ")),
                            hint: closest(s, list.iter().copied())
                                .map(|m| format!("did you mean `{m}`?")),
                        });
                    }
                }
                Ok(())
            }
            "integer" | "long" => match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
                _ => Err(issue(format!(
                    "expected an integer, found {}",
                    kind_of(value)
                ))),
            },
            "double" | "float" => match value {
                Value::Number(_) => Ok(()),
                _ => Err(issue(format!(
                    "expected a number, found {}",
                    kind_of(value)
                ))),
            },
            "boolean" => match value {
                Value::Bool(_) => Ok(()),
                _ => Err(issue(format!(
                    "expected true or false, found {}",
                    kind_of(value)
                ))),
            },
            // Timestamps and blobs only occur in read-only output members here.
            _ => Ok(()),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn display_path(path: &str) -> String {
    path.to_string()
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_nested_key_is_named_with_its_path_and_a_suggestion() {
        let mut v =
            json!({"family": "f", "containerDefinitions": [{"name": "web", "imagee": "x"}]});
        let e = ecs()
            .check_top("RegisterTaskDefinitionRequest", &mut v, &[])
            .unwrap_err();
        assert_eq!(e.path, "containerDefinitions[0].imagee");
        assert_eq!(e.message, "unknown key `imagee`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `image`?"));
    }

    #[test]
    fn read_only_keys_are_dropped_and_numbers_become_strings() {
        let mut v = json!({"family": "f", "cpu": 256, "revision": 3, "containerDefinitions": []});
        ecs()
            .check_top("RegisterTaskDefinitionRequest", &mut v, &["revision"])
            .unwrap();
        assert_eq!(
            v,
            json!({"family": "f", "cpu": "256", "containerDefinitions": []})
        );
    }

    #[test]
    fn wrong_types_and_enum_values_are_errors() {
        let mut v = json!({"family": "f", "containerDefinitions": [{"portMappings": [{"containerPort": "80"}]}]});
        let e = ecs()
            .check_top("RegisterTaskDefinitionRequest", &mut v, &[])
            .unwrap_err();
        assert_eq!(
            e.path,
            "containerDefinitions[0].portMappings[0].containerPort"
        );
        let mut v = json!({"family": "f", "networkMode": "awsvpcc", "containerDefinitions": []});
        let e = ecs()
            .check_top("RegisterTaskDefinitionRequest", &mut v, &[])
            .unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `awsvpc`?"));
    }
}
