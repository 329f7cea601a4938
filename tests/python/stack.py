"""The infrastructure every scenario starts from, built through boto3 as a user would:
a cluster, two ip target groups (blue/green), an ALB with a production (80) and a test (8080)
listener, a task definition for kirikae/demo, and a CODE_DEPLOY service behind the blue group."""
import json
import urllib.error
import urllib.request

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0sandbox"], "securityGroups": ["sg-0sandbox"],
                                   "assignPublicIp": "DISABLED"}}


def target_group(elb, name, interval=5, healthy=2, unhealthy=2, timeout=2):
    return elb.create_target_group(
        Name=name, Protocol="HTTP", Port=80, VpcId="vpc-0sandbox", TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=interval, HealthCheckTimeoutSeconds=timeout,
        HealthyThresholdCount=healthy, UnhealthyThresholdCount=unhealthy,
    )["TargetGroups"][0]


def register_demo(ecs, family="web", tag="v1", env=()):
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{
            "name": "web", "image": f"kirikae/demo:{tag}", "essential": True,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in env],
        }],
    )["taskDefinition"]


def build(sb, desired=2, env=(), controller="CODE_DEPLOY", name="web", hc=None):
    """`hc`: health-check settings for both target groups (target_group's keyword arguments)."""
    ecs, elb = sb.client("ecs"), sb.client("elbv2")
    ecs.create_cluster(clusterName="demo")
    blue = target_group(elb, f"{name}-blue", **(hc or {}))
    green = target_group(elb, f"{name}-green", **(hc or {}))
    lb = elb.create_load_balancer(Name=f"{name}-alb", Subnets=["subnet-0sandbox", "subnet-1sandbox"],
                                  Type="application", Scheme="internet-facing")["LoadBalancers"][0]
    prod = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                               DefaultActions=[{"Type": "forward", "TargetGroupArn": blue["TargetGroupArn"]}])
    test = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
                               DefaultActions=[{"Type": "forward", "TargetGroupArn": green["TargetGroupArn"]}])
    td = register_demo(ecs, family=name, env=env)
    svc = ecs.create_service(
        cluster="demo", serviceName=name, taskDefinition=td["taskDefinitionArn"], desiredCount=desired,
        launchType="FARGATE", networkConfiguration=NETWORK, deploymentController={"type": controller},
        loadBalancers=[{"targetGroupArn": blue["TargetGroupArn"], "containerName": "web", "containerPort": 80}],
    )["service"]
    return {
        "ecs": ecs, "elb": elb, "blue": blue, "green": green, "lb": lb, "dns": lb["DNSName"],
        "prod": prod["Listeners"][0], "test": test["Listeners"][0], "td": td, "service": svc,
    }


def http_get(url, timeout=5):
    """GET a URL; returns (status, body) and never raises on HTTP error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def version_of(body):
    return json.loads(body)["version"]
