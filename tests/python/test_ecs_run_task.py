"""RunTask with overrides, through boto3: a one-off task runs the container's command override as a
process and reports its exit code as ECS does (DescribeTasks: lastStatus STOPPED, stopCode
EssentialContainerExited, containers[].exitCode, stoppedReason "Essential container in task exited");
an override naming a container the task definition lacks is refused (InvalidParameterException); a
retry with the same clientToken starts nothing more."""
import botocore.exceptions
import pytest

from conftest import wait_for

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-a"], "assignPublicIp": "DISABLED"}}


def setup(sandbox):
    ecs = sandbox.client("ecs")
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(
        family="migrate",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "kirikae/demo:v2", "essential": True,
                               "portMappings": [{"containerPort": 8080}]}],
    )
    return ecs


def run(ecs, command, **extra):
    return ecs.run_task(
        cluster="demo",
        taskDefinition="migrate",
        launchType="FARGATE",
        networkConfiguration=NETWORK,
        startedBy="kirikae",
        group="kirikae:before-switch",
        overrides={"containerOverrides": [{"name": "app", "command": command,
                                           "environment": [{"name": "STEP", "value": "schema"}]}]},
        **extra,
    )


def stopped(ecs, arn):
    def check():
        t = ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]
        return t if t["lastStatus"] == "STOPPED" else None

    return wait_for(f"task {arn} to stop", check)


@pytest.mark.parametrize("code", [0, 3])
def test_a_one_off_task_reports_its_exit_code_as_ecs_does(sandbox, code):
    ecs = setup(sandbox)
    out = run(ecs, ["exit", str(code)])
    assert out["failures"] == []
    task = out["tasks"][0]
    assert task["startedBy"] == "kirikae"
    assert task["group"] == "kirikae:before-switch"
    assert task["overrides"]["containerOverrides"][0]["command"] == ["exit", str(code)]

    t = stopped(ecs, task["taskArn"])
    assert t["stopCode"] == "EssentialContainerExited", t
    assert t["stoppedReason"] == "Essential container in task exited", t
    assert t["desiredStatus"] == "STOPPED"
    assert t["containers"][0]["exitCode"] == code, t
    assert t["containers"][0]["lastStatus"] == "STOPPED"
    for k in ("stoppingAt", "stoppedAt", "executionStoppedAt"):
        assert k in t, k
    # ListTasks finds it by who started it.
    listed = ecs.list_tasks(cluster="demo", startedBy="kirikae", desiredStatus="STOPPED")["taskArns"]
    assert listed == [task["taskArn"]]


def test_an_unknown_command_exits_127_like_a_shell(sandbox):
    ecs = setup(sandbox)
    arn = run(ecs, ["./manage.py", "migrate"])["tasks"][0]["taskArn"]
    assert stopped(ecs, arn)["containers"][0]["exitCode"] == 127


def test_an_override_for_a_container_the_task_definition_lacks_is_refused(sandbox):
    ecs = setup(sandbox)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecs.run_task(
            cluster="demo", taskDefinition="migrate", launchType="FARGATE", networkConfiguration=NETWORK,
            overrides={"containerOverrides": [{"name": "web", "command": ["exit", "0"]}]},
        )
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert err["Message"] == "Override for container named web is not a container in the TaskDefinition."
    assert ecs.list_tasks(cluster="demo", desiredStatus="RUNNING")["taskArns"] == []
    assert ecs.list_tasks(cluster="demo", desiredStatus="STOPPED")["taskArns"] == []


def test_a_retry_with_the_same_client_token_starts_no_second_task(sandbox):
    ecs = setup(sandbox)
    first = run(ecs, ["exit", "0"], clientToken="migration-run-1")["tasks"][0]["taskArn"]
    again = run(ecs, ["exit", "0"], clientToken="migration-run-1")["tasks"][0]["taskArn"]
    assert again == first
    other = run(ecs, ["exit", "0"], clientToken="migration-run-2")["tasks"][0]["taskArn"]
    assert other != first
    stopped(ecs, first)
    stopped(ecs, other)
    listed = ecs.list_tasks(cluster="demo", startedBy="kirikae", desiredStatus="STOPPED")["taskArns"]
    assert sorted(listed) == sorted([first, other])
