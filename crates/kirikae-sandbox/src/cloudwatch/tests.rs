use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::world::{RegionKey, Shared, World};

/// A sandbox world without a server: calls go straight to `handle`, at a clock the test sets.
struct Fixture {
    shared: Arc<Shared>,
    world: World,
    now: f64,
}

impl Fixture {
    fn new() -> Fixture {
        let shared = Shared::for_tests();
        Fixture {
            shared,
            world: World::default(),
            now: 1_700_000_000.0,
        }
    }

    fn call(&mut self, op: &str, input: Value) -> Result<Value, ApiError> {
        let key = RegionKey {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let mut cx = self.world.ctx(&self.shared, &key, self.now);
        handle(&mut cx, op, &input)
    }

    fn ok(&mut self, op: &str, input: Value) -> Value {
        self.call(op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    fn state(&mut self) -> &CloudWatchState {
        let key = RegionKey {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        &self.world.region(&key).cloudwatch
    }

    fn put(&mut self, name: &str) {
        self.ok("PutMetricAlarm", metric_alarm(name));
    }
}

fn metric_alarm(name: &str) -> Value {
    json!({
        "AlarmName": name,
        "MetricName": "HTTPCode_Target_5XX_Count",
        "Namespace": "AWS/ApplicationELB",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Dimensions": [{"Name": "TargetGroup", "Value": "targetgroup/tg/1"}],
        "Tags": [{"Key": "team", "Value": "a"}]
    })
}

fn names(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn put_metric_alarm_creates_in_insufficient_data_and_describe_shows_it() {
    let mut f = Fixture::new();
    f.put("errors");
    let out = f.ok("DescribeAlarms", json!({}));
    let alarm = &out["MetricAlarms"][0];
    assert_eq!(
        alarm["AlarmArn"],
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:errors"
    );
    assert_eq!(alarm["StateValue"], "INSUFFICIENT_DATA");
    assert_eq!(alarm["StateReason"], "Unchecked: Initial alarm creation");
    assert_eq!(alarm["StateUpdatedTimestamp"], 1_700_000_000.0);
    assert_eq!(alarm["ActionsEnabled"], true);
    assert_eq!(alarm["OKActions"], json!([]));
    assert_eq!(alarm["Threshold"], 1.0);
    assert_eq!(alarm["Dimensions"][0]["Name"], "TargetGroup");
    assert!(alarm.get("Tags").is_none());
    assert_eq!(out["CompositeAlarms"], json!([]));
    assert_eq!(f.state().alarm_state("errors"), Some("INSUFFICIENT_DATA"));
    assert_eq!(f.state().alarm_state("nope"), None);
}

#[test]
fn replacing_an_alarm_keeps_its_state_and_tags() {
    let mut f = Fixture::new();
    f.put("errors");
    f.ok(
        "SetAlarmState",
        json!({"AlarmName": "errors", "StateValue": "ALARM", "StateReason": "test"}),
    );
    f.now += 10.0;
    let mut changed = metric_alarm("errors");
    changed["Threshold"] = json!(5.0);
    changed["Tags"] = json!([{"Key": "other", "Value": "b"}]);
    f.ok("PutMetricAlarm", changed);
    let alarm = &f.ok("DescribeAlarms", json!({"AlarmNames": ["errors"]}))["MetricAlarms"][0];
    assert_eq!(alarm["Threshold"], 5.0);
    assert_eq!(alarm["StateValue"], "ALARM");
    assert_eq!(alarm["AlarmConfigurationUpdatedTimestamp"], 1_700_000_010.0);
    let arn = alarm["AlarmArn"].clone();
    let tags = f.ok("ListTagsForResource", json!({"ResourceARN": arn}));
    assert_eq!(tags, json!({"Tags": [{"Key": "team", "Value": "a"}]}));
}

#[test]
fn describe_alarms_filters() {
    let mut f = Fixture::new();
    for n in ["app-errors", "app-latency", "db-cpu"] {
        f.put(n);
    }
    f.ok(
        "SetAlarmState",
        json!({"AlarmName": "app-latency", "StateValue": "OK", "StateReason": "r"}),
    );
    let by = |f: &mut Fixture, input: Value| names(&f.ok("DescribeAlarms", input), "MetricAlarms");
    assert_eq!(
        by(&mut f, json!({"AlarmNamePrefix": "app-"})),
        ["app-errors", "app-latency"]
    );
    assert_eq!(
        by(&mut f, json!({"AlarmNames": ["db-cpu", "missing"]})),
        ["db-cpu"]
    );
    assert_eq!(by(&mut f, json!({"StateValue": "OK"})), ["app-latency"]);
    assert!(by(&mut f, json!({"AlarmTypes": ["CompositeAlarm"]})).is_empty());
    let err = f
        .call(
            "DescribeAlarms",
            json!({"AlarmNames": ["a"], "AlarmNamePrefix": "a"}),
        )
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterCombinationException");

    let first = f.ok("DescribeAlarms", json!({"MaxRecords": 2}));
    assert_eq!(names(&first, "MetricAlarms"), ["app-errors", "app-latency"]);
    let token = first["NextToken"].clone();
    let second = f.ok(
        "DescribeAlarms",
        json!({"MaxRecords": 2, "NextToken": token}),
    );
    assert_eq!(names(&second, "MetricAlarms"), ["db-cpu"]);
    assert!(second.get("NextToken").is_none());
    let err = f
        .call("DescribeAlarms", json!({"NextToken": "garbage"}))
        .unwrap_err();
    assert_eq!(err.code, "InvalidNextToken");
}

#[test]
fn set_alarm_state_errors_and_history() {
    let mut f = Fixture::new();
    let err = f
        .call(
            "SetAlarmState",
            json!({"AlarmName": "x", "StateValue": "ALARM", "StateReason": "r"}),
        )
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFound");
    f.put("x");
    let err = f
        .call("SetAlarmState", json!({"AlarmName": "x", "StateValue": "ALARM", "StateReason": "r", "StateReasonData": "{"}))
        .unwrap_err();
    assert_eq!(err.code, "InvalidFormatFault");
    f.now += 5.0;
    f.ok("SetAlarmState", json!({"AlarmName": "x", "StateValue": "ALARM", "StateReason": "r", "StateReasonData": "{\"a\":1}"}));
    let alarm = &f.ok("DescribeAlarms", json!({}))["MetricAlarms"][0];
    assert_eq!(alarm["StateValue"], "ALARM");
    assert_eq!(alarm["StateReasonData"], "{\"a\":1}");
    assert_eq!(alarm["StateTransitionedTimestamp"], 1_700_000_005.0);

    let history = f.ok("DescribeAlarmHistory", json!({"AlarmName": "x"}));
    let items = history["AlarmHistoryItems"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["HistoryItemType"], "StateUpdate");
    assert_eq!(
        items[0]["HistorySummary"],
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    );
    let data: Value = serde_json::from_str(items[0]["HistoryData"].as_str().unwrap()).unwrap();
    assert_eq!(data["newState"]["stateReasonData"], json!({"a": 1}));
    assert_eq!(items[1]["HistorySummary"], "Alarm \"x\" created");
    let only_state = f.ok(
        "DescribeAlarmHistory",
        json!({"HistoryItemType": "StateUpdate", "ScanBy": "TimestampAscending"}),
    );
    assert_eq!(only_state["AlarmHistoryItems"].as_array().unwrap().len(), 1);
    let window = f.ok(
        "DescribeAlarmHistory",
        json!({"StartDate": "2023-11-14T22:13:21Z"}),
    );
    assert_eq!(
        window["AlarmHistoryItems"].as_array().unwrap().len(),
        1,
        "ISO-8601 dates from awsQuery"
    );
}

#[test]
fn delete_is_all_or_nothing() {
    let mut f = Fixture::new();
    f.put("a");
    let err = f
        .call("DeleteAlarms", json!({"AlarmNames": ["a", "b"]}))
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFound");
    assert_eq!(f.state().alarm_state("a"), Some("INSUFFICIENT_DATA"));
    f.ok("DeleteAlarms", json!({"AlarmNames": ["a"]}));
    assert_eq!(f.state().alarm_state("a"), None);
}

#[test]
fn actions_enabled_toggles() {
    let mut f = Fixture::new();
    f.put("a");
    f.ok(
        "DisableAlarmActions",
        json!({"AlarmNames": ["a", "unknown"]}),
    );
    assert_eq!(
        f.ok("DescribeAlarms", json!({}))["MetricAlarms"][0]["ActionsEnabled"],
        false
    );
    f.ok("EnableAlarmActions", json!({"AlarmNames": ["a"]}));
    assert_eq!(
        f.ok("DescribeAlarms", json!({}))["MetricAlarms"][0]["ActionsEnabled"],
        true
    );
}

#[test]
fn metric_alarm_checks_beyond_the_model() {
    let mut f = Fixture::new();
    let mut both = metric_alarm("a");
    both["ExtendedStatistic"] = json!("p99");
    assert_eq!(
        f.call("PutMetricAlarm", both).unwrap_err().code,
        "InvalidParameterCombinationException"
    );
    let mut period = metric_alarm("a");
    period["Period"] = json!(45);
    assert_eq!(
        f.call("PutMetricAlarm", period).unwrap_err().code,
        "InvalidParameterValueException"
    );
    let mut no_periods = metric_alarm("a");
    no_periods
        .as_object_mut()
        .unwrap()
        .remove("EvaluationPeriods");
    assert_eq!(
        f.call("PutMetricAlarm", no_periods).unwrap_err().code,
        "MissingRequiredParameterException"
    );
    let math = json!({
        "AlarmName": "math", "EvaluationPeriods": 1, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}}]
    });
    f.ok("PutMetricAlarm", math);
}

#[test]
fn composite_alarms_follow_their_rule() {
    let mut f = Fixture::new();
    f.put("a");
    f.put("b");
    f.ok(
        "PutCompositeAlarm",
        json!({"AlarmName": "c", "AlarmRule": "ALARM(a) OR ALARM(\"b\")"}),
    );
    assert_eq!(f.state().alarm_state("c"), Some("INSUFFICIENT_DATA"));
    f.ok(
        "SetAlarmState",
        json!({"AlarmName": "b", "StateValue": "ALARM", "StateReason": "r"}),
    );
    assert_eq!(f.state().alarm_state("c"), Some("ALARM"));
    f.ok(
        "SetAlarmState",
        json!({"AlarmName": "b", "StateValue": "OK", "StateReason": "r"}),
    );
    assert_eq!(f.state().alarm_state("c"), Some("OK"));

    // Default DescribeAlarms lists metric alarms only.
    assert!(
        f.ok("DescribeAlarms", json!({}))["CompositeAlarms"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let both = f.ok(
        "DescribeAlarms",
        json!({"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}),
    );
    assert_eq!(names(&both, "CompositeAlarms"), ["c"]);
    assert_eq!(
        both["CompositeAlarms"][0]["AlarmRule"],
        "ALARM(a) OR ALARM(\"b\")"
    );
    let children = f.ok("DescribeAlarms", json!({"ChildrenOfAlarmName": "c"}));
    assert_eq!(names(&children, "MetricAlarms"), ["a", "b"]);
    let parents = f.ok("DescribeAlarms", json!({"ParentsOfAlarmName": "a"}));
    assert_eq!(names(&parents, "CompositeAlarms"), ["c"]);

    let err = f
        .call("DeleteAlarms", json!({"AlarmNames": ["a"]}))
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    assert_eq!(
        err.message,
        "Cannot delete a as there are composite alarm(s) depending on them."
    );
    f.ok("DeleteAlarms", json!({"AlarmNames": ["a", "c"]}));

    let err = f
        .call(
            "PutCompositeAlarm",
            json!({"AlarmName": "d", "AlarmRule": "ALARM(d)"}),
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    f.ok(
        "PutCompositeAlarm",
        json!({"AlarmName": "e", "AlarmRule": "ALARM(b)"}),
    );
    let err = f.call(
        "PutCompositeAlarm",
        json!({"AlarmName": "f", "AlarmRule": "ALARM(e) AND ALARM(f2)"}),
    );
    assert!(err.is_ok());
    let err = f
        .call(
            "PutCompositeAlarm",
            json!({"AlarmName": "e", "AlarmRule": "ALARM(f)"}),
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException", "cycle e → f → e");
    let err = f
        .call(
            "PutCompositeAlarm",
            json!({"AlarmName": "g", "AlarmRule": "ALARM("}),
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn tags_and_alarms_for_metric() {
    let mut f = Fixture::new();
    f.put("a");
    let arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a";
    f.ok("TagResource", json!({"ResourceARN": arn, "Tags": [{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}]}));
    f.ok(
        "UntagResource",
        json!({"ResourceARN": arn, "TagKeys": ["env"]}),
    );
    assert_eq!(
        f.ok("ListTagsForResource", json!({"ResourceARN": arn})),
        json!({"Tags": [{"Key": "team", "Value": "b"}]})
    );
    let err = f
        .call(
            "ListTagsForResource",
            json!({"ResourceARN": format!("{arn}x")}),
        )
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");

    let found = f.ok(
        "DescribeAlarmsForMetric",
        json!({"MetricName": "HTTPCode_Target_5XX_Count", "Namespace": "AWS/ApplicationELB",
               "Dimensions": [{"Name": "TargetGroup", "Value": "targetgroup/tg/1"}]}),
    );
    assert_eq!(names(&found, "MetricAlarms"), ["a"]);
    let none = f.ok("DescribeAlarmsForMetric", json!({"MetricName": "HTTPCode_Target_5XX_Count", "Namespace": "AWS/ApplicationELB", "Statistic": "Average"}));
    assert!(names(&none, "MetricAlarms").is_empty());
}

#[test]
fn unimplemented_operations_fail() {
    let mut f = Fixture::new();
    assert_eq!(
        f.call("PutMetricData", json!({})).unwrap_err().code,
        "InvalidAction"
    );
}
