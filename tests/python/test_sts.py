"""STS GetCallerIdentity through boto3 and the AWS CLI: the sandbox has no IAM users, so the caller is
the account's root user (the account the access key names), answered as AWS answers root credentials.
kirikae records this identity in every deployment it creates."""
import boto3
import botocore.exceptions
import pytest

from conftest import CREDS


def test_the_caller_is_the_root_user_of_the_access_keys_account(sandbox):
    sts = sandbox.client("sts")
    me = sts.get_caller_identity()
    assert me["Account"] == "000000000000"
    assert me["Arn"] == "arn:aws:iam::000000000000:root"
    assert me["UserId"] == "000000000000"
    # A 12-digit access key id names the account (LocalStack's convention).
    other = boto3.client("sts", endpoint_url=sandbox.url, region_name="eu-west-1",
                         aws_access_key_id="123456789012", aws_secret_access_key="x")
    assert other.get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:root"
    assert sandbox.calls()["calls"]["sts.GetCallerIdentity"] == 2
    assert sandbox.calls()["mutating"] == 0


def test_other_sts_operations_are_refused_not_faked(sandbox):
    sts = sandbox.client("sts")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/ecsCodeDeployRole", RoleSessionName="session")
    assert e.value.response["Error"]["Code"] == "InvalidAction"


def test_aws_cli_get_caller_identity(sandbox):
    rc, out, err = sandbox.aws_cli("sts", "get-caller-identity")
    assert rc == 0, err
    assert '"Arn": "arn:aws:iam::000000000000:root"' in out
