"""CloudWatch alarms over all three protocols the real service speaks: awsJson 1.0 with
x-amzn-query-mode (boto3, AWS CLI), Smithy RPC v2 CBOR (the Rust SDK and other Smithy SDKs) and legacy
awsQuery forms. Errors are checked by the modeled exception classes clients match on."""
import datetime
import json
import urllib.error
import urllib.parse
import urllib.request

import cbor2
import pytest

ALARM = dict(
    MetricName="HTTPCode_Target_5XX_Count",
    Namespace="AWS/ApplicationELB",
    Statistic="Sum",
    Period=60,
    EvaluationPeriods=1,
    Threshold=1.0,
    ComparisonOperator="GreaterThanOrEqualToThreshold",
    Dimensions=[{"Name": "TargetGroup", "Value": "targetgroup/tg/1"}],
)


def post(url, path, body, headers):
    req = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        r = urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        r = e
    return r.status, r.headers, r.read()


def cbor_call(url, op, body):
    status, headers, raw = post(
        url,
        f"/service/GraniteServiceVersion20100801/operation/{op}",
        b"" if body is None else cbor2.dumps(body),
        {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
         "Accept": "application/cbor", "x-amzn-query-mode": "true"},
    )
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["content-type"] == "application/cbor"
    return status, headers, cbor2.loads(raw) if raw else None


def test_boto3_alarm_lifecycle(sandbox):
    cw = sandbox.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="errors", Tags=[{"Key": "team", "Value": "a"}], **ALARM)
    cw.get_waiter("alarm_exists").wait(AlarmNames=["errors"], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    alarms = cw.describe_alarms(AlarmNames=["errors", "missing"])["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == ["errors"]
    alarm = alarms[0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:errors"
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime.datetime)

    cw.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="test", StateReasonData='{"a": 1}')
    assert [a["AlarmName"] for a in cw.describe_alarms(StateValue="ALARM")["MetricAlarms"]] == ["errors"]
    history = cw.describe_alarm_history(AlarmName="errors")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM", 'Alarm "errors" created']
    assert cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"] == [{"Key": "team", "Value": "a"}]

    cw.put_composite_alarm(AlarmName="any", AlarmRule='ALARM("errors")')
    composite = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert composite[0]["StateValue"] == "ALARM"
    cw.delete_alarms(AlarmNames=["any", "errors"])
    assert cw.describe_alarms()["MetricAlarms"] == []


def test_boto3_errors_resolve_to_modeled_exceptions(sandbox):
    cw = sandbox.client("cloudwatch")
    with pytest.raises(cw.exceptions.ResourceNotFound) as e:
        cw.set_alarm_state(AlarmName="missing", StateValue="OK", StateReason="r")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.delete_alarms(AlarmNames=["missing"])
    cw.put_metric_alarm(AlarmName="a", **ALARM)
    with pytest.raises(cw.exceptions.InvalidFormatFault):
        cw.set_alarm_state(AlarmName="a", StateValue="OK", StateReason="r", StateReasonData="{not json")
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException):
        cw.describe_alarms(AlarmNames=["a"], AlarmNamePrefix="a")
    with pytest.raises(cw.exceptions.InvalidNextToken):
        cw.describe_alarms(NextToken="garbage")
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_alarm(AlarmName="b", **dict(ALARM, Period=45))
    with pytest.raises(cw.exceptions.ResourceNotFoundException):
        cw.list_tags_for_resource(ResourceARN="arn:aws:cloudwatch:us-east-1:000000000000:alarm:missing")


def test_rpc_v2_cbor(sandbox):
    status, _, body = cbor_call(sandbox.url, "PutMetricAlarm", dict(ALARM, AlarmName="c"))
    assert (status, body) == (200, {})
    status, _, body = cbor_call(sandbox.url, "DescribeAlarms", None)
    assert status == 200
    alarm = body["MetricAlarms"][0]
    assert alarm["AlarmName"] == "c" and alarm["Threshold"] == 1.0 and alarm["Period"] == 60
    # Timestamps come back as CBOR tag 1, which cbor2 turns into datetimes.
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime.datetime)

    status, headers, body = cbor_call(sandbox.url, "SetAlarmState",
                                      {"AlarmName": "missing", "StateValue": "OK", "StateReason": "r"})
    assert status == 404
    assert headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    assert body == {"__type": "ResourceNotFound", "message": "Alarm missing not found"}

    status, headers, body = cbor_call(sandbox.url, "SetAlarmState", {"AlarmName": "c"})
    assert status == 400 and body["__type"] == "InvalidParameterValueException"
    status, _, body = cbor_call(sandbox.url, "NoSuchOperation", {})
    assert status == 400 and body["__type"] == "UnknownOperationException"
    # Rejected calls are counted too.
    calls = sandbox.calls()["calls"]
    assert calls["monitoring.SetAlarmState"] == 2
    assert calls["monitoring.NoSuchOperation"] == 1


def test_legacy_query(sandbox):
    sandbox.client("cloudwatch").put_metric_alarm(AlarmName="q", **ALARM)
    form = {"Action": "DescribeAlarms", "Version": "2010-08-01", "AlarmNames.member.1": "q"}
    status, headers, raw = post(sandbox.url, "/", urllib.parse.urlencode(form).encode(),
                                {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    text = raw.decode()
    assert status == 200 and headers["content-type"] == "text/xml"
    assert text.startswith('<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">')
    assert "<DescribeAlarmsResult><CompositeAlarms></CompositeAlarms><MetricAlarms><member>" in text
    assert "<StateValue>INSUFFICIENT_DATA</StateValue>" in text

    form = {"Action": "SetAlarmState", "Version": "2010-08-01", "AlarmName": "missing",
            "StateValue": "OK", "StateReason": "r"}
    status, _, raw = post(sandbox.url, "/", urllib.parse.urlencode(form).encode(),
                          {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert status == 404 and "<Code>ResourceNotFound</Code>" in raw.decode()
