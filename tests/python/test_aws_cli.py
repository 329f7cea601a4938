"""The AWS CLI (awscli from pip) works against the sandbox unchanged, via AWS_ENDPOINT_URL."""
import json

from conftest import wait_for
from stack import build


def test_aws_cli_reads_and_writes(sandbox):
    rc, out, err = sandbox.aws_cli("ecs", "create-cluster", "--cluster-name", "cli")
    assert rc == 0, err
    assert json.loads(out)["cluster"]["clusterArn"].endswith(":cluster/cli")
    rc, out, err = sandbox.aws_cli("elbv2", "create-target-group", "--name", "cli-tg", "--protocol", "HTTP",
                                   "--port", "80", "--vpc-id", "vpc-1", "--target-type", "ip")
    assert rc == 0, err
    tg = json.loads(out)["TargetGroups"][0]
    assert tg["TargetType"] == "ip" and tg["HealthCheckIntervalSeconds"] == 30

    s = build(sandbox, desired=1)
    wait_for("the service's task to run", lambda: s["ecs"].describe_services(cluster="demo", services=["web"])
             ["services"][0]["runningCount"] == 1)
    rc, out, err = sandbox.aws_cli("ecs", "describe-services", "--cluster", "demo", "--services", "web")
    assert rc == 0, err
    svc = json.loads(out)["services"][0]
    assert svc["taskSets"][0]["status"] == "PRIMARY"
    rc, out, err = sandbox.aws_cli("elbv2", "describe-target-health", "--target-group-arn", s["blue"]["TargetGroupArn"])
    assert rc == 0, err
    assert len(json.loads(out)["TargetHealthDescriptions"]) == 1

    # Errors reach the CLI user with AWS's code.
    rc, out, err = sandbox.aws_cli("ecs", "describe-services", "--cluster", "nope", "--services", "web")
    assert rc != 0 and "ClusterNotFoundException" in err
