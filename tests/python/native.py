"""ECS-native Blue/Green helpers shared by the test_ecs_native_* suites: a service with the ECS deployment
controller and the BLUE_GREEN / LINEAR / CANARY strategy over stack.py's infrastructure (the production
and test listeners' default rules forward to both target groups, weights 1/0), and what a test observes
(service deployments, listener rule weights, the version each listener serves)."""
import stack
from conftest import wait_for

ROLE = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers"
HOOK_ROLE = ROLE
COMPLETED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
STAGES = ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
          "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]


def default_rule(elb, listener_arn):
    rules = elb.describe_rules(ListenerArn=listener_arn)["Rules"]
    return next(r for r in rules if r["IsDefault"])["RuleArn"]


def both(blue, green, blue_weight=1, green_weight=0):
    """A forward action over the pair, as AWS's migration guide sets it up (serving group weight 1)."""
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue["TargetGroupArn"], "Weight": blue_weight},
        {"TargetGroupArn": green["TargetGroupArn"], "Weight": green_weight}]}}]


def deployment_configuration(strategy="BLUE_GREEN", bake=1, hooks=None, **extra):
    dc = {"strategy": strategy, "bakeTimeInMinutes": bake, "maximumPercent": 200, "minimumHealthyPercent": 100}
    if hooks:
        dc["lifecycleHooks"] = hooks
    dc.update(extra)
    return dc


def build(sb, desired=2, dc=None, test_listener=True, name="web", hc=None):
    """A cluster, two ip target groups, an ALB with production (80) and test (8080) listeners whose
    default rules forward to both groups (1/0), and a v1 service with the ECS controller and `dc`."""
    ecs, elb = sb.client("ecs"), sb.client("elbv2")
    ecs.create_cluster(clusterName="demo")
    blue = stack.target_group(elb, f"{name}-blue", **(hc or {}))
    green = stack.target_group(elb, f"{name}-green", **(hc or {}))
    for tg in (blue, green):  # deleted tasks drain quickly (AWS's default is 300 s)
        elb.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "20"}])
    lb = elb.create_load_balancer(Name=f"{name}-alb", Subnets=["subnet-0sandbox", "subnet-1sandbox"],
                                  Type="application", Scheme="internet-facing")["LoadBalancers"][0]
    prod = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                               DefaultActions=both(blue, green))["Listeners"][0]
    test = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
                               DefaultActions=both(blue, green))["Listeners"][0]
    advanced = {"alternateTargetGroupArn": green["TargetGroupArn"],
                "productionListenerRule": default_rule(elb, prod["ListenerArn"]), "roleArn": ROLE}
    if test_listener:
        advanced["testListenerRule"] = default_rule(elb, test["ListenerArn"])
    td = stack.register_demo(ecs, family=name)
    s = {"ecs": ecs, "elb": elb, "blue": blue, "green": green, "lb": lb, "dns": lb["DNSName"], "prod": prod,
         "test": test, "td": td, "advanced": advanced, "name": name}
    s["service"] = ecs.create_service(
        cluster="demo", serviceName=name, taskDefinition=td["taskDefinitionArn"], desiredCount=desired,
        launchType="FARGATE", networkConfiguration=stack.NETWORK, deploymentController={"type": "ECS"},
        deploymentConfiguration=dc or deployment_configuration(),
        loadBalancers=[{"targetGroupArn": blue["TargetGroupArn"], "containerName": "web", "containerPort": 80,
                        "advancedConfiguration": advanced}],
    )["service"]
    return s


def deployments(s):
    """ListServiceDeployments, newest first."""
    return s["ecs"].list_service_deployments(cluster="demo", service=s["name"])["serviceDeployments"]


def describe(s, arn):
    return s["ecs"].describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def wait_status(s, arn, wanted, timeout=60):
    """Wait for a service deployment to reach `wanted`; fail at once if it completes otherwise."""
    def check():
        d = describe(s, arn)
        assert d["status"] == wanted or d["status"] not in COMPLETED, \
            f"service deployment ended {d['status']} ({d.get('statusReason')}), expected {wanted}"
        return d if d["status"] == wanted else None
    return wait_for(f"service deployment to be {wanted}", check, timeout=timeout)


def serving(s, desired=2, version="v1"):
    """Wait for the newest service deployment to succeed and production to serve `version`."""
    arn = deployments(s)[0]["serviceDeploymentArn"]
    wait_status(s, arn, "SUCCESSFUL")
    wait_for(f"production to serve {version}", lambda: served(s) == (200, version), timeout=30)
    return arn


def update(s, tag="v2", env=()):
    """UpdateService to a new task definition serving `tag`; returns the new service deployment's ARN
    (the newest one ListServiceDeployments shows)."""
    td = stack.register_demo(s["ecs"], family=s["name"], tag=tag, env=env)
    before = {d["serviceDeploymentArn"] for d in deployments(s)}
    svc = s["ecs"].update_service(cluster="demo", service=s["name"], taskDefinition=td["taskDefinitionArn"])["service"]
    new = [d for d in deployments(s) if d["serviceDeploymentArn"] not in before]
    assert len(new) == 1, new
    assert svc["currentServiceDeployment"] == new[0]["serviceDeploymentArn"]
    return new[0]["serviceDeploymentArn"]


def rule_weights(s, listener="prod"):
    """{target group name: weight} of a listener's default rule, as DescribeRules shows it."""
    rules = s["elb"].describe_rules(ListenerArn=s[listener]["ListenerArn"])["Rules"]
    action = next(r for r in rules if r["IsDefault"])["Actions"][0]
    names = {s["blue"]["TargetGroupArn"]: "blue", s["green"]["TargetGroupArn"]: "green"}
    groups = action.get("ForwardConfig", {}).get("TargetGroups") or [{"TargetGroupArn": action["TargetGroupArn"]}]
    return {names[g["TargetGroupArn"]]: g.get("Weight", 1) for g in groups}


def served(s, port=80):
    """(status, version) of one request through a listener of the stack's load balancer."""
    st, body = stack.http_get(f"http://{s['dns']}:{port}/")
    return st, (stack.version_of(body) if st == 200 else body)


def service(s):
    return s["ecs"].describe_services(cluster="demo", services=[s["name"]])["services"][0]


def awaiting_hook(s, arn, stage_hint=None):
    """Wait for a PAUSE hook AWAITING_ACTION; returns (deployment, hook detail)."""
    def check():
        d = describe(s, arn)
        assert d["status"] not in COMPLETED, d
        hooks = [h for h in d.get("lifecycleHookDetails", []) if h["status"] == "AWAITING_ACTION"]
        return (d, hooks[0]) if hooks else None
    return wait_for(f"a PAUSE hook awaiting action{f' at {stage_hint}' if stage_hint else ''}", check, timeout=60)


def configure(s, dc):
    """UpdateService with a new deployment configuration only (no new deployment): the next one uses it."""
    s["ecs"].update_service(cluster="demo", service=s["name"], deploymentConfiguration=dc)
