"""LINEAR and CANARY: the production rule's weights, as DescribeRules shows them, step as the strategy
says (each step held for its bake), the service deployment reports the requested weights, and the
proxy's observed split follows the weights in force."""
import collections

import native
from conftest import wait_for
from test_codedeploy_traffic_shifting import assert_split_follows


def green_percent(s):
    w = native.rule_weights(s)
    total = sum(w.values())
    return round(100 * w.get("green", 0) / total) if total else 0


def observe(s, arn, batch=10, timeout=60):
    """Until the deployment leaves production shifting: the distinct green weights seen on the rule, per
    weight a Counter of the versions served by batches the weights did not change during, and the
    deployment's requested production weights seen."""
    steps, split, failed, requested = [], collections.defaultdict(collections.Counter), [], []

    def sample():
        before = green_percent(s)
        answers = [native.served(s) for _ in range(batch)]
        after = green_percent(s)
        for w in (before, after):
            if not steps or steps[-1] != w:
                steps.append(w)
        failed.extend(a for a in answers if a[0] != 200)
        if before == after:
            split[before].update(v for _, v in answers)
        d = native.describe(s, arn)
        w = d["targetServiceRevision"].get("requestedProductionTrafficWeight")
        if w is not None and (not requested or requested[-1] != w):
            requested.append(w)
        return d["status"] in native.COMPLETED or d.get("lifecycleStage") in ("BAKE_TIME", "CLEAN_UP")

    wait_for("production to be shifted", sample, timeout=timeout, interval=0)
    assert not failed, f"requests failed during the shift: {failed[:5]}"
    # The last step may have come after the last sample's second read.
    final = green_percent(s)
    if steps[-1] != final:
        steps.append(final)
    w = native.describe(s, arn)["targetServiceRevision"]["requestedProductionTrafficWeight"]
    if requested[-1] != w:
        requested.append(w)
    return steps, split, requested


def test_canary_10_percent_then_all(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0))
    native.serving(s)
    native.configure(s, native.deployment_configuration(
        "CANARY", bake=0, canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}))
    arn = native.update(s, "v2")
    wait_for("the canary step", lambda: green_percent(s) == 10, timeout=30)
    d = native.describe(s, arn)
    assert d["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT", d
    assert d["targetServiceRevision"]["requestedProductionTrafficWeight"] == 10.0
    assert d["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 90.0
    steps, split, requested = observe(s, arn)
    assert steps == [10, 100], steps
    assert requested == [10.0, 100.0], requested
    assert_split_follows(split, 10, minimum=150)
    native.wait_status(s, arn, "SUCCESSFUL")
    assert {native.served(s) for _ in range(20)} == {(200, "v2")}


def test_linear_25_percent_steps(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0))
    native.serving(s)
    native.configure(s, native.deployment_configuration(
        "LINEAR", bake=0, linearConfiguration={"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}))
    arn = native.update(s, "v2")
    steps, split, requested = observe(s, arn)
    # Green stays at 0 while it scales up; observation may begin after that.
    assert steps[-4:] == [25, 50, 75, 100] and set(steps[:-4]) <= {0}, steps
    assert requested[-4:] == [25.0, 50.0, 75.0, 100.0], requested
    for w in (25, 50, 75):
        assert_split_follows(split, w, minimum=30)
    assert split[0]["v2"] == 0, dict(split)
    d = native.wait_status(s, arn, "SUCCESSFUL")
    assert d["deploymentConfiguration"]["strategy"] == "LINEAR"


def test_linear_and_canary_settings_are_checked(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0))
    ecs = s["ecs"]
    for dc in (native.deployment_configuration("LINEAR", linearConfiguration={"stepPercent": 2.0}),
               native.deployment_configuration("CANARY", canaryConfiguration={"canaryPercent": 10.05}),
               native.deployment_configuration("BLUE_GREEN", canaryConfiguration={"canaryPercent": 10.0})):
        try:
            ecs.update_service(cluster="demo", service="web", deploymentConfiguration=dc)
        except ecs.exceptions.InvalidParameterException:
            continue
        raise AssertionError(f"accepted {dc}")
    assert native.service(s)["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
