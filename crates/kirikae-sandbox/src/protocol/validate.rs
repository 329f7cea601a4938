//! The input validation AWS performs before an operation runs: required members, enum values, lengths
//! and ranges from the model. Violations are reported the way AWS words them
//! ("1 validation error detected: Value 'X' at 'a.b' failed to satisfy constraint: …").

use serde_json::Value;

use super::ApiError;
use crate::model::{Service, ShapeKind};

/// The exception a service answers a constraint violation with.
fn validation_code(service: Service) -> &'static str {
    match service {
        Service::Ecs => "InvalidParameterException",
        Service::Elbv2 | Service::Iam | Service::Sts => "ValidationError",
        Service::CodeDeploy => "ValidationException",
        Service::CloudWatch => "InvalidParameterValueException",
    }
}

pub fn input(service: Service, shape: &str, value: &Value) -> Result<(), ApiError> {
    let mut violations = Vec::new();
    let mut type_errors = Vec::new();
    walk(service, shape, value, "", &mut violations, &mut type_errors);
    if let Some(first) = type_errors.into_iter().next() {
        let code = match service {
            Service::Elbv2 | Service::Iam | Service::Sts => "ValidationError",
            _ => "SerializationException",
        };
        return Err(ApiError::new(code, first));
    }
    if violations.is_empty() {
        return Ok(());
    }
    let n = violations.len();
    let noun = if n == 1 { "error" } else { "errors" };
    Err(ApiError::new(
        validation_code(service),
        format!("{n} validation {noun} detected: {}", violations.join("; ")),
    ))
}

fn walk(
    service: Service,
    shape_name: &str,
    value: &Value,
    path: &str,
    violations: &mut Vec<String>,
    type_errors: &mut Vec<String>,
) {
    let model = service.model();
    let shape = model.shape(shape_name);
    let at = |p: &str| {
        if p.is_empty() {
            "input".to_string()
        } else {
            p.to_string()
        }
    };
    let mismatch = |expected: &str| format!("Expected {expected} at '{}', got {value}", at(path));
    match shape.kind {
        ShapeKind::Structure => {
            let Some(obj) = value.as_object() else {
                type_errors.push(mismatch("an object"));
                return;
            };
            for req in &shape.required {
                if obj.get(req).is_none_or(Value::is_null) {
                    violations.push(format!(
                        "Value null at '{}' failed to satisfy constraint: Member must not be null",
                        join(path, &member_name(service, req))
                    ));
                }
            }
            for (name, member) in &shape.members {
                if let Some(v) = obj.get(name).filter(|v| !v.is_null()) {
                    walk(
                        service,
                        &member.shape,
                        v,
                        &join(path, &member_name(service, name)),
                        violations,
                        type_errors,
                    );
                }
            }
        }
        ShapeKind::List => {
            let Some(items) = value.as_array() else {
                type_errors.push(mismatch("a list"));
                return;
            };
            check_len(shape.min, shape.max, items.len(), value, path, violations);
            let member = &shape
                .member
                .as_ref()
                .expect("list shape has a member")
                .shape;
            for (i, item) in items.iter().enumerate() {
                let p = format!("{}.{}.member", at(path), i + 1);
                walk(service, member, item, &p, violations, type_errors);
            }
        }
        ShapeKind::Map => {
            let Some(entries) = value.as_object() else {
                type_errors.push(mismatch("a map"));
                return;
            };
            let v_shape = &shape.value.as_ref().expect("map shape has a value").shape;
            for (k, v) in entries {
                walk(
                    service,
                    v_shape,
                    v,
                    &format!("{}.{k}", at(path)),
                    violations,
                    type_errors,
                );
            }
        }
        ShapeKind::String => {
            let Some(s) = value.as_str() else {
                type_errors.push(mismatch("a string"));
                return;
            };
            if let Some(allowed) = &shape.enum_values
                && !allowed.iter().any(|a| a == s)
            {
                violations.push(format!(
                    "Value '{s}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    at(path),
                    allowed.join(", ")
                ));
            }
            check_len(
                shape.min,
                shape.max,
                s.chars().count(),
                value,
                path,
                violations,
            );
        }
        ShapeKind::Integer | ShapeKind::Long | ShapeKind::Double | ShapeKind::Float => {
            let Some(n) = value.as_f64() else {
                type_errors.push(mismatch("a number"));
                return;
            };
            if matches!(shape.kind, ShapeKind::Integer | ShapeKind::Long) && n.fract() != 0.0 {
                type_errors.push(mismatch("an integer"));
                return;
            }
            if let Some(min) = shape.min.filter(|m| n < *m) {
                violations.push(format!(
                    "Value '{value}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to {min}",
                    at(path)
                ));
            }
            if let Some(max) = shape.max.filter(|m| n > *m) {
                violations.push(format!(
                    "Value '{value}' at '{}' failed to satisfy constraint: Member must have value less than or equal to {max}",
                    at(path)
                ));
            }
        }
        ShapeKind::Boolean => {
            if !value.is_boolean() {
                type_errors.push(mismatch("a boolean"));
            }
        }
        ShapeKind::Timestamp => {
            if !(value.is_number() || value.is_string()) {
                type_errors.push(mismatch("a timestamp"));
            }
        }
        ShapeKind::Blob => {
            if !value.is_string() {
                type_errors.push(mismatch("a blob"));
            }
        }
    }
}

fn check_len(
    min: Option<f64>,
    max: Option<f64>,
    len: usize,
    value: &Value,
    path: &str,
    violations: &mut Vec<String>,
) {
    let len = len as f64;
    if let Some(min) = min.filter(|m| len < *m) {
        violations.push(format!(
            "Value '{}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
            display(value)
        ));
    }
    if let Some(max) = max.filter(|m| len > *m) {
        violations.push(format!(
            "Value '{}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}",
            display(value)
        ));
    }
}

fn display(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// A member as AWS names it in validation messages: IAM writes `roleName` for `RoleName`.
pub(crate) fn member_name(service: Service, name: &str) -> String {
    match service {
        Service::Iam => {
            let mut chars = name.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
        _ => name.to_string(),
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}
