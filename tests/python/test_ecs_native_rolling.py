"""Rolling updates are service deployments too: ListServiceDeployments finds the one an UpdateService
created, IN_PROGRESS until the new tasks have replaced the old ones (SUCCESSFUL); the circuit breaker's
rollback and StopServiceDeployment(ROLLBACK) end ROLLBACK_SUCCESSFUL with production back on the old
revision."""
import native
import stack
from conftest import wait_for


def rolling_service(sb, breaker=False):
    """A ROLLING service of two v1 tasks behind the production listener (blue group)."""
    ecs, elb = sb.client("ecs"), sb.client("elbv2")
    ecs.create_cluster(clusterName="demo")
    blue = stack.target_group(elb, "web-blue")
    elb.modify_target_group_attributes(TargetGroupArn=blue["TargetGroupArn"], Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    lb = elb.create_load_balancer(Name="web-alb", Subnets=["subnet-0sandbox", "subnet-1sandbox"])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": blue["TargetGroupArn"]}])
    td = stack.register_demo(ecs, family="web")
    dc = {"maximumPercent": 200, "minimumHealthyPercent": 100,
          "deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker}}
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition=td["taskDefinitionArn"], desiredCount=2,
                       launchType="FARGATE", networkConfiguration=stack.NETWORK, deploymentConfiguration=dc,
                       loadBalancers=[{"targetGroupArn": blue["TargetGroupArn"], "containerName": "web",
                                       "containerPort": 80}])
    return {"ecs": ecs, "elb": elb, "dns": lb["DNSName"], "name": "web", "blue": blue}


def test_a_rolling_update_is_a_service_deployment(sandbox):
    s = rolling_service(sandbox)
    first = native.serving(s)
    arn = native.update(s, "v2")
    d = native.wait_status(s, arn, "SUCCESSFUL")
    assert [r["arn"] for r in d["sourceServiceRevisions"]] == [native.describe(s, first)["targetServiceRevision"]["arn"]]
    assert d["deploymentConfiguration"].get("strategy", "ROLLING") == "ROLLING"
    assert "requestedProductionTrafficWeight" not in d["targetServiceRevision"]
    wait_for("v2 only", lambda: {native.served(s) for _ in range(10)} == {(200, "v2")})
    revisions = native.service(s)["currentServiceRevisions"]
    assert [r["arn"] for r in revisions] == [d["targetServiceRevision"]["arn"]]


def test_the_circuit_breaker_and_stop_roll_a_rolling_update_back(sandbox):
    s = rolling_service(sandbox, breaker=True)
    native.serving(s)
    arn = native.update(s, "v2", env=[("DEMO_CRASH_AFTER", "0")])
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL", timeout=90)
    assert "circuit breaker" in d["statusReason"], d

    # A healthy v3 that is stopped with rollback while it rolls out.
    arn3 = native.update(s, "v3")
    s["ecs"].stop_service_deployment(serviceDeploymentArn=arn3, stopType="ROLLBACK")
    d3 = native.wait_status(s, arn3, "ROLLBACK_SUCCESSFUL", timeout=60)
    assert d3["rollback"]["serviceRevisionArn"] == d3["sourceServiceRevisions"][0]["arn"]
    wait_for("v1 only", lambda: {native.served(s) for _ in range(10)} == {(200, "v1")})
    assert native.service(s)["taskDefinition"].endswith("web:1")


def test_a_deployment_alarm_rolls_a_rolling_update_back(sandbox):
    cw = sandbox.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="web-5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold")
    s = rolling_service(sandbox)
    native.serving(s)
    s["ecs"].update_service(cluster="demo", service="web", deploymentConfiguration={
        "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}})
    # v2 takes ten (AWS) minutes to listen: the update is still rolling out when the alarm fires.
    arn = native.update(s, "v2", env=[("DEMO_START_DELAY", "600")])
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="test")
    d = native.wait_status(s, arn, "ROLLBACK_SUCCESSFUL", timeout=60)
    assert d["alarms"]["triggeredAlarmNames"] == ["web-5xx"] and "web-5xx" in d["statusReason"], d
    wait_for("v1 only", lambda: {native.served(s) for _ in range(10)} == {(200, "v1")})
    assert native.service(s)["taskDefinition"].endswith("web:1")
