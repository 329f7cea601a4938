"""ECS-native Blue/Green end to end through boto3: the lifecycle runs stage by stage, production traffic
observed through the listener's proxy switches from blue to green once and for all, blue runs beside
green during the bake and is removed after it, and the next deployment goes back to the first group."""
import native
from conftest import wait_for


def observe(s, arn, timeout=60):
    """Until the deployment completes: its stages in the order seen, the versions production served in
    the order seen (with any failed requests), and DescribeServices' deployments seen during the bake."""
    stages, versions, failed, during_bake = [], [], [], set()

    def sample():
        d = native.describe(s, arn)
        stage = d.get("lifecycleStage")
        if stage and (not stages or stages[-1] != stage):
            stages.append(stage)
        if stage == "BAKE_TIME" and d["status"] == "IN_PROGRESS":
            during_bake.add(tuple(sorted((x["status"], x["taskDefinition"].split("/")[-1])
                                         for x in native.service(s)["deployments"])))
        status, version = native.served(s)
        if status != 200:
            failed.append((status, version))
        elif not versions or versions[-1] != version:
            versions.append(version)
        return d if d["status"] in native.COMPLETED else None

    d = wait_for("the service deployment to complete", sample, timeout=timeout, interval=0.02)
    return d, stages, versions, failed, during_bake


def test_blue_green_switches_production_once_and_swaps_the_groups(sandbox):
    s = native.build(sandbox, dc=native.deployment_configuration(bake=0))
    first = native.serving(s)
    native.configure(s, native.deployment_configuration(bake=3))
    d1 = native.describe(s, first)
    assert "sourceServiceRevisions" not in d1 or d1["sourceServiceRevisions"] == [], d1
    assert native.rule_weights(s) == {"blue": 100, "green": 0}

    arn = native.update(s, "v2")
    brief = native.deployments(s)[0]
    assert brief["serviceDeploymentArn"] == arn and brief["status"] in ("PENDING", "IN_PROGRESS"), brief
    d, stages, versions, failed, during_bake = observe(s, arn)

    assert d["status"] == "SUCCESSFUL", d
    assert [st for st in stages if st in native.STAGES] == sorted(stages, key=native.STAGES.index), stages
    assert "BAKE_TIME" in stages and stages[-1] == "CLEAN_UP", stages
    assert versions == ["v1", "v2"] and not failed, (versions, failed)
    # Blue runs beside green (ACTIVE) during the bake; green is PRIMARY.
    assert ((("ACTIVE", "web:1"), ("PRIMARY", "web:2"))) in during_bake, during_bake

    # The revisions and weights as ECS reports them when it is over.
    assert [r["arn"] for r in d["sourceServiceRevisions"]] == [d1["targetServiceRevision"]["arn"]]
    assert d["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert d["targetServiceRevision"]["requestedTestTrafficWeight"] == 100.0
    rev = s["ecs"].describe_service_revisions(serviceRevisionArns=[d["targetServiceRevision"]["arn"]])
    assert rev["failures"] == []
    # Each container of the revision's task definition with its image (ContainerImage).
    images = rev["serviceRevisions"][0]["containerImages"]
    assert [(c["containerName"], c["image"].rsplit(":", 1)[-1]) for c in images] == [("web", "v2")], images
    resolved = rev["serviceRevisions"][0]["resolvedConfiguration"]["loadBalancers"][0]
    assert resolved["targetGroupArn"] == s["green"]["TargetGroupArn"]
    assert native.rule_weights(s) == {"green": 100, "blue": 0}
    assert native.rule_weights(s, "test") == {"green": 100, "blue": 0}
    wait_for("blue's tasks to be gone", lambda: [x["status"] for x in native.service(s)["deployments"]] == ["PRIMARY"])
    assert native.service(s)["taskDefinition"].endswith("web:2")

    # The next deployment goes back to the first group: the roles swapped.
    native.configure(s, native.deployment_configuration(bake=0))
    arn3 = native.update(s, "v3")
    d3, _, versions, failed, _ = observe(s, arn3)
    assert d3["status"] == "SUCCESSFUL" and versions[-1] == "v3" and not failed, (d3, versions, failed)
    assert native.rule_weights(s) == {"blue": 100, "green": 0}
    listed = [x["serviceDeploymentArn"] for x in native.deployments(s)]
    assert listed == [arn3, arn, first]


def test_aws_cli_lists_and_describes_service_deployments(sandbox):
    import json

    s = native.build(sandbox, dc=native.deployment_configuration(bake=0))
    first = native.serving(s)
    code, out, err = sandbox.aws_cli("ecs", "list-service-deployments", "--cluster", "demo", "--service", "web",
                                     "--status", "SUCCESSFUL")
    assert code == 0, err
    assert [d["serviceDeploymentArn"] for d in json.loads(out)["serviceDeployments"]] == [first]
    code, out, err = sandbox.aws_cli("ecs", "describe-service-deployments", "--service-deployment-arns", first,
                                     "arn:aws:ecs:us-east-1:000000000000:service-deployment/demo/web/nope")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["serviceDeployments"][0]["status"] == "SUCCESSFUL"
    assert doc["failures"][0]["reason"] == "MISSING"
