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
