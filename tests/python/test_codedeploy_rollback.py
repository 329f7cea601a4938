"""Failure and rollback: a replacement that never becomes healthy, a hook that reports Failed, an alarm that
goes to ALARM mid-deployment and StopDeployment(autoRollbackEnabled) each end the deployment as AWS does
(`Failed` for failures, `Stopped` for stops and alarms) and, with rollback, a new deployment created by
`codeDeployRollback` puts production and test traffic back on the original task set, which is PRIMARY
again, and deletes the replacement."""
import json
import sys

import pytest

import bluegreen as bg
from conftest import wait_for


def assert_rolled_back(s, d, ended):
    """`d` ended `ended` and was rolled back: check both deployments, the traffic and the task sets."""
    info = bg.wait_status(s, d, ended, timeout=60)
    assert "errorInformation" in info, info
    rb = info["rollbackInfo"]["rollbackDeploymentId"]
    rollback = bg.wait_status(s, rb, "Succeeded", timeout=30)
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == d
    assert (rollback["applicationName"], rollback["deploymentGroupName"]) == (bg.APP, bg.GROUP)

    assert bg.versions(s, 80) == {(200, "v1")}
    assert bg.green_weight(s, "prod") == 0
    # The original task set is PRIMARY again; the replacement is deleted (drains, then is gone).
    bg.wait_only_primary(s, "web:1")
    # Listeners still serve the original once the replacement is gone: production, and the test
    # listener when the deployment had moved it.
    assert bg.versions(s, 80) == {(200, "v1")}
    return info, rollback


def test_replacement_that_never_becomes_healthy_fails_and_rolls_back(make_sandbox):
    # CodeDeploy gives the replacement an hour to become healthy: run this one at 600x (6 s) with health
    # checks slow enough (every 60 s, 30 s timeout: 100 ms and 50 ms real) to stay reliable at that scale.
    sb = make_sandbox(time_scale=600)
    s = bg.setup(sb, desired=1, hc={"interval": 60, "timeout": 30}, rollback_events=["DEPLOYMENT_FAILURE"])
    d = bg.deploy(s, env=[("DEMO_HEALTH", "fail")])
    info, _ = assert_rolled_back(s, d, "Failed")
    events = bg.events(s, d)
    assert events["Install"]["status"] == "Failed"
    assert all(events[e]["status"] == "Skipped" for e in ("AfterInstall", "AllowTraffic", "AfterAllowTraffic"))
    assert bg.versions(s, 8080) == {(200, "v1")}


HOOK = """\
import json, sys, boto3
status, marker = sys.argv[1], sys.argv[2]
payload = json.load(sys.stdin)
boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
    deploymentId=payload["DeploymentId"],
    lifecycleEventHookExecutionId=payload["LifecycleEventHookExecutionId"], status=status)
with open(marker, "a") as f:  # proof the hook really reported (an invocation error also fails the event)
    f.write(json.dumps([payload["DeploymentId"], status]) + "\\n")
"""


def test_hook_reporting_failed_fails_and_rolls_back(make_sandbox, tmp_path):
    (tmp_path / "hook.py").write_text(HOOK)
    marker = tmp_path / "reports"
    hook = f"{sys.executable} {tmp_path / 'hook.py'}"
    sb = make_sandbox("--hook", f"validate={hook} Succeeded {marker}", "--hook", f"smoke-test={hook} Failed {marker}")
    s = bg.setup(sb, desired=1, rollback_events=["DEPLOYMENT_FAILURE"])
    d = bg.deploy(s, hooks={"BeforeInstall": "validate",
                            "AfterAllowTestTraffic": "arn:aws:lambda:us-east-1:000000000000:function:smoke-test"})
    assert_rolled_back(s, d, "Failed")
    reports = [json.loads(line) for line in marker.read_text().splitlines()]
    assert reports == [[d, "Succeeded"], [d, "Failed"]]
    events = bg.events(s, d)
    assert (events["BeforeInstall"]["status"], events["AfterAllowTestTraffic"]["status"]) == ("Succeeded", "Failed")
    assert all(events[e]["status"] == "Skipped" for e in ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"))
    # The test listener had been moved to the replacement; the rollback moved it back.
    assert bg.green_weight(s, "test") == 0
    assert bg.versions(s, 8080) == {(200, "v1")}


def test_alarm_during_canary_stops_and_rolls_back(sandbox):
    cw = sandbox.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="web-5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold")
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="OK", StateReason="quiet")
    s = bg.setup(sandbox, desired=1, alarms=["web-5xx"], rollback_events=["DEPLOYMENT_STOP_ON_ALARM"])
    s["cd"].create_deployment_config(
        deploymentConfigName="Canary10Percent10Minutes", computePlatform="ECS",
        trafficRoutingConfig={"type": "TimeBasedCanary",
                              "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 10}})
    d = bg.deploy(s, deploymentConfigName="Canary10Percent10Minutes")
    wait_for("the canary step", lambda: bg.green_weight(s) == 10, timeout=30)
    assert bg.status(s, d) == "InProgress"

    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="canary errors")
    info, _ = assert_rolled_back(s, d, "Stopped")
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert bg.events(s, d)["AllowTraffic"]["status"] == "Failed"
    assert bg.versions(s, 8080) == {(200, "v1")}


def test_stop_deployment_with_rollback_after_the_switch(sandbox):
    s = bg.setup(sandbox, desired=1, termination_wait=60)
    d = bg.deploy(s)
    wait_for("the termination wait", lambda: bg.info(s, d).get("instanceTerminationWaitTimeStarted"), timeout=30)
    # Production is on the replacement; the original still runs, ready for an instant rollback.
    assert bg.versions(s, 80) == {(200, "v2")}
    assert bg.status(s, d) == "InProgress" and bg.target(s, d)["status"] == "Succeeded"
    assert bg.task_sets(s) == [("ACTIVE", "web:1", None), ("PRIMARY", "web:2", d)]

    out = s["cd"].stop_deployment(deploymentId=d, autoRollbackEnabled=True)
    assert out["status"] in ("Pending", "Succeeded")
    info, _ = assert_rolled_back(s, d, "Stopped")
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    assert bg.versions(s, 8080) == {(200, "v1")}
    with pytest.raises(s["cd"].exceptions.DeploymentAlreadyCompletedException):
        s["cd"].stop_deployment(deploymentId=d)

    # The group is free and the service usable: the next deployment runs from the restored original.
    d2 = bg.deploy(s, tag="v3")
    wait_for("the termination wait", lambda: bg.info(s, d2).get("instanceTerminationWaitTimeStarted"), timeout=30)
    s["cd"].continue_deployment(deploymentId=d2, deploymentWaitType="TERMINATION_WAIT")
    bg.wait_successful(s, d2)
    assert bg.versions(s, 80) == {(200, "v3")}
    bg.wait_only_primary(s, "web:3")
