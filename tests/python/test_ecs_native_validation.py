"""What CreateService and UpdateService check for ECS-native Blue/Green before anything changes: the
bake time, the advanced configuration (alternate target group, production and test listener rules, an
infrastructure role that exists and trusts ecs.amazonaws.com), hooks, and the controller. A refused
call creates or changes nothing; ListServiceDeployments and friends answer as ECS does."""
import pytest

import native
import stack


def base(sb):
    """The stack without the service, and CreateService arguments for a valid Blue/Green service."""
    ecs, elb = sb.client("ecs"), sb.client("elbv2")
    s = native.build(sb, dc=native.deployment_configuration(bake=0), name="ok")
    lb = {"targetGroupArn": s["blue"]["TargetGroupArn"], "containerName": "web", "containerPort": 80,
          "advancedConfiguration": dict(s["advanced"])}
    kw = dict(cluster="demo", serviceName="web", taskDefinition=s["td"]["taskDefinitionArn"], desiredCount=1,
              launchType="FARGATE", networkConfiguration=stack.NETWORK, deploymentController={"type": "ECS"},
              deploymentConfiguration=native.deployment_configuration(bake=0), loadBalancers=[lb])
    return ecs, elb, s, kw


def refused(ecs, kw, words):
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.create_service(**kw)
    assert words in str(e.value), e.value
    assert [a.rsplit("/", 1)[-1] for a in ecs.list_services(cluster="demo")["serviceArns"]] == ["ok"]


def with_advanced(kw, **changes):
    lb = dict(kw["loadBalancers"][0], advancedConfiguration=dict(kw["loadBalancers"][0]["advancedConfiguration"]))
    for k, v in changes.items():
        if v is None:
            lb["advancedConfiguration"].pop(k)
        else:
            lb["advancedConfiguration"][k] = v
    return dict(kw, loadBalancers=[lb])


def test_create_service_checks_the_blue_green_settings(sandbox):
    ecs, elb, s, kw = base(sandbox)
    dc = native.deployment_configuration()
    dc.pop("bakeTimeInMinutes")
    refused(ecs, dict(kw, deploymentConfiguration=dc), "bakeTimeInMinutes")
    refused(ecs, dict(kw, deploymentConfiguration=native.deployment_configuration(bake=1441)), "bakeTimeInMinutes")
    refused(ecs, with_advanced(kw, alternateTargetGroupArn=None), "alternateTargetGroupArn")
    refused(ecs, with_advanced(kw, alternateTargetGroupArn=s["blue"]["TargetGroupArn"]), "different")
    refused(ecs, with_advanced(kw, productionListenerRule=None), "productionListenerRule")
    refused(ecs, with_advanced(kw, productionListenerRule=s["prod"]["ListenerArn"].replace(
        ":listener/", ":listener-rule/") + "/0123456789abcdef"), "does not exist")
    refused(ecs, with_advanced(kw, roleArn=None), "roleArn")
    refused(ecs, with_advanced(kw, roleArn="arn:aws:iam::000000000000:role/nope"), "no role named nope")
    # The CodeDeploy service role trusts codedeploy.amazonaws.com, not ECS.
    refused(ecs, with_advanced(kw, roleArn="arn:aws:iam::000000000000:role/ecsCodeDeployRole"),
            "does not allow ecs.amazonaws.com")
    no_adv = dict(kw, loadBalancers=[{k: v for k, v in kw["loadBalancers"][0].items() if k != "advancedConfiguration"}])
    refused(ecs, no_adv, "advancedConfiguration")
    lambda_without_role = {"hookTargetArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                           "lifecycleStages": ["PRE_SCALE_UP"]}
    refused(ecs, dict(kw, deploymentConfiguration=native.deployment_configuration(hooks=[lambda_without_role])),
            "roleArn")
    # The strategy belongs to the ECS controller.
    refused(ecs, dict(kw, deploymentController={"type": "CODE_DEPLOY"}, loadBalancers=[
        {k: v for k, v in kw["loadBalancers"][0].items() if k != "advancedConfiguration"}]), "ECS deployment controller")
    # And with everything right, it is created.
    ecs.create_service(**kw)


def test_update_service_checks_before_changing_anything(sandbox):
    ecs, elb, s, _ = base(sandbox)
    native.serving(s)
    before = native.service(s)
    bad = native.deployment_configuration(bake=0, linearConfiguration={"stepPercent": 10.0})
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_service(cluster="demo", service="ok", deploymentConfiguration=bad,
                           taskDefinition=stack.register_demo(ecs, family="ok", tag="v2")["taskDefinitionArn"])
    after = native.service(s)
    assert after["taskDefinition"] == before["taskDefinition"]
    assert after["deploymentConfiguration"] == before["deploymentConfiguration"]
    assert len(native.deployments(s)) == 1


def test_service_deployment_reads_answer_as_ecs_does(sandbox):
    ecs = sandbox.client("ecs")
    ecs.create_cluster(clusterName="demo")
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.list_service_deployments(cluster="demo", service="nope")
    arn = "arn:aws:ecs:us-east-1:000000000000:service-deployment/demo/nope/abc"
    out = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    assert out["serviceDeployments"] == [] and out["failures"] == [{"arn": arn, "reason": "MISSING"}]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.describe_service_revisions(serviceRevisionArns=[arn] * 21)
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-x")


def test_a_service_without_a_load_balancer_deploys_blue_green_without_traffic(sandbox):
    """"Headless" Blue/Green: tasks are replaced stage by stage, no traffic is managed."""
    ecs = sandbox.client("ecs")
    ecs.create_cluster(clusterName="demo")
    td = stack.register_demo(ecs, family="worker")
    ecs.create_service(cluster="demo", serviceName="worker", taskDefinition=td["taskDefinitionArn"], desiredCount=1,
                       launchType="FARGATE", networkConfiguration=stack.NETWORK,
                       deploymentConfiguration=native.deployment_configuration(bake=0))
    s = {"ecs": ecs, "name": "worker"}
    native.wait_status(s, native.deployments(s)[0]["serviceDeploymentArn"], "SUCCESSFUL")
    arn = native.update(s, "v2")
    d = native.wait_status(s, arn, "SUCCESSFUL")
    assert "requestedProductionTrafficWeight" not in d["targetServiceRevision"], d
    assert d["lifecycleStage"] == "CLEAN_UP"
    # Hooks on a rolling update are not run by the sandbox: refused, not ignored.
    with pytest.raises(ecs.exceptions.UnsupportedFeatureException):
        ecs.update_service(cluster="demo", service="worker", deploymentConfiguration={
            "strategy": "ROLLING", "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRE_SCALE_UP"]}]})
    assert native.service(s)["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
