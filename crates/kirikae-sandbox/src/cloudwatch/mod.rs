//! Amazon CloudWatch alarms (awsJson 1.0 query-compatible, RPC v2 CBOR, legacy awsQuery): what CodeDeploy
//! watches during a deployment, and what tests flip with `SetAlarmState`.
//!
//! The sandbox has no metrics, so alarms never evaluate on their own: an alarm stays in the state it was
//! created in (`INSUFFICIENT_DATA`) or last set to with `SetAlarmState`. In AWS a metric alarm returns to
//! its evaluated state at the next period; here the set state sticks, which is what a rehearsal needs.
//! Composite alarms do evaluate their rule over the other alarms' states.

mod alarms;
mod history;
mod rule;
mod tags;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::protocol::ApiError;
use crate::world::Ctx;

pub use alarms::{Alarm, AlarmKind};
pub use history::HistoryItem;

#[derive(Default)]
pub struct CloudWatchState {
    /// Alarms by name (names are unique per account and region, across alarm kinds).
    pub alarms: BTreeMap<String, Alarm>,
    /// Alarm history, oldest first.
    pub history: Vec<HistoryItem>,
}

impl CloudWatchState {
    /// The alarm's `StateValue` (`OK`, `ALARM` or `INSUFFICIENT_DATA`), or `None` if no alarm has this
    /// name. What CodeDeploy polls during a deployment.
    pub fn alarm_state(&self, name: &str) -> Option<&str> {
        self.alarms.get(name).map(|a| a.state.value.as_str())
    }
}

pub fn handle(cx: &mut Ctx, op: &str, input: &Value) -> Result<Value, ApiError> {
    match op {
        "PutMetricAlarm" => alarms::put_metric_alarm(cx, input),
        "PutCompositeAlarm" => alarms::put_composite_alarm(cx, input),
        "DescribeAlarms" => alarms::describe_alarms(cx, input),
        "DescribeAlarmsForMetric" => alarms::describe_alarms_for_metric(cx, input),
        "SetAlarmState" => alarms::set_alarm_state(cx, input),
        "DeleteAlarms" => alarms::delete_alarms(cx, input),
        "EnableAlarmActions" => alarms::set_actions_enabled(cx, input, true),
        "DisableAlarmActions" => alarms::set_actions_enabled(cx, input, false),
        "DescribeAlarmHistory" => history::describe_alarm_history(cx, input),
        "TagResource" => tags::tag_resource(cx, input),
        "UntagResource" => tags::untag_resource(cx, input),
        "ListTagsForResource" => tags::list_tags_for_resource(cx, input),
        _ => Err(ApiError::new(
            "InvalidAction",
            format!("monitoring:{op} is not implemented in the kirikae sandbox: not implemented"),
        )),
    }
}

/// A string member of the (already validated) input.
fn str_of<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

/// A list-of-strings member of the input (absent = empty).
fn strings_of<'a>(input: &'a Value, name: &str) -> Vec<&'a str> {
    input
        .get(name)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A timestamp member as epoch seconds: awsJson and CBOR carry numbers, awsQuery ISO-8601 text.
fn epoch_of(input: &Value, name: &str) -> Option<f64> {
    match input.get(name)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = humantime::parse_rfc3339_weak(s).ok()?;
            Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
        }
        _ => None,
    }
}

/// One page of `items` after the `NextToken` position: tokens are the index of the next item, so a
/// client passing back anything else gets `InvalidNextToken`.
fn page<T>(
    items: Vec<T>,
    input: &Value,
    default_max: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match str_of(input, "NextToken") {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|&i| i <= items.len())
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidNextToken",
                    "The service returned an invalid NextToken.",
                )
            })?,
    };
    let max = input
        .get("MaxRecords")
        .and_then(Value::as_u64)
        .map_or(default_max, |m| m as usize);
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

#[cfg(test)]
mod tests;
