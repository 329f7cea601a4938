"""Injected faults as botocore and the AWS CLI see them: the error code they match on, the HTTP status
their retry logic classifies, in each protocol (awsJson for ECS, awsQuery for ELBv2, awsJson with
x-amzn-query-error for CloudWatch)."""
import json
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import CREDS


def fault(sandbox, **spec):
    req = urllib.request.Request(sandbox.url + "/_kirikae/faults", data=json.dumps(spec).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def faults(sandbox):
    with urllib.request.urlopen(sandbox.url + "/_kirikae/faults", timeout=5) as r:
        return json.load(r)["faults"]


def client(sandbox, service, **retries):
    return boto3.client(service, endpoint_url=sandbox.url, config=Config(retries=retries), **CREDS)


def test_botocore_sees_the_injected_code_in_every_protocol(sandbox):
    ecs = client(sandbox, "ecs", mode="standard", total_max_attempts=1)
    assert fault(sandbox, action="error", service="ecs", code="ExpiredTokenException", count=1)["id"] == "f1"
    with pytest.raises(ClientError) as e:
        ecs.list_clusters()
    assert e.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ecs.list_clusters()  # count=1: spent

    fault(sandbox, action="error", service="elbv2", code="Throttling", message="Rate exceeded", count=1)
    elb = client(sandbox, "elbv2", mode="standard", total_max_attempts=1)
    with pytest.raises(ClientError) as e:
        elb.describe_load_balancers()
    assert e.value.response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}

    fault(sandbox, action="error", service="cloudwatch", code="AccessDenied", count=1)
    cw = client(sandbox, "cloudwatch", mode="standard", total_max_attempts=1)
    with pytest.raises(ClientError) as e:
        cw.describe_alarms()
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_503_is_retried_by_standard_retry_mode(sandbox):
    fault(sandbox, action="error", operation="ListClusters", code="ServiceUnavailable", count=2)
    ecs = client(sandbox, "ecs", mode="standard", total_max_attempts=3)
    out = ecs.list_clusters()
    assert out["ResponseMetadata"]["RetryAttempts"] == 2
    [f] = faults(sandbox)
    assert (f["fired"], f["active"], f["status"]) == (2, False, None)
    assert sandbox.calls()["faulted"] == 2


def test_the_aws_cli_reports_the_code_and_flags_install_faults(make_sandbox):
    sb = make_sandbox("--fault", "action=error,service=codedeploy,operation=ListApplications,code=ExpiredTokenException")
    code, _, err = sb.aws_cli("deploy", "list-applications")
    assert code != 0
    assert "(ExpiredTokenException)" in err, err
    [f] = faults(sb)
    assert (f["id"], f["fired"], f["active"]) == ("f1", 1, True)
