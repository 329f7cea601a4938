//! Metric and composite alarms: create/replace, describe (with AWS's filters), set state, delete,
//! enable/disable actions.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::history::{self, HistoryKind};
use super::{CloudWatchState, page, rule, str_of, strings_of};
use crate::model::Service;
use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmKind {
    Metric,
    Composite,
}

impl AlarmKind {
    /// The `AlarmType` enum value, which is also the output shape's name.
    pub fn type_name(self) -> &'static str {
        match self {
            AlarmKind::Metric => "MetricAlarm",
            AlarmKind::Composite => "CompositeAlarm",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AlarmState {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub value: String,
    pub reason: String,
    /// JSON text, when whoever set the state gave it.
    pub reason_data: Option<String>,
    /// Last change of value or reason.
    pub updated: f64,
    /// Last change of value.
    pub transitioned: f64,
}

#[derive(Clone, Debug)]
pub struct Alarm {
    pub name: String,
    pub arn: String,
    pub kind: AlarmKind,
    /// The configuration as the client last put it (model member names), without `AlarmName`/`Tags`.
    pub config: Map<String, Value>,
    pub config_updated: f64,
    pub state: AlarmState,
    /// Tags in the order first set; keys are unique.
    pub tags: Vec<(String, String)>,
}

impl Alarm {
    pub fn actions_enabled(&self) -> bool {
        self.config
            .get("ActionsEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    /// Every action ARN of the alarm (alarm, OK and insufficient-data actions).
    fn actions(&self) -> impl Iterator<Item = &str> {
        ["AlarmActions", "OKActions", "InsufficientDataActions"]
            .into_iter()
            .filter_map(|k| self.config.get(k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
    }

    /// The alarm as `DescribeAlarms` shows it (a `MetricAlarm` or `CompositeAlarm` structure).
    pub fn to_json(&self) -> Value {
        let shape = Service::CloudWatch.model().shape(self.kind.type_name());
        let mut out: Map<String, Value> = self
            .config
            .iter()
            .filter(|(k, _)| shape.members.contains_key(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // AWS always lists these, empty when never set.
        out.insert("ActionsEnabled".into(), json!(self.actions_enabled()));
        for list in ["OKActions", "AlarmActions", "InsufficientDataActions"] {
            out.entry(list).or_insert_with(|| json!([]));
        }
        if self.kind == AlarmKind::Metric {
            out.entry("Dimensions").or_insert_with(|| json!([]));
        }
        out.insert("AlarmName".into(), json!(self.name));
        out.insert("AlarmArn".into(), json!(self.arn));
        out.insert(
            "AlarmConfigurationUpdatedTimestamp".into(),
            json!(self.config_updated),
        );
        out.insert("StateValue".into(), json!(self.state.value));
        out.insert("StateReason".into(), json!(self.state.reason));
        if let Some(data) = &self.state.reason_data {
            out.insert("StateReasonData".into(), json!(data));
        }
        out.insert("StateUpdatedTimestamp".into(), json!(self.state.updated));
        out.insert(
            "StateTransitionedTimestamp".into(),
            json!(self.state.transitioned),
        );
        Value::Object(out)
    }
}

const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

fn validation(message: impl Into<String>) -> ApiError {
    // CloudWatch answers these with the common `ValidationError` code (the model's `ValidationException`).
    ApiError::new("ValidationException", message)
}

fn combination(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterCombinationException", message)
}

fn missing(name: &str) -> ApiError {
    ApiError::new(
        "MissingRequiredParameterException",
        format!("The parameter {name} is required."),
    )
}

/// The checks AWS makes beyond the model's (whose `required` list shrank to `AlarmName` when newer
/// alarm kinds arrived). Messages are AWS's where known; [U] marks inferred ones.
fn check_metric_alarm(input: &Value) -> Result<(), ApiError> {
    let has = |k: &str| input.get(k).is_some_and(|v| !v.is_null());
    if has("Statistic") && has("ExtendedStatistic") {
        return Err(combination(
            "Exactly one of Statistic and ExtendedStatistic must be specified.",
        ));
    }
    if has("Metrics") {
        // [U] wording: a metric-math alarm carries its metric inside `Metrics`.
        for single in [
            "MetricName",
            "Namespace",
            "Statistic",
            "ExtendedStatistic",
            "Dimensions",
            "Period",
            "Unit",
        ] {
            if has(single) {
                return Err(combination(format!(
                    "The parameters Metrics and {single} are mutually exclusive and you have specified both."
                )));
            }
        }
    } else if has("MetricName") || has("Namespace") {
        for required in ["MetricName", "Namespace", "Period"] {
            if !has(required) {
                return Err(missing(required));
            }
        }
        if !has("Statistic") && !has("ExtendedStatistic") {
            return Err(combination(
                "Exactly one of Statistic and ExtendedStatistic must be specified.",
            ));
        }
    } else if !has("EvaluationCriteria") {
        return Err(missing("MetricName"));
    }
    if !has("EvaluationCriteria") {
        for required in ["EvaluationPeriods", "ComparisonOperator"] {
            if !has(required) {
                return Err(missing(required));
            }
        }
        if !has("Threshold") && !has("ThresholdMetricId") {
            return Err(missing("Threshold"));
        }
    }
    // Documented: 10, 20 or 30 (high-resolution metrics) or any multiple of 60.
    if let Some(period) = input.get("Period").and_then(Value::as_i64)
        && !(matches!(period, 10 | 20 | 30) || period % 60 == 0)
    {
        return Err(ApiError::new(
            "InvalidParameterValueException",
            format!("The parameter Period must be 10, 20, 30 or a multiple of 60 (got {period})."),
        ));
    }
    if let (Some(dp), Some(ep)) = (
        input.get("DatapointsToAlarm").and_then(Value::as_i64),
        input.get("EvaluationPeriods").and_then(Value::as_i64),
    ) && dp > ep
    {
        return Err(validation(format!(
            "DatapointsToAlarm ({dp}) must be less than or equal to EvaluationPeriods ({ep})."
        )));
    }
    Ok(())
}

fn tags_of(input: &Value) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for tag in input
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(k), Some(v)) = (str_of(tag, "Key"), str_of(tag, "Value")) else {
            continue;
        };
        match tags.iter_mut().find(|(key, _)| key == k) {
            Some(existing) => existing.1 = v.to_string(),
            None => tags.push((k.to_string(), v.to_string())),
        }
    }
    tags
}

/// Create the alarm, or replace its configuration: AWS keeps an updated alarm's state (and its tags:
/// `Tags` only apply on creation).
fn put_alarm(cx: &mut Ctx, input: &Value, kind: AlarmKind) -> Result<Value, ApiError> {
    let name = str_of(input, "AlarmName").unwrap_or_default().to_string();
    let mut config = input.as_object().cloned().unwrap_or_default();
    config.remove("AlarmName");
    config.remove("Tags");
    let now = cx.now;
    let arn = cx.region.key.arn("cloudwatch", &format!("alarm:{name}"));
    let cw = &mut cx.region.cloudwatch;
    let (summary, data) = match cw.alarms.get_mut(&name) {
        Some(existing) if existing.kind != kind => {
            // [U] AWS keeps one namespace for all alarm kinds; the exact error is not documented.
            return Err(validation(format!(
                "The alarm {name} already exists as a {}; delete it first.",
                existing.kind.type_name()
            )));
        }
        Some(existing) => {
            let before = existing.to_json();
            existing.config = config;
            existing.config_updated = now;
            let after = existing.to_json();
            let data = json!({"type": "Update", "version": "1.0", "originalAlarm": before, "updatedAlarm": after});
            (format!("Alarm \"{name}\" updated"), data)
        }
        None => {
            let alarm = Alarm {
                name: name.clone(),
                arn,
                kind,
                config,
                config_updated: now,
                state: AlarmState {
                    value: "INSUFFICIENT_DATA".into(),
                    reason: INITIAL_REASON.into(),
                    reason_data: None,
                    updated: now,
                    transitioned: now,
                },
                tags: tags_of(input),
            };
            let data = json!({"type": "Create", "version": "1.0", "createdAlarm": alarm.to_json()});
            cw.alarms.insert(name.clone(), alarm);
            (format!("Alarm \"{name}\" created"), data)
        }
    };
    history::record(
        cw,
        &name,
        kind,
        now,
        HistoryKind::ConfigurationUpdate,
        summary,
        data,
    );
    if kind == AlarmKind::Composite {
        evaluate_composite(cw, &name, now);
    }
    refresh_parents(cw, &name, now);
    Ok(json!({}))
}

pub fn put_metric_alarm(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    check_metric_alarm(input)?;
    put_alarm(cx, input, AlarmKind::Metric)
}

pub fn put_composite_alarm(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let text = str_of(input, "AlarmRule").unwrap_or_default();
    let parsed = rule::parse(text).map_err(|e| validation(format!("Invalid AlarmRule: {e}")))?;
    let name = str_of(input, "AlarmName").unwrap_or_default();
    let cw = &cx.region.cloudwatch;
    if parsed
        .alarm_names()
        .iter()
        .any(|child| reaches(cw, child, name, &mut BTreeSet::new()))
    {
        // [U] wording; AWS rejects rules that would make composite alarms depend on themselves.
        return Err(validation(format!(
            "The AlarmRule of {name} creates a circular dependency."
        )));
    }
    put_alarm(cx, input, AlarmKind::Composite)
}

/// Change an alarm's state; records history and re-evaluates the composite alarms above it.
fn change_state(
    cw: &mut CloudWatchState,
    name: &str,
    value: &str,
    reason: &str,
    data: Option<String>,
    now: f64,
) {
    let Some(alarm) = cw.alarms.get_mut(name) else {
        return;
    };
    let old = alarm.state.clone();
    let changed = old.value != value;
    alarm.state = AlarmState {
        value: value.to_string(),
        reason: reason.to_string(),
        reason_data: data.clone(),
        updated: now,
        transitioned: if changed { now } else { old.transitioned },
    };
    let kind = alarm.kind;
    if changed {
        let mut new_state = json!({"stateValue": value, "stateReason": reason});
        if let Some(parsed) = data
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        {
            new_state["stateReasonData"] = parsed;
        }
        let history_data = json!({
            "version": "1.0",
            "oldState": {"stateValue": old.value, "stateReason": old.reason},
            "newState": new_state,
        });
        let summary = format!("Alarm updated from {} to {value}", old.value);
        history::record(
            cw,
            name,
            kind,
            now,
            HistoryKind::StateUpdate,
            summary,
            history_data,
        );
        refresh_parents(cw, name, now);
    }
}

/// Re-evaluate every composite alarm whose rule names `child` (and, through `change_state`, theirs).
fn refresh_parents(cw: &mut CloudWatchState, child: &str, now: f64) {
    for parent in parents_of(cw, child) {
        evaluate_composite(cw, &parent, now);
    }
}

fn parents_of(cw: &CloudWatchState, child: &str) -> Vec<String> {
    cw.alarms
        .values()
        .filter(|a| a.kind == AlarmKind::Composite && children_of(a).contains(child))
        .map(|a| a.name.clone())
        .collect()
}

fn children_of(alarm: &Alarm) -> BTreeSet<String> {
    let text = alarm
        .config
        .get("AlarmRule")
        .and_then(Value::as_str)
        .unwrap_or_default();
    rule::parse(text)
        .map(|r| r.alarm_names())
        .unwrap_or_default()
}

/// A composite alarm is `ALARM` while its rule is true and `OK` otherwise; [U] while every alarm it
/// names is still `INSUFFICIENT_DATA` (or missing) and the rule is false, it stays `INSUFFICIENT_DATA`.
fn evaluate_composite(cw: &mut CloudWatchState, name: &str, now: f64) {
    let Some(alarm) = cw
        .alarms
        .get(name)
        .filter(|a| a.kind == AlarmKind::Composite)
    else {
        return;
    };
    let text = alarm
        .config
        .get("AlarmRule")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Ok(parsed) = rule::parse(text) else {
        return;
    };
    let truth = parsed.eval(&|child| cw.alarm_state(child));
    let all_unknown = parsed
        .alarm_names()
        .iter()
        .all(|c| cw.alarm_state(c).is_none_or(|s| s == "INSUFFICIENT_DATA"));
    let value = match (truth, all_unknown) {
        (true, _) => "ALARM",
        (false, true) => "INSUFFICIENT_DATA",
        (false, false) => "OK",
    };
    if alarm.state.value != value {
        let reason = format!(
            "Composite alarm rule evaluated to {}",
            if truth { "TRUE" } else { "FALSE" }
        );
        change_state(cw, name, value, &reason, None, now);
    }
}

/// Whether `target` is reachable from `from` through composite rules (a rule naming `target` directly
/// or through other composite alarms): such a rule would make a cycle.
fn reaches(cw: &CloudWatchState, from: &str, target: &str, seen: &mut BTreeSet<String>) -> bool {
    if from == target {
        return true;
    }
    if !seen.insert(from.to_string()) {
        return false;
    }
    let children = cw
        .alarms
        .get(from)
        .filter(|a| a.kind == AlarmKind::Composite)
        .map(children_of);
    children
        .into_iter()
        .flatten()
        .any(|c| reaches(cw, &c, target, seen))
}

pub fn set_alarm_state(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = str_of(input, "AlarmName").unwrap_or_default();
    let value = str_of(input, "StateValue").unwrap_or_default();
    let reason = str_of(input, "StateReason").unwrap_or_default();
    let data = str_of(input, "StateReasonData");
    let cw = &mut cx.region.cloudwatch;
    if !cw.alarms.contains_key(name) {
        return Err(ApiError::new(
            "ResourceNotFound",
            format!("Alarm {name} not found"),
        ));
    }
    if let Some(d) = data
        && let Err(e) = serde_json::from_str::<Value>(d)
    {
        return Err(ApiError::new(
            "InvalidFormatFault",
            format!("StateReasonData is not valid JSON: {e}"),
        ));
    }
    change_state(cw, name, value, reason, data.map(str::to_string), cx.now);
    Ok(json!({}))
}

/// All or nothing, as AWS documents ("In the event of an error, no alarms are deleted").
pub fn delete_alarms(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let names: Vec<&str> = strings_of(input, "AlarmNames");
    let cw = &mut cx.region.cloudwatch;
    if let Some(unknown) = names.iter().find(|n| !cw.alarms.contains_key(**n)) {
        return Err(ApiError::new(
            "ResourceNotFound",
            format!("Alarm {unknown} not found"),
        ));
    }
    let deleting: BTreeSet<&str> = names.iter().copied().collect();
    let held: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| {
            parents_of(cw, n)
                .iter()
                .any(|p| !deleting.contains(p.as_str()))
        })
        .collect();
    if !held.is_empty() {
        // AWS's words, as users quote them.
        return Err(validation(format!(
            "Cannot delete {} as there are composite alarm(s) depending on them.",
            held.join(",")
        )));
    }
    for name in deleting {
        if let Some(alarm) = cw.alarms.remove(name) {
            let data = json!({"type": "Delete", "version": "1.0", "deletedAlarm": alarm.to_json()});
            let summary = format!("Alarm \"{name}\" deleted");
            history::record(
                cw,
                name,
                alarm.kind,
                cx.now,
                HistoryKind::ConfigurationUpdate,
                summary,
                data,
            );
        }
    }
    Ok(json!({}))
}

/// Unknown names are ignored, as in AWS.
pub fn set_actions_enabled(cx: &mut Ctx, input: &Value, enabled: bool) -> Result<Value, ApiError> {
    for name in strings_of(input, "AlarmNames") {
        if let Some(alarm) = cx.region.cloudwatch.alarms.get_mut(name) {
            alarm.config.insert("ActionsEnabled".into(), json!(enabled));
        }
    }
    Ok(json!({}))
}

pub fn describe_alarms(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let cw = &cx.region.cloudwatch;
    let names = strings_of(input, "AlarmNames");
    let prefix = str_of(input, "AlarmNamePrefix");
    if !names.is_empty() && prefix.is_some() {
        return Err(combination(
            "AlarmNames and AlarmNamePrefix cannot be specified together.",
        ));
    }
    let children = str_of(input, "ChildrenOfAlarmName");
    let parents = str_of(input, "ParentsOfAlarmName");
    let mut types = strings_of(input, "AlarmTypes");
    // Without AlarmTypes AWS returns metric alarms only; ChildrenOf/ParentsOf return every kind.
    let family: Option<BTreeSet<String>> = match (children, parents) {
        (Some(_), Some(_)) => {
            return Err(combination(
                "ChildrenOfAlarmName and ParentsOfAlarmName cannot be specified together.",
            ));
        }
        (Some(c), None) => Some(cw.alarms.get(c).map(children_of).unwrap_or_default()),
        (None, Some(p)) => Some(parents_of(cw, p).into_iter().collect()),
        (None, None) => None,
    };
    if family.is_some() {
        types = vec!["MetricAlarm", "CompositeAlarm"];
    } else if types.is_empty() {
        types = vec!["MetricAlarm"];
    }
    let state = str_of(input, "StateValue");
    let action_prefix = str_of(input, "ActionPrefix");
    let selected: Vec<&Alarm> = cw
        .alarms
        .values()
        .filter(|a| types.contains(&a.kind.type_name()))
        .filter(|a| names.is_empty() || names.contains(&a.name.as_str()))
        .filter(|a| prefix.is_none_or(|p| a.name.starts_with(p)))
        .filter(|a| family.as_ref().is_none_or(|f| f.contains(&a.name)))
        .filter(|a| state.is_none_or(|s| a.state.value == s))
        // [U] AWS says "alarms that use a certain alarm action"; any of the three lists counts here.
        .filter(|a| action_prefix.is_none_or(|p| a.actions().any(|arn| arn.starts_with(p))))
        .collect();
    let (shown, next) = page(selected, input, 50)?;
    let of_kind = |k: AlarmKind| -> Vec<Value> {
        shown
            .iter()
            .filter(|a| a.kind == k)
            .map(|a| a.to_json())
            .collect()
    };
    let mut out = json!({
        "MetricAlarms": of_kind(AlarmKind::Metric),
        "CompositeAlarms": of_kind(AlarmKind::Composite),
    });
    if types.contains(&"LogAlarm") {
        // The sandbox has no log alarms (PutLogAlarm is not emulated).
        out["LogAlarms"] = json!([]);
    }
    if let Some(token) = next {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}

pub fn describe_alarms_for_metric(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let same = |alarm: &Alarm, key: &str| match input.get(key) {
        None | Some(Value::Null) => true,
        Some(wanted) => alarm.config.get(key) == Some(wanted),
    };
    let dims = |v: Option<&Value>| -> BTreeSet<(String, String)> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| {
                let s = |k| str_of(d, k).unwrap_or_default().to_string();
                (s("Name"), s("Value"))
            })
            .collect()
    };
    let alarms: Vec<Value> = cx
        .region
        .cloudwatch
        .alarms
        .values()
        .filter(|a| a.kind == AlarmKind::Metric)
        .filter(|a| {
            [
                "MetricName",
                "Namespace",
                "Statistic",
                "ExtendedStatistic",
                "Period",
                "Unit",
            ]
            .iter()
            .all(|k| same(a, k))
        })
        .filter(|a| {
            input.get("Dimensions").is_none()
                || dims(input.get("Dimensions")) == dims(a.config.get("Dimensions"))
        })
        .map(Alarm::to_json)
        .collect();
    Ok(json!({ "MetricAlarms": alarms }))
}
