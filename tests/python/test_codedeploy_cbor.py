"""CodeDeploy over Smithy RPC v2 CBOR (the protocol the current CodeDeploy model lists first, which newer
SDKs send): the core operations of a deployment answer as over awsJson, errors carry the modeled shape in
`__type` with the model's HTTP status, and timestamps are CBOR epoch-time tags."""
import datetime
import urllib.error
import urllib.request

import cbor2

import bluegreen as bg
import stack
from conftest import wait_for


def call(sb, op, body):
    """POST one CodeDeploy operation as RPC v2 CBOR; returns (HTTP status, decoded body)."""
    req = urllib.request.Request(
        f"{sb.url}/service/CodeDeploy_20141006/operation/{op}", data=cbor2.dumps(body), method="POST",
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"})
    try:
        r = urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        r = e
    with r:
        assert r.headers["smithy-protocol"] == "rpc-v2-cbor"
        assert r.headers["Content-Type"] == "application/cbor"
        return r.status, cbor2.loads(r.read())


def ok(sb, op, body):
    status, out = call(sb, op, body)
    assert status == 200, (op, status, out)
    return out


def error(sb, op, body):
    """The error's shape name (`__type` may be a bare name or an absolute shape id) and HTTP status."""
    status, out = call(sb, op, body)
    return out["__type"].split("#")[-1], status


def test_codedeploy_over_rpc_v2_cbor(sandbox):
    s = stack.build(sandbox)
    bg.quick_drain(s)

    assert error(sandbox, "GetApplication", {"applicationName": bg.APP}) == ("ApplicationDoesNotExistException", 400)
    app_id = ok(sandbox, "CreateApplication", {"applicationName": bg.APP, "computePlatform": "ECS"})["applicationId"]
    app = ok(sandbox, "GetApplication", {"applicationName": bg.APP})["application"]
    assert (app["applicationId"], app["computePlatform"]) == (app_id, "ECS")
    assert isinstance(app["createTime"], datetime.datetime)
    assert error(sandbox, "CreateApplication", {"applicationName": bg.APP, "computePlatform": "ECS"}) == (
        "ApplicationAlreadyExistsException", 400)

    assert error(sandbox, "GetDeploymentGroup", {"applicationName": bg.APP, "deploymentGroupName": bg.GROUP}) == (
        "DeploymentGroupDoesNotExistException", 400)
    group_id = ok(sandbox, "CreateDeploymentGroup", bg.group_kwargs(s))["deploymentGroupId"]
    group = ok(sandbox, "GetDeploymentGroup", {"applicationName": bg.APP, "deploymentGroupName": bg.GROUP})
    assert group["deploymentGroupInfo"]["deploymentGroupId"] == group_id
    bg.steady(s)

    revision = bg.revision(s)
    d = ok(sandbox, "CreateDeployment", {"applicationName": bg.APP, "deploymentGroupName": bg.GROUP,
                                         "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
                                         "revision": revision})["deploymentId"]
    assert error(sandbox, "CreateDeployment", {"applicationName": bg.APP, "deploymentGroupName": bg.GROUP,
                                               "revision": revision}) == ("DeploymentLimitExceededException", 400)
    assert error(sandbox, "GetDeployment", {"deploymentId": "d-AAAAAAAAA"}) == ("DeploymentDoesNotExistException", 400)

    def succeeded():
        info = ok(sandbox, "GetDeployment", {"deploymentId": d})["deploymentInfo"]
        assert info["status"] not in ("Failed", "Stopped"), info
        return info["status"] == "Succeeded" and info

    info = wait_for("the deployment to succeed (GetDeployment over CBOR)", succeeded, timeout=60)
    assert info["deploymentId"] == d and info["deploymentGroupName"] == bg.GROUP
    assert info["deploymentOverview"]["Succeeded"] == 1
    assert isinstance(info["createTime"], datetime.datetime) and info["completeTime"] >= info["createTime"]
    assert info["revision"]["appSpecContent"]["sha256"] == revision["appSpecContent"]["sha256"]
    assert bg.versions(s) == {(200, "v2")}
