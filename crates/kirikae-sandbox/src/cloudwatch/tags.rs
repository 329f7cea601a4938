//! Tags on alarms (the only taggable CloudWatch resource the sandbox has), by alarm ARN.

use serde_json::{Value, json};

use super::alarms::Alarm;
use super::{str_of, strings_of};
use crate::protocol::ApiError;
use crate::world::Ctx;

fn alarm_by_arn<'a>(cx: &'a mut Ctx, input: &Value) -> Result<&'a mut Alarm, ApiError> {
    let arn = str_of(input, "ResourceARN").unwrap_or_default();
    if !arn.starts_with("arn:") {
        return Err(ApiError::new(
            "InvalidParameterValueException",
            format!("Invalid ARN: {arn}"),
        ));
    }
    cx.region
        .cloudwatch
        .alarms
        .values_mut()
        .find(|a| a.arn == arn)
        .ok_or_else(|| {
            ApiError::new(
                "ResourceNotFoundException",
                format!("Resource {arn} not found"),
            )
        })
}

pub fn tag_resource(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let alarm = alarm_by_arn(cx, input)?;
    for tag in input
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(k), Some(v)) = (str_of(tag, "Key"), str_of(tag, "Value")) else {
            continue;
        };
        match alarm.tags.iter_mut().find(|(key, _)| key == k) {
            Some(existing) => existing.1 = v.to_string(),
            None => alarm.tags.push((k.to_string(), v.to_string())),
        }
    }
    Ok(json!({}))
}

pub fn untag_resource(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let keys = strings_of(input, "TagKeys");
    let alarm = alarm_by_arn(cx, input)?;
    alarm.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
    Ok(json!({}))
}

pub fn list_tags_for_resource(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let alarm = alarm_by_arn(cx, input)?;
    let tags: Vec<Value> = alarm
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({ "Tags": tags }))
}
