"""PAUSE lifecycle hooks: the deployment waits at its stage, AWAITING_ACTION, until
ContinueServiceDeployment (CONTINUE or ROLLBACK) or the hook's timeout. Paused after the test traffic
shift, the test listener already serves green while production still serves blue."""
import json

import pytest

import native
from conftest import wait_for


def pause_at(stage, timeout=None, action=None):
    hook = {"targetType": "PAUSE", "lifecycleStages": [stage]}
    if timeout:
        hook["timeoutConfiguration"] = {"timeoutInMinutes": timeout, "action": action or "ROLLBACK"}
    return hook


def test_pause_after_test_traffic_then_continue_with_the_aws_cli(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0, hooks=[pause_at("POST_TEST_TRAFFIC_SHIFT")]))
    # The first deployment pauses too: continue it.
    first = native.deployments(s)[0]["serviceDeploymentArn"]
    _, hook = native.awaiting_hook(s, first)
    s["ecs"].continue_service_deployment(serviceDeploymentArn=first, hookId=hook["hookId"])
    native.serving(s)

    arn = native.update(s, "v2")
    d, hook = native.awaiting_hook(s, arn, "POST_TEST_TRAFFIC_SHIFT")
    assert d["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT", d
    assert hook["targetType"] == "PAUSE" and hook["hookId"].startswith("ecs-pause-"), hook
    assert hook["timeoutAction"] == "ROLLBACK" and "expiresAt" in hook, hook
    assert d["status"] == "IN_PROGRESS"
    # Paused: test traffic on green, production on blue, in the rules and through the proxies.
    assert native.rule_weights(s, "test") == {"green": 100, "blue": 0}
    assert native.rule_weights(s) == {"blue": 100, "green": 0}
    assert {native.served(s, 8080) for _ in range(10)} == {(200, "v2")}
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}
    assert d["targetServiceRevision"]["requestedTestTrafficWeight"] == 100.0
    assert d["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0

    # A hook id that is not awaiting action is refused; nothing changes.
    with pytest.raises(s["ecs"].exceptions.InvalidParameterException):
        s["ecs"].continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-unknown")
    assert native.describe(s, arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"

    code, out, err = sandbox.aws_cli("ecs", "continue-service-deployment", "--service-deployment-arn", arn,
                                     "--hook-id", hook["hookId"], "--action", "CONTINUE")
    assert code == 0, err
    assert json.loads(out)["serviceDeploymentArn"] == arn
    d = native.wait_status(s, arn, "SUCCESSFUL")
    assert [h["status"] for h in d["lifecycleHookDetails"]] == ["SUCCEEDED"], d["lifecycleHookDetails"]
    assert {native.served(s) for _ in range(10)} == {(200, "v2")}
    # Continuing a finished deployment is refused.
    with pytest.raises(s["ecs"].exceptions.InvalidParameterException):
        s["ecs"].continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])


def test_continue_with_rollback_sends_traffic_back_to_blue(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0, hooks=[pause_at("POST_PRODUCTION_TRAFFIC_SHIFT")]))
    first = native.deployments(s)[0]["serviceDeploymentArn"]
    _, hook = native.awaiting_hook(s, first)
    s["ecs"].continue_service_deployment(serviceDeploymentArn=first, hookId=hook["hookId"])
    native.serving(s)

    arn = native.update(s, "v2")
    _, hook = native.awaiting_hook(s, arn, "POST_PRODUCTION_TRAFFIC_SHIFT")
    assert {native.served(s) for _ in range(10)} == {(200, "v2")}
    s["ecs"].continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK")
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL")
    assert "ContinueServiceDeployment" in d["statusReason"], d
    assert not [h for h in d["lifecycleHookDetails"] if h["status"] in ("AWAITING_ACTION", "IN_PROGRESS")], d
    assert d["rollback"]["serviceRevisionArn"] == d["sourceServiceRevisions"][0]["arn"], d
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}
    assert native.rule_weights(s) == {"blue": 100, "green": 0}
    svc = native.service(s)
    assert svc["taskDefinition"].endswith("web:1"), svc["taskDefinition"]
    assert [(x["status"], x["taskDefinition"].split("/")[-1]) for x in svc["deployments"]] == [("PRIMARY", "web:1")]


def test_a_pause_that_times_out_takes_its_timeout_action(sandbox):
    """Two (AWS) minutes at the suite's time scale: CONTINUE goes on, ROLLBACK rolls back."""
    s = native.build(sandbox, dc=native.deployment_configuration(
        bake=0, hooks=[pause_at("PRE_SCALE_UP", timeout=2, action="CONTINUE")]))
    native.serving(s)
    d = native.describe(s, native.deployments(s)[0]["serviceDeploymentArn"])
    assert [h["status"] for h in d["lifecycleHookDetails"]] == ["TIMED_OUT"], d["lifecycleHookDetails"]

    s["ecs"].update_service(cluster="demo", service="web", deploymentConfiguration=native.deployment_configuration(
        bake=0, hooks=[pause_at("POST_SCALE_UP", timeout=2, action="ROLLBACK")]))
    arn = native.update(s, "v2")
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL")
    assert [h["status"] for h in d["lifecycleHookDetails"]] == ["TIMED_OUT"], d["lifecycleHookDetails"]
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}


def test_pause_is_refused_at_the_traffic_shift_stages(sandbox):
    ecs = sandbox.client("ecs")
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_service_deployments(cluster="nope", service="web")
    with pytest.raises(Exception) as e:
        native.build(sandbox, dc=native.deployment_configuration(hooks=[pause_at("PRODUCTION_TRAFFIC_SHIFT")]))
    assert "InvalidParameterException" in str(e.value), e.value
    assert ecs.list_services(cluster="demo")["serviceArns"] == []
    wait_for("nothing to run", lambda: ecs.list_tasks(cluster="demo")["taskArns"] == [], timeout=5)
