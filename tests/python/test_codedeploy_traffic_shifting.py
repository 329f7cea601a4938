"""Canary and linear deployments: the production listener's weights, as DescribeListeners shows them, step
as the deployment config says, and the proxy's observed split follows the weights in force."""
import collections
import math

import pytest

import bluegreen as bg
from conftest import wait_for


def observe(s, d, batch=10, timeout=60):
    """Until the deployment target has succeeded (production fully shifted): read the production weights, send a batch of requests
    through the production listener, read the weights again. Returns the distinct weight sequence seen and,
    per green weight, a Counter of the versions served by batches the weights did not change during."""
    steps, split, failed = [], collections.defaultdict(collections.Counter), []
    wait_for("the weights to follow the config", lambda: _sample(s, d, batch, steps, split, failed),
             timeout=timeout, interval=0)
    assert not failed, f"requests failed during the shift: {failed[:5]}"
    final = bg.green_weight(s)  # the last step may have come after the last sample's second read
    if steps[-1] != final:
        steps.append(final)
    return steps, split


def _sample(s, d, batch, steps, split, failed):
    before = bg.green_weight(s)
    answers = [bg.version(s) for _ in range(batch)]
    after = bg.green_weight(s)
    for w in (before, after):
        if not steps or steps[-1] != w:
            steps.append(w)
    failed.extend(a for a in answers if a[0] != 200)
    if before == after:
        split[before].update(v for _, v in answers)
    t = bg.target(s, d)
    return t["status"] == "Succeeded"  # the target is done once production is fully shifted


def assert_split_follows(split, weight, minimum):
    """The share of v2 among requests served at `weight` percent green is binomial(n, weight/100): accept
    anything within 6 standard deviations (+2 requests), a tolerance that does not flake (p < 1e-8) but
    tells 10 % from 0, 25 % or 50 %. Weights 0 and 100 must be exact."""
    seen = split[weight]
    n, green = sum(seen.values()), seen["v2"]
    assert n >= minimum, f"only {n} requests observed at green weight {weight}: {dict(split)}"
    assert set(seen) <= {"v1", "v2"}, seen
    p = weight / 100
    tolerance = 6 * math.sqrt(n * p * (1 - p)) + 2 if 0 < p < 1 else 0
    assert abs(green - n * p) <= tolerance, f"{green} of {n} requests went to green at weight {weight}"


def test_canary_10_percent_then_all(sandbox):
    """CodeDeployDefault.ECSCanary10Percent5Minutes: green 10 / blue 90 for five (AWS) minutes, then 100."""
    s = bg.setup(sandbox, config="CodeDeployDefault.ECSCanary10Percent5Minutes")
    d = bg.deploy(s)
    wait_for("the canary step", lambda: bg.green_weight(s) == 10, timeout=30)
    # GetDeploymentTarget reports the same split on the task sets.
    sets = bg.target(s, d)["taskSetsInfo"]
    assert {ts["taskSetLabel"]: ts["trafficWeight"] for ts in sets} == {"Blue": 90.0, "Green": 10.0}, sets
    steps, split = observe(s, d)
    assert steps == [10, 100], steps
    assert_split_follows(split, 10, minimum=150)
    bg.wait_successful(s, d)
    assert bg.versions(s) == {(200, "v2")}


def test_custom_linear_steps(sandbox):
    """A custom TimeBasedLinear config, 25 % every two (AWS) minutes: 25, 50, 75, then 100. (Two seconds
    per step at the suite's time scale leave enough requests per step even on a loaded CI machine.)"""
    s = bg.setup(sandbox)
    s["cd"].create_deployment_config(
        deploymentConfigName="Linear25PercentEvery2Minutes", computePlatform="ECS",
        trafficRoutingConfig={"type": "TimeBasedLinear",
                              "timeBasedLinear": {"linearPercentage": 25, "linearInterval": 2}})
    with pytest.raises(s["cd"].exceptions.DeploymentConfigAlreadyExistsException):
        s["cd"].create_deployment_config(deploymentConfigName="Linear25PercentEvery2Minutes", computePlatform="ECS")
    d = bg.deploy(s, deploymentConfigName="Linear25PercentEvery2Minutes")
    assert bg.info(s, d)["deploymentConfigName"] == "Linear25PercentEvery2Minutes"
    steps, split = observe(s, d)
    # Green stays at weight 0 on the production listener while it installs (CodeDeploy adds it so the load
    # balancer health-checks the new tasks); observation may begin after that.
    assert steps[-4:] == [25, 50, 75, 100] and set(steps[:-4]) <= {0}, steps
    for w in (25, 50, 75):
        assert_split_follows(split, w, minimum=30)
    assert split[0]["v2"] == 0, dict(split)
    bg.wait_successful(s, d)
    assert bg.versions(s) == {(200, "v2")}
