"""deploymentReadyOption STOP_DEPLOYMENT: after test traffic is allowed the deployment waits in `Ready`,
the test listener serving the replacement while production still serves the original, until
ContinueDeployment(READY_WAIT); if nobody continues within waitTimeInMinutes it is stopped."""
import pytest

import bluegreen as bg


def test_ready_wait_serves_green_on_the_test_listener_until_continued(sandbox):
    s = bg.setup(sandbox, ready_wait=60)
    d = bg.deploy(s)
    info = bg.wait_status(s, d, "Ready", timeout=30)
    assert info["deploymentOverview"]["Ready"] == 1
    t = bg.target(s, d)
    assert t["status"] == "Ready"
    events = {e["lifecycleEventName"]: e["status"] for e in t["lifecycleEvents"]}
    assert events["AfterAllowTestTraffic"] == "Succeeded" and events["BeforeAllowTraffic"] == "Pending", events

    assert bg.versions(s, 8080) == {(200, "v2")}
    assert bg.versions(s, 80) == {(200, "v1")}
    assert (bg.green_weight(s, "test"), bg.green_weight(s, "prod")) == (100, 0)
    # Both task sets run: the original PRIMARY, the replacement ACTIVE, created by this deployment.
    assert bg.task_sets(s) == [("ACTIVE", "web:2", d), ("PRIMARY", "web:1", None)]

    s["cd"].continue_deployment(deploymentId=d, deploymentWaitType="READY_WAIT")
    bg.wait_successful(s, d)
    assert bg.versions(s, 80) == {(200, "v2")}
    bg.wait_only_primary(s, "web:2")


def test_ready_wait_running_out_stops_the_deployment(sandbox):
    s = bg.setup(sandbox, ready_wait=1)  # one AWS minute: one second at the suite's time scale
    d = bg.deploy(s)
    bg.wait_status(s, d, "Ready", timeout=30)
    info = bg.wait_status(s, d, "Stopped", timeout=30)
    assert "errorInformation" in info and "rollbackInfo" not in info, info
    events = {e["lifecycleEventName"]: e["status"] for e in bg.target(s, d)["lifecycleEvents"]}
    assert events["AllowTraffic"] != "Succeeded", events
    # Production never moved; without rollback the rest stays as it was.
    assert bg.versions(s, 80) == {(200, "v1")}
    assert bg.green_weight(s) == 0
    with pytest.raises(s["cd"].exceptions.DeploymentAlreadyCompletedException):
        s["cd"].continue_deployment(deploymentId=d, deploymentWaitType="READY_WAIT")
