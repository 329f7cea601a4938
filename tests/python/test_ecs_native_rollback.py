"""Rollback of ECS-native Blue/Green deployments: StopServiceDeployment (ROLLBACK) during the bake, a
CloudWatch alarm, the circuit breaker, and a production rule that does not forward to both groups.
Production, observed through the listener's proxy, goes back to blue; statuses as ECS reports them."""
import pytest

import native
from conftest import wait_for


def test_stop_with_rollback_during_the_bake(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0))
    first = native.serving(s)
    native.configure(s, native.deployment_configuration(bake=30))
    arn = native.update(s, "v2")
    wait_for("the bake", lambda: native.describe(s, arn).get("lifecycleStage") == "BAKE_TIME")
    assert {native.served(s) for _ in range(10)} == {(200, "v2")}

    out = s["ecs"].stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert out["serviceDeploymentArn"] == arn
    seen = set()

    def rolled_back():
        d = native.describe(s, arn)
        seen.add(d["status"])
        return d if d["status"] == "ROLLBACK_SUCCESSFUL" else None
    d = wait_for("the rollback", rolled_back, timeout=60, interval=0.02)
    assert seen <= {"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"}, seen
    assert "StopServiceDeployment" in d["statusReason"] and "stoppedAt" in d and "finishedAt" in d, d
    assert d["rollback"]["serviceRevisionArn"] == native.describe(s, first)["targetServiceRevision"]["arn"]
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}
    assert native.rule_weights(s) == {"blue": 100, "green": 0}
    # A completed deployment cannot be stopped again.
    with pytest.raises(s["ecs"].exceptions.ConflictException):
        s["ecs"].stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    with pytest.raises(s["ecs"].exceptions.ServiceDeploymentNotFoundException):
        s["ecs"].stop_service_deployment(serviceDeploymentArn=arn[:-3] + "xyz")

    # The next deployment still goes to the group blue does not serve.
    native.configure(s, native.deployment_configuration(bake=0))
    arn3 = native.update(s, "v3")
    native.wait_status(s, arn3, "SUCCESSFUL")
    assert native.rule_weights(s) == {"green": 100, "blue": 0}
    assert {native.served(s) for _ in range(10)} == {(200, "v3")}


def test_an_alarm_in_alarm_rolls_back(sandbox):
    cw = sandbox.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="web-5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold")
    dc = native.deployment_configuration(bake=0, alarms={"alarmNames": ["web-5xx"], "enable": True, "rollback": True})
    s = native.build(sandbox, dc=dc)
    native.serving(s)
    native.configure(s, dict(dc, bakeTimeInMinutes=30))
    arn = native.update(s, "v2")
    wait_for("the bake", lambda: native.describe(s, arn).get("lifecycleStage") == "BAKE_TIME")
    d = native.describe(s, arn)
    assert d["alarms"] == {"status": "MONITORING", "alarmNames": ["web-5xx"], "triggeredAlarmNames": []}, d["alarms"]
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="test")
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL")
    assert d["alarms"]["status"] == "TRIGGERED" and d["alarms"]["triggeredAlarmNames"] == ["web-5xx"], d["alarms"]
    assert "web-5xx" in d["statusReason"], d
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}


def test_circuit_breaker_rolls_back_a_green_that_never_starts(sandbox):
    dc = native.deployment_configuration(bake=0, deploymentCircuitBreaker={"enable": True, "rollback": True})
    s = native.build(sandbox, dc=dc)
    native.serving(s)
    # A task that exits at once: green never becomes healthy.
    arn = native.update(s, "v2", env=[("DEMO_CRASH_AFTER", "0")])
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL", timeout=90)
    assert d["deploymentCircuitBreaker"]["status"] == "TRIGGERED", d["deploymentCircuitBreaker"]
    assert d["deploymentCircuitBreaker"]["failureCount"] >= d["deploymentCircuitBreaker"]["threshold"] == 3
    assert "circuit breaker" in d["statusReason"], d
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}


def test_a_production_rule_not_forwarding_to_both_groups_rolls_back(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0), test_listener=False)
    native.serving(s)
    # The rule forwards to blue alone: AWS rolls the deployment back with its networking reason.
    s["elb"].modify_listener(ListenerArn=s["prod"]["ListenerArn"],
                             DefaultActions=[{"Type": "forward", "TargetGroupArn": s["blue"]["TargetGroupArn"]}])
    arn = native.update(s, "v2")
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL")
    assert d["statusReason"] == ("Service deployment rolled back because of invalid networking configuration. "
                                 "Both targetGroup and alternateTargetGroup must be associated with the "
                                 "productionListenerRule or testListenerRule."), d
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}
