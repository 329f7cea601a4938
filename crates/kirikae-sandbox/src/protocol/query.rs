//! awsQuery requests: a flat form (`A.B.member.1.C=x`) rebuilt into the input shape as typed JSON, so
//! service logic reads the same values whichever protocol carried them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{ApiError, validate};
use crate::model::{Service, ShapeKind};

pub fn decode(
    service: Service,
    action: &str,
    form: &[(String, String)],
) -> Result<Value, ApiError> {
    let model = service.model();
    let Some(operation) = model.operation(action) else {
        return Err(ApiError::new(
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        ));
    };
    let fields: BTreeMap<&str, &str> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let Some(input_ref) = &operation.input else {
        return Ok(Value::Object(Map::new()));
    };
    let input = read_structure(service, &input_ref.shape, "", &fields)?;
    validate::input(service, &input_ref.shape, &input)?;
    Ok(input)
}

type Fields<'a> = BTreeMap<&'a str, &'a str>;

/// Whether any field sits at `prefix` or below it.
fn present(fields: &Fields, prefix: &str) -> bool {
    fields.contains_key(prefix)
        || fields
            .range(format!("{prefix}.").as_str()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&format!("{prefix}.")))
}

fn read_structure(
    service: Service,
    shape: &str,
    prefix: &str,
    fields: &Fields,
) -> Result<Value, ApiError> {
    let mut obj = Map::new();
    for (name, member) in &service.model().shape(shape).members {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if present(fields, &key) {
            obj.insert(name.clone(), read(service, &member.shape, &key, fields)?);
        }
    }
    Ok(Value::Object(obj))
}

fn read(service: Service, shape_name: &str, key: &str, fields: &Fields) -> Result<Value, ApiError> {
    let shape = service.model().shape(shape_name);
    let scalar = fields.get(key).copied();
    let bad = |what: &str| {
        ApiError::new(
            "ValidationError",
            format!(
                "Value '{}' at '{key}' is not a valid {what}",
                scalar.unwrap_or("")
            ),
        )
    };
    Ok(match shape.kind {
        ShapeKind::Structure => read_structure(service, shape_name, key, fields)?,
        ShapeKind::List => {
            // An empty list is sent as `Key=` (no members).
            let member = &shape
                .member
                .as_ref()
                .expect("list shape has a member")
                .shape;
            let mut items = Vec::new();
            for i in 1.. {
                let k = format!("{key}.member.{i}");
                if !present(fields, &k) {
                    break;
                }
                items.push(read(service, member, &k, fields)?);
            }
            Value::Array(items)
        }
        ShapeKind::Map => {
            let v_shape = &shape.value.as_ref().expect("map shape has a value").shape;
            let mut obj = Map::new();
            for i in 1.. {
                let k = format!("{key}.entry.{i}");
                if !present(fields, &k) {
                    break;
                }
                let name = fields
                    .get(format!("{k}.key").as_str())
                    .copied()
                    .unwrap_or_default();
                obj.insert(
                    name.to_string(),
                    read(service, v_shape, &format!("{k}.value"), fields)?,
                );
            }
            Value::Object(obj)
        }
        ShapeKind::Boolean => match scalar {
            Some("true") => Value::Bool(true),
            Some("false") => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
        ShapeKind::Integer | ShapeKind::Long => {
            let n: i64 = scalar
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("integer"))?;
            Value::from(n)
        }
        ShapeKind::Double | ShapeKind::Float => {
            let n: f64 = scalar
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("number"))?;
            Value::from(n)
        }
        ShapeKind::String | ShapeKind::Timestamp | ShapeKind::Blob => {
            Value::String(scalar.unwrap_or_default().to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rebuilds_lists_structures_and_typed_scalars() {
        let f = form(&[
            ("Action", "ModifyListener"),
            ("Version", "2015-12-01"),
            ("ListenerArn", "arn:l"),
            ("Port", "80"),
            ("DefaultActions.member.1.Type", "forward"),
            (
                "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn",
                "arn:blue",
            ),
            (
                "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight",
                "90",
            ),
            (
                "DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn",
                "arn:green",
            ),
            (
                "DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight",
                "10",
            ),
            (
                "DefaultActions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled",
                "false",
            ),
        ]);
        let v = decode(Service::Elbv2, "ModifyListener", &f).unwrap();
        assert_eq!(
            v,
            json!({
                "ListenerArn": "arn:l",
                "Port": 80,
                "DefaultActions": [{
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": "arn:blue", "Weight": 90},
                            {"TargetGroupArn": "arn:green", "Weight": 10}
                        ],
                        "TargetGroupStickinessConfig": {"Enabled": false}
                    }
                }]
            })
        );
    }

    #[test]
    fn empty_list_and_enum_violation() {
        let f = form(&[("Names", "")]);
        let v = decode(Service::Elbv2, "DescribeTargetGroups", &f).unwrap();
        assert_eq!(v, json!({"Names": []}));
        let f = form(&[("Name", "tg"), ("Protocol", "FTP")]);
        let err = decode(Service::Elbv2, "CreateTargetGroup", &f).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert!(
            err.message.contains("Value 'FTP' at 'Protocol'"),
            "{}",
            err.message
        );
    }
}
