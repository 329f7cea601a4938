"""Issue 2's main scenario through boto3: a CODE_DEPLOY service with two demo tasks behind an ALB."""
from conftest import wait_for
from stack import build, http_get, version_of


def steady_primary(ecs):
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    sets = svc["taskSets"]
    assert len(sets) == 1 and sets[0]["status"] == "PRIMARY", sets
    return sets[0]["stabilityStatus"] == "STEADY_STATE" and sets[0]["runningCount"] == 2 and svc


def test_code_deploy_service_serves_v1_through_the_listener(sandbox):
    s = build(sandbox)
    ecs, elb = s["ecs"], s["elb"]
    svc = wait_for("PRIMARY task set in STEADY_STATE with 2 running tasks", lambda: steady_primary(ecs))

    # As on AWS, a CODE_DEPLOY service reports through taskSets, not deployments.
    assert svc["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert svc["deployments"] == []
    assert svc["runningCount"] == 2
    ts = svc["taskSets"][0]
    assert ts["computedDesiredCount"] == 2
    assert ts["taskDefinition"] == s["td"]["taskDefinitionArn"]
    assert ts["loadBalancers"][0]["targetGroupArn"] == s["blue"]["TargetGroupArn"]

    # Two healthy ip targets: the tasks' own addresses on the container port.
    health = elb.describe_target_health(TargetGroupArn=s["blue"]["TargetGroupArn"])["TargetHealthDescriptions"]
    assert len(health) == 2
    assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}
    tasks = ecs.describe_tasks(cluster="demo", tasks=ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"])["tasks"]
    ips = {t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] for t in tasks}
    assert {h["Target"]["Id"] for h in health} == ips
    assert {h["Target"]["Port"] for h in health} == {80}
    assert all(t["lastStatus"] == "RUNNING" for t in tasks)

    # The production listener really serves the demo app, from both tasks.
    seen_tasks = set()
    for _ in range(20):
        status, body = http_get(f"http://{s['dns']}:80/")
        assert status == 200, body
        assert version_of(body) == "v1"
        seen_tasks.add(body)
    assert len(seen_tasks) == 2, "requests should be spread over both healthy targets"

    # The test listener points at the (empty) green group: no healthy target, so 503 like an ALB.
    status, _ = http_get(f"http://{s['dns']}:8080/")
    assert status == 503
