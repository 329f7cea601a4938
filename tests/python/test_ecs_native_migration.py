"""Moving a CodeDeploy Blue/Green service to ECS's own Blue/Green in place, as AWS's migration guide does
it: the listeners' rules forward to both groups (1 on the group serving now, 0 on the other), then
UpdateService to the ECS controller with the BLUE_GREEN strategy and the advanced configuration. The
tasks serving keep serving (no failed request through the production listener), the first native
deployment goes to the other group, and a change of controller is refused while CodeDeploy deploys."""
import threading

import pytest

import bluegreen as bg
import native
import stack
from conftest import wait_for


def migrate_kwargs(s, serving, other, tag="v3", bake=0):
    td = stack.register_demo(s["ecs"], family="web", tag=tag)
    advanced = {"alternateTargetGroupArn": s[other]["TargetGroupArn"],
                "productionListenerRule": native.default_rule(s["elb"], s["prod"]["ListenerArn"]),
                "testListenerRule": native.default_rule(s["elb"], s["test"]["ListenerArn"]),
                "roleArn": native.ROLE}
    return dict(cluster="demo", service="web", taskDefinition=td["taskDefinitionArn"],
                deploymentController={"type": "ECS"},
                deploymentConfiguration=native.deployment_configuration(bake=bake),
                loadBalancers=[{"targetGroupArn": s[serving]["TargetGroupArn"], "containerName": "web",
                                "containerPort": 80, "advancedConfiguration": advanced}])


def test_a_codedeploy_service_moves_to_ecs_blue_green_without_a_failed_request(sandbox):
    s = bg.setup(sandbox)
    d = bg.deploy(s, "v2")
    bg.wait_successful(s, d)
    bg.wait_only_primary(s, "web:2")
    # CodeDeploy left production on green (weights green 100 / blue 0 on the listener).
    assert bg.green_weight(s) == 100
    s["name"] = "web"

    failed, served, stop = [], [], threading.Event()

    def load():
        while not stop.is_set():
            status, version = native.served(s)
            (served if status == 200 else failed).append(version)
    t = threading.Thread(target=load)
    t.start()
    try:
        # Step 1: both groups on the production and test rules, 1 on the group serving now.
        for listener in ("prod", "test"):
            s["elb"].modify_listener(ListenerArn=s[listener]["ListenerArn"],
                                     DefaultActions=native.both(s["green"], s["blue"], 1, 0))
        # Step 2: UpdateService to the ECS controller; the first native deployment deploys v3 to blue.
        svc = s["ecs"].update_service(**migrate_kwargs(s, serving="green", other="blue"))["service"]
        assert svc["deploymentController"]["type"] == "ECS"
        arn = native.deployments(s)[0]["serviceDeploymentArn"]
        d = native.wait_status(s, arn, "SUCCESSFUL")
        wait_for("v3 to serve", lambda: native.served(s) == (200, "v3"))
    finally:
        stop.set()
        t.join()
    assert not failed, failed[:5]
    assert served[0] == "v2" and served[-1] == "v3", (served[0], served[-1])
    assert d["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 0.0
    assert native.rule_weights(s) == {"blue": 100, "green": 0}
    svc = native.service(s)
    assert [(x["status"], x["taskDefinition"].split("/")[-1]) for x in svc["deployments"]] == [("PRIMARY", "web:3")]


def test_the_controller_changes_only_from_codedeploy_to_ecs_and_not_mid_deployment(sandbox):
    s = bg.setup(sandbox, termination_wait=60)
    d = bg.deploy(s, "v2")
    bg.wait_status(s, d, "InProgress")
    wait_for("the replacement task set", lambda: len(bg.task_sets(s)) == 2)
    with pytest.raises(s["ecs"].exceptions.InvalidParameterException) as e:
        s["ecs"].update_service(**migrate_kwargs(s, serving="blue", other="green"))
    assert "deployment is in progress" in str(e.value)
    assert native.service({**s, "name": "web"})["deploymentController"]["type"] == "CODE_DEPLOY"

    ecs = sandbox.client("ecs")
    td = stack.register_demo(ecs, family="other")
    ecs.create_service(cluster="demo", serviceName="other", taskDefinition=td["taskDefinitionArn"], desiredCount=0,
                       launchType="FARGATE", networkConfiguration=stack.NETWORK)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_service(cluster="demo", service="other", deploymentController={"type": "CODE_DEPLOY"})
