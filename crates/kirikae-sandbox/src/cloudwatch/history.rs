//! Alarm history: configuration changes and state changes, as `DescribeAlarmHistory` lists them.

use serde_json::{Value, json};

use super::alarms::AlarmKind;
use super::{CloudWatchState, epoch_of, page, str_of, strings_of};
use crate::protocol::ApiError;
use crate::world::Ctx;

/// AWS keeps two weeks of history; the sandbox keeps the most recent items up to this many.
const MAX_ITEMS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryKind {
    ConfigurationUpdate,
    StateUpdate,
}

impl HistoryKind {
    fn name(self) -> &'static str {
        match self {
            HistoryKind::ConfigurationUpdate => "ConfigurationUpdate",
            HistoryKind::StateUpdate => "StateUpdate",
        }
    }
}

#[derive(Clone, Debug)]
pub struct HistoryItem {
    pub alarm_name: String,
    pub alarm_kind: AlarmKind,
    pub timestamp: f64,
    pub kind: HistoryKind,
    pub summary: String,
    /// JSON text, as AWS gives it.
    pub data: String,
}

impl HistoryItem {
    fn to_json(&self) -> Value {
        json!({
            "AlarmName": self.alarm_name,
            "AlarmType": self.alarm_kind.type_name(),
            "Timestamp": self.timestamp,
            "HistoryItemType": self.kind.name(),
            "HistorySummary": self.summary,
            "HistoryData": self.data,
        })
    }
}

pub fn record(
    cw: &mut CloudWatchState,
    alarm: &str,
    alarm_kind: AlarmKind,
    now: f64,
    kind: HistoryKind,
    summary: String,
    data: Value,
) {
    if cw.history.len() >= MAX_ITEMS {
        cw.history.remove(0);
    }
    cw.history.push(HistoryItem {
        alarm_name: alarm.to_string(),
        alarm_kind,
        timestamp: now,
        kind,
        summary,
        data: data.to_string(),
    });
}

pub fn describe_alarm_history(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = str_of(input, "AlarmName");
    let item_type = str_of(input, "HistoryItemType");
    let mut types = strings_of(input, "AlarmTypes");
    if types.is_empty() {
        // As documented: without AlarmTypes only metric alarms' history is returned.
        types = vec!["MetricAlarm"];
    }
    let start = epoch_of(input, "StartDate");
    let end = epoch_of(input, "EndDate");
    let mut items: Vec<&HistoryItem> = cx
        .region
        .cloudwatch
        .history
        .iter()
        .filter(|h| name.is_none_or(|n| h.alarm_name == n))
        .filter(|h| item_type.is_none_or(|t| h.kind.name() == t))
        .filter(|h| types.contains(&h.alarm_kind.type_name()))
        .filter(|h| start.is_none_or(|s| h.timestamp >= s))
        .filter(|h| end.is_none_or(|e| h.timestamp <= e))
        .collect();
    if str_of(input, "ScanBy") != Some("TimestampAscending") {
        items.reverse();
    }
    let (shown, next) = page(items, input, 100)?;
    let mut out =
        json!({ "AlarmHistoryItems": shown.iter().map(|h| h.to_json()).collect::<Vec<_>>() });
    if let Some(token) = next {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}
