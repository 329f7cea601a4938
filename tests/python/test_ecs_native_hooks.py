"""Lambda lifecycle hooks, mapped to a local command (`kirikae sandbox --hook NAME=COMMAND`): the event
ECS sends, the response contract (SUCCEEDED / FAILED / IN_PROGRESS with callBackDelay and hookDetails
passed on), and a failing hook rolling the deployment back, with the traffic-shift hooks invoked again
with blue at 100 %."""
import json
import sys

import native

FN = "arn:aws:lambda:us-east-1:000000000000:function:{}"

# Appends each event it gets to LOG and answers per its arguments: `succeed`, `fail`, or `poll N`
# (IN_PROGRESS with callBackDelay 1 and a counter in hookDetails until the counter reaches N).
HOOK = r'''
import json, os, sys
event = json.loads(sys.stdin.read())
mode, log = sys.argv[1], sys.argv[2]
with open(log, "a") as f:
    f.write(json.dumps(event) + "\n")
if mode == "fail" and event["lifecycleStage"] == "POST_SCALE_UP":
    print(json.dumps({"hookStatus": "FAILED"}))
elif mode.startswith("poll"):
    n = event["hookDetails"].get("calls", 0) + 1
    done = n >= int(mode.split()[1])
    print(json.dumps({"hookStatus": "SUCCEEDED" if done else "IN_PROGRESS", "callBackDelay": 1,
                      "hookDetails": {"calls": n}}))
else:
    print(json.dumps({"hookStatus": "SUCCEEDED"}))
'''


def hook(name, stages, details=None):
    h = {"targetType": "AWS_LAMBDA", "hookTargetArn": FN.format(name), "roleArn": native.HOOK_ROLE,
         "lifecycleStages": stages}
    if details is not None:
        h["hookDetails"] = details
    return h


def events(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def sandbox_with_hooks(make_sandbox, tmp_path, **modes):
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    logs = {name: tmp_path / f"{name}.log" for name in modes}
    args = []
    for name, mode in modes.items():
        args += ["--hook", f"{name}={sys.executable} {script} '{mode}' {logs[name]}"]
    return make_sandbox(*args), logs


def test_hooks_get_ecs_events_and_in_progress_is_invoked_again(make_sandbox, tmp_path):
    sb, logs = sandbox_with_hooks(make_sandbox, tmp_path, check="succeed", waiter="poll 3")
    hooks = [hook("check", ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]),
             hook("waiter", ["POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"], details={"team": "web"})]
    s = native.build(sb, dc=native.deployment_configuration(bake=0, hooks=hooks))
    first = native.serving(s)
    logs["check"].unlink()
    logs["waiter"].unlink()

    arn = native.update(s, "v2")
    d = native.wait_status(s, arn, "SUCCESSFUL")
    green, blue = d["targetServiceRevision"]["arn"], d["sourceServiceRevisions"][0]["arn"]
    assert first != arn

    checks = events(logs["check"])
    assert [e["lifecycleStage"] for e in checks] == ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"], checks
    test, prod = checks
    assert test["resourceArn"] == arn
    assert test["executionDetails"]["targetServiceRevisionArn"] == green
    assert test["executionDetails"]["serviceArn"] == s["service"]["serviceArn"]
    assert test["executionDetails"]["testTrafficWeights"] == {green: 100.0, blue: 0.0}
    assert prod["executionDetails"]["productionTrafficWeights"] == {green: 100.0, blue: 0.0}
    assert test["executionId"] != prod["executionId"]

    # IN_PROGRESS twice, then SUCCEEDED: three invocations, each given the details the previous returned;
    # the same hook's next call in the deployment (at the next stage) gets them too.
    waits = events(logs["waiter"])
    assert [(e["lifecycleStage"], e["hookDetails"]) for e in waits] == [
        ("POST_SCALE_UP", {"team": "web"}), ("POST_SCALE_UP", {"team": "web", "calls": 1}),
        ("POST_SCALE_UP", {"team": "web", "calls": 2}), ("POST_TEST_TRAFFIC_SHIFT", {"team": "web", "calls": 3})], waits
    assert sorted(h["status"] for h in d["lifecycleHookDetails"]) == ["SUCCEEDED"] * 4, d["lifecycleHookDetails"]


def test_a_failing_hook_rolls_back_and_traffic_hooks_run_again_with_blue(make_sandbox, tmp_path):
    sb, logs = sandbox_with_hooks(make_sandbox, tmp_path, gate="fail", check="succeed")
    hooks = [hook("gate", ["POST_SCALE_UP"]), hook("check", ["TEST_TRAFFIC_SHIFT"])]
    s = native.build(sb, dc=native.deployment_configuration(bake=0, hooks=hooks))
    # The first deployment's gate fails too, and a new service has nothing to roll back to.
    first = native.deployments(s)[0]["serviceDeploymentArn"]
    d = native.wait_status(s, first, "ROLLBACK_FAILED")
    assert "hook execution failure" in d["statusReason"], d

    # With a gate that passes, v1 serves; then v2's gate fails.
    s["ecs"].update_service(cluster="demo", service="web", deploymentConfiguration=native.deployment_configuration(
        bake=0, hooks=[hook("check", ["TEST_TRAFFIC_SHIFT"])]), forceNewDeployment=True)
    native.serving(s)
    s["ecs"].update_service(cluster="demo", service="web", deploymentConfiguration=native.deployment_configuration(
        bake=0, hooks=hooks))
    logs["check"].unlink()
    arn = native.update(s, "v2")
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL")
    assert d["statusReason"].startswith("Service deployment rolled back because of hook execution failure(s)"), d
    assert d["rollback"]["serviceRevisionArn"] == d["sourceServiceRevisions"][0]["arn"]
    # The gate failed before test traffic moved; on rollback the TEST_TRAFFIC_SHIFT hook runs with blue 100.
    checks = events(logs["check"])
    green, blue = d["targetServiceRevision"]["arn"], d["sourceServiceRevisions"][0]["arn"]
    assert [c["executionDetails"]["testTrafficWeights"] for c in checks] == [{green: 0.0, blue: 100.0}], checks
    assert {native.served(s) for _ in range(10)} == {(200, "v1")}
    assert native.service(s)["taskDefinition"].endswith("web:1")


def test_an_unmapped_function_fails_its_hook(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0, hooks=[hook("nowhere", ["PRE_SCALE_UP"])]))
    d = native.wait_status(s, native.deployments(s)[0]["serviceDeploymentArn"], "ROLLBACK_FAILED")
    assert "--hook nowhere=" in d["statusReason"], d
