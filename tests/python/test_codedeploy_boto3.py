"""Issue 3's main scenario through boto3: an application and deployment group created the way a deploy
tool does (look up, get AWS's modeled "does not exist" error, create), then an ECSAllAtOnce deployment
followed with boto3's own `deployment_successful` waiter. Afterwards production serves only the new
version and the service has one PRIMARY task set, on the new task definition."""
import pytest

import bluegreen as bg
import stack


def test_all_at_once_deployment_with_the_boto3_waiter(sandbox):
    s = stack.build(sandbox)
    bg.quick_drain(s)
    cd = sandbox.client("codedeploy")
    s["cd"] = cd

    with pytest.raises(cd.exceptions.ApplicationDoesNotExistException):
        cd.get_application(applicationName=bg.APP)
    app_id = cd.create_application(applicationName=bg.APP, computePlatform="ECS")["applicationId"]
    app = cd.get_application(applicationName=bg.APP)["application"]
    assert (app["applicationId"], app["computePlatform"]) == (app_id, "ECS")

    with pytest.raises(cd.exceptions.DeploymentGroupDoesNotExistException):
        cd.get_deployment_group(applicationName=bg.APP, deploymentGroupName=bg.GROUP)
    cd.create_deployment_group(**bg.group_kwargs(s))
    group = cd.get_deployment_group(applicationName=bg.APP, deploymentGroupName=bg.GROUP)["deploymentGroupInfo"]
    assert group["computePlatform"] == "ECS"
    assert group["ecsServices"] == [{"serviceName": "web", "clusterName": "demo"}]
    bg.steady(s)

    d = bg.deploy(s, deploymentConfigName="CodeDeployDefault.ECSAllAtOnce")

    # One active deployment per group: AWS answers DeploymentLimitExceededException (there is no
    # queueing for ECS), and the running deployment is unaffected.
    with pytest.raises(cd.exceptions.DeploymentLimitExceededException):
        bg.deploy(s, tag="v3")
    assert bg.status(s, d) not in bg.TERMINAL

    bg.wait_successful(s, d)

    final = bg.info(s, d)
    assert final["status"] == "Succeeded"
    assert final["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert final["deploymentOverview"]["Succeeded"] == 1
    assert "errorInformation" not in final
    t = bg.target(s, d)
    assert t["status"] == "Succeeded"
    assert all(e["status"] == "Succeeded" for e in t["lifecycleEvents"]), t["lifecycleEvents"]
    assert [e["lifecycleEventName"] for e in t["lifecycleEvents"]] == [
        "BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
        "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]

    # Production (and the test listener) serve only v2; the weights say so too.
    assert bg.versions(s, 80) == {(200, "v2")}
    assert bg.versions(s, 8080) == {(200, "v2")}
    assert bg.green_weight(s) == 100

    # One PRIMARY task set on the new task definition, created by this deployment; the original is
    # deleted (it may drain briefly before it disappears).
    bg.wait_only_primary(s, "web:2")
    svc = s["ecs"].describe_services(cluster="demo", services=["web"])["services"][0]
    (ts,) = svc["taskSets"]
    assert ts["externalId"] == d and ts["startedBy"] == "CODE_DEPLOY"
    assert ts["loadBalancers"][0]["targetGroupArn"] == s["green"]["TargetGroupArn"]
    assert svc["taskDefinition"].endswith(":task-definition/web:2")

    # The group is free again; a new deployment is accepted.
    group = cd.get_deployment_group(applicationName=bg.APP, deploymentGroupName=bg.GROUP)["deploymentGroupInfo"]
    assert group["lastSuccessfulDeployment"]["deploymentId"] == d
    d2 = bg.deploy(s, tag="v3")
    bg.wait_successful(s, d2)
    assert bg.versions(s, 80) == {(200, "v3")}
    bg.wait_only_primary(s, "web:4")
