"""IAM roles through boto3 and the AWS CLI, and CodeDeploy refusing a service role as AWS does: the role
must exist in the caller's account and trust codedeploy.amazonaws.com. Every account starts with the
roles AWS's ECS guides name (ecsCodeDeployRole, ecsTaskExecutionRole, ecsInfrastructureRoleForLoadBalancers)."""
import json

import boto3
import pytest

import bluegreen as bg
import stack
from conftest import CREDS

CODEDEPLOY_ECS = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
TASK_EXECUTION = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
LOAD_BALANCERS = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


def trust(service):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_default_roles_exist_in_every_account(sandbox):
    iam = sandbox.client("iam")
    for name, service, policy in [
        ("ecsCodeDeployRole", "codedeploy.amazonaws.com", CODEDEPLOY_ECS),
        ("ecsTaskExecutionRole", "ecs-tasks.amazonaws.com", TASK_EXECUTION),
        ("ecsInfrastructureRoleForLoadBalancers", "ecs.amazonaws.com", LOAD_BALANCERS),
    ]:
        role = iam.get_role(RoleName=name)["Role"]
        assert role["Arn"] == f"arn:aws:iam::000000000000:role/{name}"
        assert role["RoleId"].startswith("AROA")
        # boto3 URL-decodes and parses the document IAM returns URL-encoded.
        statement = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert statement["Principal"]["Service"] == service
        assert statement["Action"] == "sts:AssumeRole"
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [policy]

    # Another account (a 12-digit access key) has its own, with its own ARNs.
    other = boto3.client("iam", endpoint_url=sandbox.url, aws_access_key_id="123456789012",
                         aws_secret_access_key="test", region_name="us-east-1")
    assert other.get_role(RoleName="ecsCodeDeployRole")["Role"]["Arn"] == \
        "arn:aws:iam::123456789012:role/ecsCodeDeployRole"
    # IAM is global: a client configured for another region sees the same roles.
    eu = boto3.client("iam", endpoint_url=sandbox.url, **{**CREDS, "region_name": "eu-west-1"})
    names = {r["RoleName"] for r in eu.list_roles()["Roles"]}
    assert {"ecsCodeDeployRole", "ecsTaskExecutionRole", "ecsInfrastructureRoleForLoadBalancers"} <= names


def test_role_lifecycle_and_iams_errors(sandbox):
    iam = sandbox.client("iam")
    role = iam.create_role(RoleName="deployer", Path="/ci/", AssumeRolePolicyDocument=trust("codedeploy.amazonaws.com"),
                           Description="CI deployer", Tags=[{"Key": "team", "Value": "web"}])["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/ci/deployer"
    got = iam.get_role(RoleName="deployer")["Role"]
    assert got["RoleId"] == role["RoleId"] and got["Description"] == "CI deployer"
    assert got["AssumeRolePolicyDocument"] == json.loads(trust("codedeploy.amazonaws.com"))
    assert got["Tags"] == [{"Key": "team", "Value": "web"}]
    assert "deployer" in {r["RoleName"] for r in iam.list_roles(PathPrefix="/ci/")["Roles"]}

    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as e:
        iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust("codedeploy.amazonaws.com"))
    assert error_code(e) == ("EntityAlreadyExists", 409)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as e:
        iam.create_role(RoleName="broken", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
    assert error_code(e) == ("MalformedPolicyDocument", 400)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as e:
        iam.get_role(RoleName="nobody")
    assert error_code(e) == ("NoSuchEntity", 404)
    assert "The role with name nobody cannot be found." in str(e.value)

    iam.attach_role_policy(RoleName="deployer", PolicyArn=CODEDEPLOY_ECS)
    attached = iam.list_attached_role_policies(RoleName="deployer")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSCodeDeployRoleForECS", "PolicyArn": CODEDEPLOY_ECS}]
    # A managed policy that does not exist (here: at a path it is not at) is NoSuchEntity, as in AWS.
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_role_policy(RoleName="deployer", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForECS")

    with pytest.raises(iam.exceptions.DeleteConflictException) as e:
        iam.delete_role(RoleName="deployer")
    assert error_code(e) == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName="deployer", PolicyArn=CODEDEPLOY_ECS)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.detach_role_policy(RoleName="deployer", PolicyArn=CODEDEPLOY_ECS)
    assert iam.list_attached_role_policies(RoleName="deployer")["AttachedPolicies"] == []
    iam.delete_role(RoleName="deployer")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="deployer")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_role(RoleName="deployer")


def test_codedeploy_assumes_only_a_role_that_exists_and_trusts_it(sandbox):
    s = stack.build(sandbox)
    cd, iam = sandbox.client("codedeploy"), sandbox.client("iam")
    cd.create_application(applicationName=bg.APP, computePlatform="ECS")
    kwargs = bg.group_kwargs(s)

    with pytest.raises(cd.exceptions.InvalidRoleException) as e:
        cd.create_deployment_group(**{**kwargs, "serviceRoleArn": "arn:aws:iam::000000000000:role/nobody"})
    assert "Cannot assume role provided." in str(e.value)

    iam.create_role(RoleName="tasksOnly", AssumeRolePolicyDocument=trust("ecs-tasks.amazonaws.com"))
    tasks_only = "arn:aws:iam::000000000000:role/tasksOnly"
    with pytest.raises(cd.exceptions.InvalidRoleException):
        cd.create_deployment_group(**{**kwargs, "serviceRoleArn": tasks_only})
    # ecsTaskExecutionRole exists by default, and trusts ecs-tasks only too.
    with pytest.raises(cd.exceptions.InvalidRoleException):
        cd.create_deployment_group(**{**kwargs, "serviceRoleArn": "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"})
    # A role of another account.
    with pytest.raises(cd.exceptions.InvalidRoleException) as e:
        cd.create_deployment_group(**{**kwargs, "serviceRoleArn": "arn:aws:iam::123456789012:role/ecsCodeDeployRole"})
    assert "Cross-account pass role is not allowed." in str(e.value)
    with pytest.raises(cd.exceptions.DeploymentGroupDoesNotExistException):
        cd.get_deployment_group(applicationName=bg.APP, deploymentGroupName=bg.GROUP)

    # The conventional role works out of the box.
    cd.create_deployment_group(**kwargs)
    group = cd.get_deployment_group(applicationName=bg.APP, deploymentGroupName=bg.GROUP)["deploymentGroupInfo"]
    assert group["serviceRoleArn"] == bg.ROLE

    # UpdateDeploymentGroup checks a role it is given, and keeps the old one on refusal.
    with pytest.raises(cd.exceptions.InvalidRoleException):
        cd.update_deployment_group(applicationName=bg.APP, currentDeploymentGroupName=bg.GROUP,
                                   serviceRoleArn=tasks_only)
    iam.update_assume_role_policy(RoleName="tasksOnly", PolicyDocument=trust("codedeploy.amazonaws.com"))
    cd.update_deployment_group(applicationName=bg.APP, currentDeploymentGroupName=bg.GROUP, serviceRoleArn=tasks_only)
    group = cd.get_deployment_group(applicationName=bg.APP, deploymentGroupName=bg.GROUP)["deploymentGroupInfo"]
    assert group["serviceRoleArn"] == tasks_only


def test_aws_cli_reads_the_default_role(sandbox):
    rc, out, err = sandbox.aws_cli("iam", "get-role", "--role-name", "ecsCodeDeployRole")
    assert rc == 0, err
    role = json.loads(out)["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/ecsCodeDeployRole"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "codedeploy.amazonaws.com"

    rc, out, err = sandbox.aws_cli("iam", "list-attached-role-policies", "--role-name", "ecsCodeDeployRole")
    assert rc == 0, err
    assert json.loads(out)["AttachedPolicies"][0]["PolicyArn"] == CODEDEPLOY_ECS

    rc, out, err = sandbox.aws_cli("iam", "get-role", "--role-name", "nobody")
    assert rc != 0 and "NoSuchEntity" in err
