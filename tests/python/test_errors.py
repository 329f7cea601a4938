"""Wrong input is answered as AWS answers it, checked by exception name (what clients match on)."""
import pytest
from botocore.exceptions import ClientError

from stack import NETWORK, build, register_demo, target_group


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_missing_resources(sandbox):
    ecs, elb = sandbox.client("ecs"), sandbox.client("elbv2")
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.describe_services(cluster="nope", services=["web"])
    ecs.create_cluster(clusterName="demo")
    missing = ecs.describe_services(cluster="demo", services=["ghost"])
    assert missing["services"] == []
    assert missing["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.update_service(cluster="demo", service="ghost", desiredCount=1)
    with pytest.raises(elb.exceptions.TargetGroupNotFoundException):
        elb.describe_target_groups(Names=["ghost"])
    with pytest.raises(elb.exceptions.LoadBalancerNotFoundException):
        elb.describe_load_balancers(Names=["ghost"])
    with pytest.raises(elb.exceptions.ListenerNotFoundException):
        elb.describe_listeners(ListenerArns=["arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/x/0123456789abcdef/0123456789abcdef"])


def test_duplicates_and_invalid_values(sandbox):
    ecs, elb = sandbox.client("ecs"), sandbox.client("elbv2")
    target_group(elb, "dup")
    with pytest.raises(elb.exceptions.DuplicateTargetGroupNameException):
        target_group(elb, "dup", interval=10)  # same name, different settings
    with pytest.raises(ClientError) as e:
        elb.create_target_group(Name="bad", Protocol="FTP", Port=80, VpcId="vpc-1")
    assert code(e) == "ValidationError"
    ecs.create_cluster(clusterName="demo")
    td = register_demo(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(cluster="demo", serviceName="x", taskDefinition=td["taskDefinitionArn"],
                           desiredCount=1, launchType="MAINFRAME", networkConfiguration=NETWORK)


def test_update_service_rejects_task_definition_on_code_deploy_service(sandbox):
    s = build(sandbox, desired=1)
    ecs = s["ecs"]
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.update_service(cluster="demo", service="web", taskDefinition=s["td"]["taskDefinitionArn"])
    assert "CODE_DEPLOY deployment controller" in e.value.response["Error"]["Message"]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_service(cluster="demo", service="web", networkConfiguration=NETWORK)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(cluster="demo", serviceName="web", taskDefinition=s["td"]["taskDefinitionArn"],
                           desiredCount=1, launchType="FARGATE", networkConfiguration=NETWORK,
                           deploymentController={"type": "CODE_DEPLOY"},
                           loadBalancers=[{"targetGroupArn": s["blue"]["TargetGroupArn"], "containerName": "web",
                                           "containerPort": 80}])
    # desiredCount is allowed, and rescales the PRIMARY task set.
    svc = ecs.update_service(cluster="demo", service="web", desiredCount=2)["service"]
    assert svc["desiredCount"] == 2


def test_unknown_operation_is_an_error_not_a_silent_success(sandbox):
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(sandbox.url, data=b"{}", headers={
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.FlyToTheMoon",
        "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400
    assert json.load(e.value)["__type"] == "UnknownOperationException"
