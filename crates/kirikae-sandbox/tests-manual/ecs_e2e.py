#!/usr/bin/env python3
"""Hand-run end-to-end checks of the sandbox's ECS against a real `kirikae sandbox` process, through boto3.

    cargo build -p kirikae && python3 crates/kirikae-sandbox/tests-manual/ecs_e2e.py [-k NAME]

Each scenario starts its own sandbox (time scale 60). The CI suite lives in tests/python; this script
covers more of ECS's surface (rolling deployments, task sets, RunTask/StopTask, tags, errors).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import ClientError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KIRIKAE = os.environ.get("KIRIKAE_BIN", os.path.join(ROOT, "target", "debug", "kirikae"))
SCALE = 60
CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0sandbox"], "assignPublicIp": "DISABLED"}}


class Sandbox:
    def __enter__(self):
        self.proc = subprocess.Popen([KIRIKAE, "sandbox", "--listen", "127.0.0.1:0", "--time-scale", str(SCALE)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://"), self.url
        self.ecs = boto3.client("ecs", endpoint_url=self.url, **CREDS)
        self.elb = boto3.client("elbv2", endpoint_url=self.url, **CREDS)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)


def wait_for(what, check, timeout=45.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, KeyError, IndexError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def error_code(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError("expected an error")


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def register(ecs, family="web", tag="v1", env=()):
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": f"kirikae/demo:{tag}", "essential": True,
                               "portMappings": [{"containerPort": 80}],
                               "environment": [{"name": k, "value": v} for k, v in env]}])["taskDefinition"]


def stack(sb, name="web", env=(), controller="CODE_DEPLOY", desired=2, interval=5, dereg="10"):
    ecs, elb = sb.ecs, sb.elb
    ecs.create_cluster(clusterName="demo")
    tgs = []
    for color in ("blue", "green"):
        tg = elb.create_target_group(Name=f"{name}-{color}", Protocol="HTTP", Port=80, VpcId="vpc-1", TargetType="ip",
                                     HealthCheckPath="/health", HealthCheckIntervalSeconds=interval, HealthCheckTimeoutSeconds=2,
                                     HealthyThresholdCount=2, UnhealthyThresholdCount=2)["TargetGroups"][0]
        elb.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": dereg}])
        tgs.append(tg["TargetGroupArn"])
    lb = elb.create_load_balancer(Name=f"{name}-alb", Subnets=["s-1", "s-2"])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[0]}])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[1]}])
    td = register(ecs, family=name, env=env)
    svc = ecs.create_service(cluster="demo", serviceName=name, taskDefinition=td["taskDefinitionArn"],
                             desiredCount=desired, launchType="FARGATE", networkConfiguration=NETWORK,
                             deploymentController={"type": controller},
                             loadBalancers=[{"targetGroupArn": tgs[0], "containerName": "web", "containerPort": 80}])
    return {"blue": tgs[0], "green": tgs[1], "dns": lb["DNSName"], "td": td, "service": svc["service"]}


def service(ecs, name="web"):
    return ecs.describe_services(cluster="demo", services=[name], include=["TAGS"])["services"][0]


def live_tasks(ecs, name="web", status="RUNNING"):
    arns = ecs.list_tasks(cluster="demo", serviceName=name, desiredStatus=status)["taskArns"]
    return ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"] if arns else []


def pid_of(task_arn):
    needle = f"KIRIKAE_TASK_ARN={task_arn}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    return int(pid)
        except OSError:
            pass
    return None


# ---- scenarios ---------------------------------------------------------------------------------------

def test_code_deploy_service_reaches_steady_state(sb):
    s = stack(sb)
    ecs = sb.ecs
    assert s["service"]["taskSets"][0]["status"] == "PRIMARY"
    assert "startedBy" not in s["service"]["taskSets"][0]
    assert s["service"]["taskSets"][0]["id"].startswith("ecs-svc/") and len(s["service"]["taskSets"][0]["id"]) == 27

    def steady():
        svc = service(ecs)
        ts = svc["taskSets"][0]
        return ts["stabilityStatus"] == "STEADY_STATE" and ts["runningCount"] == 2 and svc
    svc = wait_for("STEADY_STATE", steady)
    assert svc["deployments"] == [] and svc["deploymentController"] == {"type": "CODE_DEPLOY"}
    msgs = [e["message"] for e in svc["events"]]
    assert msgs[0] == "(service web) has reached a steady state.", msgs
    assert any("has started 2 tasks" in m and "taskSet ecs-svc/" in m for m in msgs), msgs
    assert any("registered 2 targets in (target-group" in m for m in msgs), msgs
    tasks = live_tasks(ecs)
    t = tasks[0]
    assert t["group"] == "service:web" and t["startedBy"] == svc["taskSets"][0]["id"]
    assert t["attachments"][0]["type"] == "ElasticNetworkInterface"
    ip = [d["value"] for d in t["attachments"][0]["details"] if d["name"] == "privateIPv4Address"][0]
    assert t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] == ip
    assert http_get(f"http://{ip}:80/")[0] == 200
    assert json.loads(http_get(f"http://{s['dns']}:80/")[1])["version"] == "v1"
    # desiredCount rescales the PRIMARY task set.
    ecs.update_service(cluster="demo", service="web", desiredCount=3)
    wait_for("3 running", lambda: service(ecs)["taskSets"][0]["runningCount"] == 3)
    assert service(ecs)["taskSets"][0]["computedDesiredCount"] == 3
    ecs.update_service(cluster="demo", service="web", desiredCount=1)
    wait_for("1 running", lambda: service(ecs)["taskSets"][0]["runningCount"] == 1)
    assert any("has stopped 2 running tasks" in e["message"] for e in service(ecs)["events"])
    stopped = live_tasks(ecs, status="STOPPED")
    assert stopped and all(t["stopCode"] == "ServiceSchedulerInitiated" for t in stopped), stopped
    assert stopped[0]["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/")


def test_killed_task_is_replaced_with_exit_code(sb):
    stack(sb, desired=1)
    ecs = sb.ecs
    t = wait_for("a running task", lambda: [x for x in live_tasks(ecs) if x["lastStatus"] == "RUNNING"])[0]
    os.kill(wait_for("pid", lambda: pid_of(t["taskArn"])), signal.SIGKILL)
    dead = wait_for("stopped", lambda: ecs.describe_tasks(cluster="demo", tasks=[t["taskArn"]])["tasks"][0]["lastStatus"] == "STOPPED"
                    and ecs.describe_tasks(cluster="demo", tasks=[t["taskArn"]])["tasks"][0])
    assert dead["stopCode"] == "EssentialContainerExited", dead
    assert dead["stoppedReason"] == "Essential container in task exited", dead
    assert dead["containers"][0]["exitCode"] == 137
    for k in ("stoppingAt", "stoppedAt", "executionStoppedAt", "startedAt"):
        assert k in dead, k
    wait_for("replacement running", lambda: [x for x in live_tasks(ecs) if x["lastStatus"] == "RUNNING" and x["taskArn"] != t["taskArn"]])


def test_unhealthy_task_is_replaced(sb):
    s = stack(sb, desired=1, env=[("DEMO_HEALTH", "fail")])
    ecs = sb.ecs

    def failed():
        return [t for t in live_tasks(ecs, status="STOPPED") if "failed ELB health checks" in t.get("stoppedReason", "")]
    t = wait_for("a task stopped for health", failed)[0]
    assert t["stoppedReason"] == f"Task failed ELB health checks in (target-group {s['blue']})", t["stoppedReason"]
    assert t["stopCode"] == "ServiceSchedulerInitiated"
    msgs = [e["message"] for e in service(ecs)["events"]]
    assert any(m.startswith("(service web, taskSet ecs-svc/") and "failed ELB health checks in (target-group" in m for m in msgs), msgs
    wait_for("a replacement", lambda: [x for x in live_tasks(ecs) if x["taskArn"] != t["taskArn"]])
    assert service(ecs)["taskSets"][0]["stabilityStatus"] == "STABILIZING"


def test_task_sets_lifecycle(sb):
    s = stack(sb, desired=2)
    ecs, elb = sb.ecs, sb.elb
    wait_for("blue steady", lambda: service(ecs)["taskSets"][0]["stabilityStatus"] == "STEADY_STATE")
    blue = service(ecs)["taskSets"][0]
    td2 = register(ecs, tag="v2")
    green = ecs.create_task_set(cluster="demo", service="web", taskDefinition=td2["taskDefinitionArn"], externalId="d-TEST",
                                launchType="FARGATE", networkConfiguration=NETWORK,
                                loadBalancers=[{"targetGroupArn": s["green"], "containerName": "web", "containerPort": 80}])["taskSet"]
    assert green["status"] == "ACTIVE" and green["scale"] == {"value": 0.0, "unit": "PERCENT"}
    assert green["computedDesiredCount"] == 0 and green["externalId"] == "d-TEST" and green["startedBy"] == "CODE_DEPLOY"
    ecs.update_task_set(cluster="demo", service="web", taskSet=green["id"], scale={"value": 50, "unit": "PERCENT"})
    got = ecs.describe_task_sets(cluster="demo", service="web", taskSets=[green["taskSetArn"], "ecs-svc/1"])
    assert got["taskSets"][0]["computedDesiredCount"] == 1 and got["failures"][0]["reason"] == "MISSING"
    ecs.update_task_set(cluster="demo", service="web", taskSet=green["id"], scale={"value": 100, "unit": "PERCENT"})
    wait_for("green steady", lambda: ecs.describe_task_sets(cluster="demo", service="web", taskSets=[green["id"]])["taskSets"][0]["stabilityStatus"] == "STEADY_STATE")
    assert json.loads(http_get(f"http://{s['dns']}:8080/")[1])["version"] == "v2"
    assert service(ecs)["runningCount"] == 4
    primary = ecs.update_service_primary_task_set(cluster="demo", service="web", primaryTaskSet=green["taskSetArn"])["taskSet"]
    assert primary["status"] == "PRIMARY"
    svc = service(ecs)
    assert svc["taskDefinition"] == td2["taskDefinitionArn"]
    assert svc["loadBalancers"][0]["targetGroupArn"] == s["green"]
    assert {t["id"]: t["status"] for t in svc["taskSets"]} == {blue["id"]: "ACTIVE", green["id"]: "PRIMARY"}
    code, _ = error_code(ecs.delete_task_set, cluster="demo", service="web", taskSet=blue["id"])
    assert code == "InvalidParameterException"
    draining = ecs.delete_task_set(cluster="demo", service="web", taskSet=blue["id"], force=True)["taskSet"]
    assert draining["status"] == "DRAINING"
    wait_for("blue gone", lambda: [t["id"] for t in service(ecs)["taskSets"]] == [green["id"]], timeout=30)
    h = elb.describe_target_health(TargetGroupArn=s["blue"])["TargetHealthDescriptions"]
    assert h == [], h
    assert error_code(ecs.delete_task_set, cluster="demo", service="web", taskSet=blue["id"])[0] == "TaskSetNotFoundException"
    for _ in range(4):
        ecs.create_task_set(cluster="demo", service="web", taskDefinition=td2["taskDefinitionArn"], networkConfiguration=NETWORK)
    code, msg = error_code(ecs.create_task_set, cluster="demo", service="web", taskDefinition=td2["taskDefinitionArn"], networkConfiguration=NETWORK)
    assert code == "InvalidParameterException" and "5 deployments exist" in msg, msg


def test_ecs_controller_rolling_update(sb):
    ecs = sb.ecs
    s = stack(sb, controller="ECS", desired=2)
    svc = s["service"]
    assert "taskSets" not in svc and len(svc["deployments"]) == 1 and svc["deployments"][0]["status"] == "PRIMARY"
    wait_for("completed", lambda: service(ecs)["deployments"][0]["rolloutState"] == "COMPLETED")
    td2 = register(ecs, tag="v2")
    svc = ecs.update_service(cluster="demo", service="web", taskDefinition=td2["taskDefinitionArn"])["service"]
    assert [d["status"] for d in svc["deployments"]] == ["ACTIVE", "PRIMARY"], svc["deployments"]
    served = set()

    def rolled():
        st, body = http_get(f"http://{s['dns']}:80/")
        if st == 200:
            served.add(json.loads(body)["version"])
        d = service(ecs)["deployments"]
        return len(d) == 1 and d[0]["taskDefinition"] == td2["taskDefinitionArn"] and d[0]["rolloutState"] == "COMPLETED" and d
    d = wait_for("rollout complete", rolled, timeout=60)
    assert d[0]["runningCount"] == 2
    assert served >= {"v2"}, served
    msgs = [e["message"] for e in service(ecs)["events"]]
    assert any("deployment completed." in m for m in msgs), msgs
    assert json.loads(http_get(f"http://{s['dns']}:80/")[1])["version"] == "v2"
    # forceNewDeployment starts a new deployment of the same definition.
    svc = ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)["service"]
    assert len(svc["deployments"]) == 2


def test_circuit_breaker_rolls_back_a_failing_deployment(sb):
    ecs = sb.ecs
    ecs.create_cluster(clusterName="demo")
    good = register(ecs)
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition=good["taskDefinitionArn"], desiredCount=2,
                       launchType="FARGATE", networkConfiguration=NETWORK,
                       deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    wait_for("first rollout", lambda: service(ecs)["deployments"][0]["rolloutState"] == "COMPLETED")
    bad = ecs.register_task_definition(family="web", networkMode="awsvpc", cpu="256", memory="512",
                                       containerDefinitions=[{"name": "web", "image": "nginx:latest"}])["taskDefinition"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=bad["taskDefinitionArn"])

    def rolled_back():
        svc = service(ecs)
        d = svc["deployments"]
        return len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" and svc["taskDefinition"] == good["taskDefinitionArn"] and svc
    svc = wait_for("rollback", rolled_back, timeout=60)
    msgs = [e["message"] for e in svc["events"]]
    assert any("deployment failed: tasks failed to start." in m for m in msgs), msgs
    assert any("rolling back to deployment" in m for m in msgs), msgs
    assert svc["runningCount"] == 2


def test_run_task_and_stop_task(sb):
    ecs = sb.ecs
    ecs.create_cluster(clusterName="default")
    td = register(ecs, family="job")
    out = ecs.run_task(taskDefinition="job", count=2, networkConfiguration=NETWORK, launchType="FARGATE", startedBy="me",
                       overrides={"containerOverrides": [{"name": "web", "environment": [{"name": "X", "value": "1"}]}]})
    assert len(out["tasks"]) == 2 and out["tasks"][0]["lastStatus"] == "PROVISIONING"
    assert out["tasks"][0]["group"] == "family:job"
    arn = out["tasks"][0]["taskArn"]
    assert arn.startswith("arn:aws:ecs:us-east-1:000000000000:task/default/")
    wait_for("running", lambda: ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING")
    assert len(ecs.list_tasks(startedBy="me")["taskArns"]) == 2
    assert len(ecs.list_tasks(family="job")["taskArns"]) == 2
    t = ecs.stop_task(task=arn, reason="enough")["task"]
    assert t["desiredStatus"] == "STOPPED" and t["stoppedReason"] == "enough" and t["stopCode"] == "UserInitiated"
    seen = set()

    def stopped():
        x = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        seen.add(x["lastStatus"])
        return x["lastStatus"] == "STOPPED" and x
    x = wait_for("stopped", stopped)
    assert x["containers"][0]["exitCode"] == 143, x["containers"]
    assert "STOPPING" in seen or "DEPROVISIONING" in seen, seen
    assert arn in ecs.list_tasks(desiredStatus="STOPPED")["taskArns"]
    assert ecs.describe_tasks(tasks=["nope"])["failures"][0]["reason"] == "MISSING"
    # An image the runtime cannot run fails to start.
    ecs.register_task_definition(family="bad", networkMode="awsvpc", cpu="256", memory="512",
                                 containerDefinitions=[{"name": "x", "image": "nginx:latest"}])
    bad = ecs.run_task(taskDefinition="bad", networkConfiguration=NETWORK)["tasks"][0]["taskArn"]
    b = wait_for("failed", lambda: ecs.describe_tasks(tasks=[bad])["tasks"][0]["lastStatus"] == "STOPPED" and ecs.describe_tasks(tasks=[bad])["tasks"][0])
    assert b["stopCode"] == "TaskFailedToStart" and "CannotPullContainerError" in b["stoppedReason"], b


def test_task_definitions(sb):
    ecs = sb.ecs
    a = register(ecs)
    b = register(ecs, tag="v2")
    assert (a["revision"], b["revision"]) == (1, 2) and b["taskDefinitionArn"].endswith(":task-definition/web:2")
    assert a["compatibilities"] == ["EC2", "FARGATE"] and a["status"] == "ACTIVE" and "registeredAt" in a
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 2
    d = ecs.deregister_task_definition(taskDefinition="web:2")["taskDefinition"]
    assert d["status"] == "INACTIVE" and "deregisteredAt" in d
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 1
    assert ecs.describe_task_definition(taskDefinition=b["taskDefinitionArn"])["taskDefinition"]["status"] == "INACTIVE"
    assert error_code(ecs.describe_task_definition, taskDefinition="nope") == ("ClientException", "Unable to describe task definition.")
    assert ecs.list_task_definitions()["taskDefinitionArns"] == [a["taskDefinitionArn"]]
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [b["taskDefinitionArn"]]
    assert ecs.list_task_definition_families()["families"] == ["web"]
    out = ecs.delete_task_definitions(taskDefinitions=["web:2", "web:1"])
    assert out["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS" and len(out["failures"]) == 1
    # What clients feed back into RegisterTaskDefinition is accepted.
    again = dict(ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"])
    for k in ("compatibilities", "taskDefinitionArn", "requiresAttributes", "revision", "status", "registeredAt", "registeredBy"):
        again.pop(k, None)
    assert ecs.register_task_definition(**again)["taskDefinition"]["revision"] == 3


def test_clusters_and_tags(sb):
    ecs = sb.ecs
    c = ecs.create_cluster(clusterName="a", tags=[{"key": "team", "value": "x"}])["cluster"]
    assert ecs.create_cluster(clusterName="a")["cluster"]["clusterArn"] == c["clusterArn"]
    d = ecs.describe_clusters(clusters=["a", "b"], include=["TAGS"])
    assert d["clusters"][0]["tags"] == [{"key": "team", "value": "x"}] and d["failures"][0]["reason"] == "MISSING"
    ecs.tag_resource(resourceArn=c["clusterArn"], tags=[{"key": "env", "value": "dev"}])
    ecs.untag_resource(resourceArn=c["clusterArn"], tagKeys=["team"])
    assert ecs.list_tags_for_resource(resourceArn=c["clusterArn"])["tags"] == [{"key": "env", "value": "dev"}]
    assert ecs.list_clusters()["clusterArns"] == [c["clusterArn"]]
    assert ecs.delete_cluster(cluster="a")["cluster"]["status"] == "INACTIVE"
    assert ecs.list_clusters()["clusterArns"] == []
    assert ecs.describe_clusters(clusters=["a"])["clusters"][0]["status"] == "INACTIVE"
    assert error_code(ecs.list_services)[0] == "ClusterNotFoundException"  # no default cluster


def test_errors(sb):
    ecs = sb.ecs
    s = stack(sb, desired=1)
    td = s["td"]["taskDefinitionArn"]
    cases = [
        (lambda: ecs.describe_services(cluster="nope", services=["web"]), "ClusterNotFoundException"),
        (lambda: ecs.update_service(cluster="demo", service="ghost", desiredCount=1), "ServiceNotFoundException"),
        (lambda: ecs.create_service(cluster="demo", serviceName="web", taskDefinition=td, desiredCount=1), "InvalidParameterException"),
        (lambda: ecs.create_service(cluster="demo", serviceName="x", taskDefinition=td, desiredCount=1, launchType="MAINFRAME"), "InvalidParameterException"),
        (lambda: ecs.create_service(cluster="demo", serviceName="x", taskDefinition="nope:1", desiredCount=1), "ClientException"),
        (lambda: ecs.create_service(cluster="demo", serviceName="x", taskDefinition=td, desiredCount=1), "InvalidParameterException"),
        (lambda: ecs.create_service(cluster="demo", serviceName="x", taskDefinition=td, desiredCount=1, networkConfiguration=NETWORK,
                                    loadBalancers=[{"targetGroupArn": s["blue"].replace("web-blue", "ghost"), "containerName": "web", "containerPort": 80}]), "InvalidParameterException"),
        (lambda: ecs.create_service(cluster="demo", serviceName="x", taskDefinition=td, desiredCount=1, networkConfiguration=NETWORK,
                                    loadBalancers=[{"targetGroupArn": s["blue"], "containerName": "api", "containerPort": 80}]), "InvalidParameterException"),
        (lambda: ecs.update_service(cluster="demo", service="web", taskDefinition=td), "InvalidParameterException"),
        (lambda: ecs.update_service(cluster="demo", service="web", loadBalancers=[]), "InvalidParameterException"),
        (lambda: ecs.update_service(cluster="demo", service="web", forceNewDeployment=True), "InvalidParameterException"),
        (lambda: ecs.update_task_set(cluster="demo", service="web", taskSet="ecs-svc/1", scale={"value": 1, "unit": "PERCENT"}), "TaskSetNotFoundException"),
        (lambda: ecs.stop_task(cluster="demo", task="0" * 32), "InvalidParameterException"),
        (lambda: ecs.delete_service(cluster="demo", service="web"), "InvalidParameterException"),
        (lambda: ecs.list_tasks(cluster="demo", serviceName="ghost"), "ServiceNotFoundException"),
        (lambda: ecs.tag_resource(resourceArn="arn:aws:ecs:us-east-1:000000000000:service/demo/ghost", tags=[{"key": "a", "value": "b"}]), "ResourceNotFoundException"),
    ]
    for i, (call, want) in enumerate(cases):
        code, msg = error_code(call)
        assert code == want, (i, code, msg)
    code, msg = error_code(ecs.update_service, cluster="demo", service="web", taskDefinition=td)
    assert msg == "Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."
    missing = ecs.describe_services(cluster="demo", services=["ghost"])
    assert missing["failures"] == [{"arn": "arn:aws:ecs:us-east-1:000000000000:service/demo/ghost", "reason": "MISSING"}]
    # Delete drains the service; a deleted service stays describable as INACTIVE.
    assert ecs.delete_service(cluster="demo", service="web", force=True)["service"]["status"] == "DRAINING"
    wait_for("inactive", lambda: service(ecs)["status"] == "INACTIVE", timeout=30)
    assert ecs.list_services(cluster="demo")["serviceArns"] == []
    assert live_tasks(ecs) == []


def test_codedeploy_blue_green_through_ecs_task_sets(sb):
    """CodeDeploy drives the service through ECS's task set APIs: green set, traffic switch, blue drained."""
    s = stack(sb, desired=2)
    ecs = sb.ecs
    cd = boto3.client("codedeploy", endpoint_url=sb.url, **CREDS)
    wait_for("blue steady", lambda: service(ecs)["taskSets"][0]["stabilityStatus"] == "STEADY_STATE")
    blue_set = service(ecs)["taskSets"][0]["id"]
    listeners = sb.elb.describe_listeners(LoadBalancerArn=sb.elb.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"])["Listeners"]
    prod = [l["ListenerArn"] for l in listeners if l["Port"] == 80]
    test = [l["ListenerArn"] for l in listeners if l["Port"] == 8080]
    cd.create_application(applicationName="app", computePlatform="ECS")
    cd.create_deployment_group(
        applicationName="app", deploymentGroupName="dg", serviceRoleArn="arn:aws:iam::000000000000:role/ecsCodeDeployRole",
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 0},
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"}},
        ecsServices=[{"serviceName": "web", "clusterName": "demo"}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
            "prodTrafficRoute": {"listenerArns": prod}, "testTrafficRoute": {"listenerArns": test}}]})
    td2 = register(ecs, tag="v2")
    appspec = {"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
        "TaskDefinition": td2["taskDefinitionArn"],
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]}
    dep = cd.create_deployment(applicationName="app", deploymentGroupName="dg", revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(appspec)}})["deploymentId"]
    wait_for("deployment succeeded", lambda: cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "Succeeded", timeout=90)
    svc = service(ecs)
    assert svc["taskDefinition"] == td2["taskDefinitionArn"], svc["taskDefinition"]
    assert {t["id"]: t["status"] for t in svc["taskSets"]}.get(blue_set) in (None, "DRAINING"), svc["taskSets"]
    svc = wait_for("blue set gone", lambda: len(service(ecs)["taskSets"]) == 1 and service(ecs), timeout=30)
    assert svc["taskSets"][0]["status"] == "PRIMARY" and svc["taskSets"][0]["id"] != blue_set
    assert svc["taskSets"][0]["startedBy"] == "CODE_DEPLOY" and svc["taskSets"][0]["externalId"] == dep
    assert svc["loadBalancers"][0]["targetGroupArn"] == s["green"]
    assert json.loads(http_get(f"http://{s['dns']}:80/")[1])["version"] == "v2"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="")
    args = ap.parse_args()
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and args.k in n]
    failed = 0
    for name, fn in tests:
        start = time.monotonic()
        try:
            with Sandbox() as sb:
                fn(sb)
            print(f"ok   {name} ({time.monotonic() - start:.1f}s)")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"{len(tests) - failed}/{len(tests)} passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
