"""What AWS refuses, the sandbox refuses too, with AWS's exception (what clients match on): a call that
would fail against AWS must not pass against the sandbox."""
import pytest

from stack import NETWORK, build, register_demo, target_group


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_a_code_deploy_service_needs_a_load_balancer(sandbox):
    ecs = sandbox.client("ecs")
    ecs.create_cluster(clusterName="demo")
    td = register_demo(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.create_service(cluster="demo", serviceName="web", taskDefinition=td["taskDefinitionArn"],
                           desiredCount=1, launchType="FARGATE", networkConfiguration=NETWORK,
                           deploymentController={"type": "CODE_DEPLOY"})
    assert "CODE_DEPLOY" in error(e)[1]
    assert ecs.describe_services(cluster="demo", services=["web"])["failures"][0]["reason"] == "MISSING"


def _group_over(s, **kw):
    """An ECS application and deployment group over stack.build's service (bluegreen.group_kwargs)."""
    import bluegreen

    cd = s["sb"].client("codedeploy")
    cd.create_application(applicationName=bluegreen.APP, computePlatform="ECS")
    s["cd"] = cd
    return cd, bluegreen.group_kwargs(s, **kw)


def test_a_production_route_takes_exactly_one_listener(sandbox):
    s = build(sandbox, desired=1)
    s["sb"] = sandbox
    cd, kw = _group_over(s, test_listener=False)
    pair = kw["loadBalancerInfo"]["targetGroupPairInfoList"][0]
    pair["prodTrafficRoute"]["listenerArns"].append(s["test"]["ListenerArn"])
    with pytest.raises(cd.exceptions.InvalidTrafficRoutingConfigurationException) as e:
        cd.create_deployment_group(**kw)
    assert error(e)[1] == "Production traffic route must have exactly one listener Arn"


def test_a_deployment_fails_when_production_does_not_serve_the_primary_task_set(sandbox):
    import bluegreen

    s = build(sandbox, desired=1)
    s["sb"] = sandbox
    # The service serves from blue, but production forwards to green.
    s["elb"].modify_listener(ListenerArn=s["prod"]["ListenerArn"],
                             DefaultActions=[{"Type": "forward", "TargetGroupArn": s["green"]["TargetGroupArn"]}])
    cd, kw = _group_over(s, test_listener=False)
    cd.create_deployment_group(**kw)  # accepted: CodeDeploy finds out when it deploys
    d = bluegreen.deploy(s)
    info = bluegreen.wait_status(s, d, "Failed", timeout=30)
    assert info["errorInformation"]["code"] == "ELASTIC_LOAD_BALANCING_INVALID"
    assert info["errorInformation"]["message"] == (
        "The ELB could not be updated due to the following error: "
        f"Primary taskset target group must be behind listener {s['prod']['ListenerArn']}")
    assert "rollbackInfo" not in info
    assert [t[0] for t in bluegreen.task_sets(s)] == ["PRIMARY"]


def test_a_test_listener_on_another_load_balancer_fails_the_deployment_at_allow_test_traffic(sandbox):
    import bluegreen

    s = build(sandbox, desired=1)
    s["sb"] = sandbox
    bluegreen.quick_drain(s)
    elb = s["elb"]
    other_tg = target_group(elb, "other")
    other_lb = elb.create_load_balancer(Name="other-alb", Subnets=["subnet-0sandbox", "subnet-1sandbox"],
                                        Type="application")["LoadBalancers"][0]
    other = elb.create_listener(LoadBalancerArn=other_lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": other_tg["TargetGroupArn"]}])
    cd, kw = _group_over(s, test_listener=False)
    kw["loadBalancerInfo"]["targetGroupPairInfoList"][0]["testTrafficRoute"] = {
        "listenerArns": [other["Listeners"][0]["ListenerArn"]]}
    cd.create_deployment_group(**kw)
    bluegreen.steady(s, desired=1)
    d = bluegreen.deploy(s)
    info = bluegreen.wait_status(s, d, "Failed", timeout=60)
    assert info["errorInformation"]["code"] == "ELASTIC_LOAD_BALANCING_INVALID"
    # Its listener cannot forward to the pair: an ALB target group serves one load balancer.
    assert other["Listeners"][0]["ListenerArn"] in info["errorInformation"]["message"]
    events = bluegreen.events(s, d)
    assert events["Install"]["status"] == "Succeeded"
    assert events["AllowTestTraffic"]["status"] == "Failed"
    assert bluegreen.version(s) == (200, "v1")


def test_batch_get_deployment_targets_takes_exactly_one_ecs_target(sandbox):
    import bluegreen

    s = bluegreen.setup(sandbox, desired=1)
    d = bluegreen.deploy(s)
    bluegreen.wait_for("the deployment to start", lambda: bluegreen.status(s, d) != "Created", timeout=30)
    cd = s["cd"]
    got = cd.batch_get_deployment_targets(deploymentId=d, targetIds=["demo:web"])["deploymentTargets"]
    assert [t["ecsTarget"]["targetId"] for t in got] == ["demo:web"]
    with pytest.raises(cd.exceptions.DeploymentTargetListSizeExceededException):
        cd.batch_get_deployment_targets(deploymentId=d, targetIds=["demo:web", "demo:web"])
    bluegreen.wait_successful(s, d)


def test_listener_weights_outside_0_to_999_are_refused(sandbox):
    s = build(sandbox, desired=1)
    elb = s["elb"]
    blue, green = s["blue"]["TargetGroupArn"], s["green"]["TargetGroupArn"]

    def modify(groups):
        elb.modify_listener(ListenerArn=s["prod"]["ListenerArn"],
                            DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}])

    for groups in ([{"TargetGroupArn": blue, "Weight": 1000}, {"TargetGroupArn": green, "Weight": 0}],
                   [{"TargetGroupArn": blue, "Weight": 1}, {"TargetGroupArn": green}]):
        with pytest.raises(elb.exceptions.ClientError) as e:
            modify(groups)
        assert error(e) == ("ValidationError",
                            "The weight for each target group must be between 0 and 999, inclusive")
    modify([{"TargetGroupArn": blue, "Weight": 999}, {"TargetGroupArn": green, "Weight": 0}])
    action = elb.describe_listeners(ListenerArns=[s["prod"]["ListenerArn"]])["Listeners"][0]["DefaultActions"][0]
    assert {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]} == {blue: 999, green: 0}


def test_task_set_scale_outside_0_to_100_is_refused(sandbox):
    ecs = sandbox.client("ecs")
    ecs.create_cluster(clusterName="demo")
    td = register_demo(ecs)
    ecs.create_service(cluster="demo", serviceName="web", desiredCount=2, deploymentController={"type": "EXTERNAL"})
    kw = dict(cluster="demo", service="web", taskDefinition=td["taskDefinitionArn"], launchType="FARGATE",
              networkConfiguration=NETWORK)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_task_set(scale={"value": 150.0, "unit": "PERCENT"}, **kw)
    ts = ecs.create_task_set(scale={"value": 50.0, "unit": "PERCENT"}, **kw)["taskSet"]
    assert ts["computedDesiredCount"] == 1
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_task_set(cluster="demo", service="web", taskSet=ts["id"], scale={"value": 100.5, "unit": "PERCENT"})
    assert ecs.describe_task_sets(cluster="demo", service="web")["taskSets"][0]["scale"]["value"] == 50.0


def test_update_service_on_a_code_deploy_service_changes_only_what_aws_lets_it(sandbox):
    s = build(sandbox, desired=1)
    ecs = s["ecs"]
    for kw, named in ((dict(platformVersion="LATEST"), "platform version"),
                      (dict(loadBalancers=[]), "load balancers"),
                      (dict(serviceRegistries=[]), "service registries")):
        with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
            ecs.update_service(cluster="demo", service="web", **kw)
        assert error(e)[1] == (f"Unable to update {named} on services with a CODE_DEPLOY deployment controller. "
                               "Use AWS CodeDeploy to trigger a new deployment.")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.update_service(cluster="demo", service="web", enableExecuteCommand=True, forceNewDeployment=True)
    assert error(e)[1] == ("Cannot force a new deployment on services with a CODE_DEPLOY deployment controller. "
                           "Use AWS CodeDeploy to trigger a new deployment.")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.update_service(cluster="demo", service="web",
                           capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    assert error(e)[1].endswith("you must force a new deployment.")
    svc = ecs.update_service(cluster="demo", service="web", desiredCount=2, enableExecuteCommand=True,
                             healthCheckGracePeriodSeconds=10, propagateTags="SERVICE")["service"]
    assert (svc["desiredCount"], svc["enableExecuteCommand"], svc["propagateTags"]) == (2, True, "SERVICE")


def test_clients_manage_task_sets_of_external_services_only(sandbox):
    import bluegreen

    s = bluegreen.setup(sandbox, desired=1)
    ecs = s["ecs"]
    primary = bluegreen.task_sets(s)
    ts_id = ecs.describe_task_sets(cluster="demo", service="web")["taskSets"][0]["id"]
    message = ("Amazon ECS only supports task set management on services configured to use external "
               "deployment controllers.")
    for call in (
        lambda: ecs.create_task_set(cluster="demo", service="web", taskDefinition=s["td"]["taskDefinitionArn"],
                                    launchType="FARGATE", networkConfiguration=NETWORK,
                                    scale={"value": 100.0, "unit": "PERCENT"},
                                    loadBalancers=[{"targetGroupArn": s["green"]["TargetGroupArn"],
                                                    "containerName": "web", "containerPort": 80}]),
        lambda: ecs.update_task_set(cluster="demo", service="web", taskSet=ts_id,
                                    scale={"value": 0.0, "unit": "PERCENT"}),
        lambda: ecs.update_service_primary_task_set(cluster="demo", service="web", primaryTaskSet=ts_id),
        lambda: ecs.delete_task_set(cluster="demo", service="web", taskSet=ts_id, force=True),
    ):
        with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
            call()
        assert error(e)[1] == message
    assert bluegreen.task_sets(s) == primary
    # CodeDeploy still drives them.
    d = bluegreen.deploy(s)
    bluegreen.wait_successful(s, d)
    assert [st for st, _, _ in bluegreen.task_sets(s)][-1] == "PRIMARY"


def test_keep_alive_never_reports_the_termination_wait_started(sandbox):
    import bluegreen

    s = build(sandbox, desired=1)
    s["sb"] = sandbox
    bluegreen.quick_drain(s)
    cd, kw = _group_over(s, termination_wait=2)
    kw["blueGreenDeploymentConfiguration"]["terminateBlueInstancesOnDeploymentSuccess"]["action"] = "KEEP_ALIVE"
    cd.create_deployment_group(**kw)
    bluegreen.steady(s, desired=1)
    d = bluegreen.deploy(s)
    bluegreen.wait_for("the target to succeed", lambda: bluegreen.target(s, d)["status"] == "Succeeded", timeout=60)
    info = bluegreen.info(s, d)
    assert info["instanceTerminationWaitTimeStarted"] is False
    bluegreen.wait_successful(s, d)
    assert bluegreen.info(s, d)["instanceTerminationWaitTimeStarted"] is False
    # The original task set is kept.
    assert sorted(st for st, _, _ in bluegreen.task_sets(s)) == ["ACTIVE", "PRIMARY"]


def test_a_new_target_is_healthy_after_one_passing_check(sandbox):
    import time

    from conftest import wait_for

    # HealthyThresholdCount 10 at a 60 s interval would take 10 minutes (10 s here); a new target needs
    # one passing check.
    s = build(sandbox, desired=1, hc={"interval": 60, "healthy": 10, "timeout": 5})
    elb, blue = s["elb"], s["blue"]["TargetGroupArn"]
    start = time.monotonic()

    def healthy():
        states = [t["TargetHealth"]["State"] for t in elb.describe_target_health(TargetGroupArn=blue)["TargetHealthDescriptions"]]
        return states == ["healthy"]

    wait_for("the new target to be healthy", healthy, timeout=20)
    assert time.monotonic() - start < 6


def test_stop_deployment_is_pending_and_the_rollback_takes_time(sandbox):
    import bluegreen

    from conftest import wait_for

    s = bluegreen.setup(sandbox, desired=1, termination_wait=60)
    d = bluegreen.deploy(s)
    wait_for("the termination wait", lambda: bluegreen.info(s, d).get("instanceTerminationWaitTimeStarted"),
             timeout=30)
    # The replacement's tasks take 3 minutes (3 s here) to deregister once it is deleted.
    s["elb"].modify_target_group_attributes(
        TargetGroupArn=s["green"]["TargetGroupArn"],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "180"}])
    out = s["cd"].stop_deployment(deploymentId=d, autoRollbackEnabled=True)
    assert out["status"] == "Pending"
    info = bluegreen.wait_status(s, d, "Stopped", timeout=10)
    rb = info["rollbackInfo"]["rollbackDeploymentId"]
    # Traffic is back on the original at once, but the rollback runs until the replacement has drained.
    wait_for("production back on v1", lambda: bluegreen.versions(s, 80) == {(200, "v1")}, timeout=10)
    seen = wait_for("the rollback to be seen in progress",
                    lambda: bluegreen.status(s, rb) == "InProgress" and bluegreen.task_sets(s), timeout=10)
    assert [st for st, _, _ in seen] == ["DRAINING", "PRIMARY"]
    bluegreen.wait_status(s, rb, "Succeeded", timeout=30)
    assert [st for st, _, _ in bluegreen.task_sets(s)] == ["PRIMARY"]


def test_ec2_only_create_deployment_options_are_refused_for_ecs(sandbox):
    import bluegreen

    s = bluegreen.setup(sandbox, desired=1)
    cd = s["cd"]
    with pytest.raises(cd.exceptions.InvalidFileExistsBehaviorException):
        bluegreen.deploy(s, fileExistsBehavior="OVERWRITE")
    # AppSpecs as CodeDeploy's reference gives them: version 0.0, ECS hooks as a list.
    d = bluegreen.deploy(s)
    bluegreen.wait_successful(s, d)


def test_arns_of_another_region_or_account_name_nothing_here(sandbox):
    """ECS and CodeDeploy resolve an ARN in its own region and account: a service of the same name here
    is not the one an ARN of another region or account names."""
    s = build(sandbox, desired=1)
    s["sb"] = sandbox
    ecs = sandbox.client("ecs")
    here = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    account = here["serviceArn"].split(":")[4]
    elsewhere = here["clusterArn"].replace(":us-east-1:", ":eu-west-1:")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.describe_services(cluster=elsewhere, services=["web"])
    assert error(e)[1] == "Invalid Region in ARN"
    other_account = here["serviceArn"].replace(f":{account}:", ":999999999999:")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.update_service(cluster="demo", service=other_account, desiredCount=2)
    assert "999999999999" in error(e)[1]
    assert ecs.describe_services(cluster="demo", services=["web"])["services"][0]["desiredCount"] == 1

    cd, kw = _group_over(s)
    kw["ecsServices"] = [{"serviceName": "web",
                          "clusterName": here["clusterArn"].replace(f":{account}:", ":999999999999:")}]
    with pytest.raises(cd.exceptions.InvalidECSServiceException):
        cd.create_deployment_group(**kw)


def test_the_appspec_names_the_task_definition_by_its_full_arn(sandbox):
    import hashlib
    import json

    import bluegreen

    s = bluegreen.setup(sandbox, desired=1)
    rev = bluegreen.revision(s)
    spec = json.loads(rev["appSpecContent"]["content"])
    props = spec["Resources"][0]["TargetService"]["Properties"]
    props["TaskDefinition"] = props["TaskDefinition"].split("/")[-1]  # family:revision
    content = json.dumps(spec)
    rev["appSpecContent"] = {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}
    d = s["cd"].create_deployment(applicationName=bluegreen.APP, deploymentGroupName=bluegreen.GROUP,
                                  revision=rev)["deploymentId"]
    failed = bluegreen.wait_status(s, d, "Failed", timeout=30)
    assert "full ARN" in failed["errorInformation"]["message"]
