"""CodeDeploy Blue/Green helpers shared by the test_codedeploy_* suites: an ECS application and deployment
group over stack.build's infrastructure, AppSpec revisions, and what a test observes (deployment and
target state, listener weights, the version each listener serves, the service's task sets)."""
import hashlib
import json

import stack
from conftest import wait_for

ROLE = "arn:aws:iam::000000000000:role/ecsCodeDeployRole"
APP, GROUP = "app", "dg"
TERMINAL = ("Succeeded", "Failed", "Stopped")


def steady(s, desired=2):
    """Wait until the service's only task set is PRIMARY, steady, and the production listener serves it."""
    def check():
        sets = s["ecs"].describe_services(cluster="demo", services=["web"])["services"][0]["taskSets"]
        return (len(sets) == 1 and sets[0]["status"] == "PRIMARY" and sets[0]["stabilityStatus"] == "STEADY_STATE"
                and sets[0]["runningCount"] == desired and version(s) == (200, "v1"))
    wait_for("the original task set to serve production", check, timeout=60)


def group_kwargs(s, ready_wait=None, termination_wait=0, config=None, rollback_events=None, alarms=None,
                 test_listener=True):
    """CreateDeploymentGroup arguments for the stack's service (ECS Blue/Green with traffic control)."""
    bg = {"terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                        "terminationWaitTimeInMinutes": termination_wait}}
    if ready_wait is not None:
        bg["deploymentReadyOption"] = {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": ready_wait}
    pair = {"targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
            "prodTrafficRoute": {"listenerArns": [s["prod"]["ListenerArn"]]}}
    if test_listener:
        pair["testTrafficRoute"] = {"listenerArns": [s["test"]["ListenerArn"]]}
    kw = dict(
        applicationName=APP, deploymentGroupName=GROUP, serviceRoleArn=ROLE,
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        blueGreenDeploymentConfiguration=bg,
        loadBalancerInfo={"targetGroupPairInfoList": [pair]},
        ecsServices=[{"serviceName": "web", "clusterName": "demo"}],
    )
    if config:
        kw["deploymentConfigName"] = config
    if rollback_events:
        kw["autoRollbackConfiguration"] = {"enabled": True, "events": rollback_events}
    if alarms:
        kw["alarmConfiguration"] = {"enabled": True, "alarms": [{"name": a} for a in alarms]}
    return kw


def quick_drain(s, seconds=30):
    """A short deregistration delay on both groups (AWS's default is 300 s): deleted task sets drain and
    disappear sooner, which keeps the suite fast."""
    for tg in ("blue", "green"):
        s["elb"].modify_target_group_attributes(
            TargetGroupArn=s[tg]["TargetGroupArn"],
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(seconds)}])


def setup(sb, desired=2, hc=None, **group):
    """stack.build, the service serving v1, an ECS application and a deployment group over it."""
    s = stack.build(sb, desired=desired, hc=hc)
    quick_drain(s)
    cd = sb.client("codedeploy")
    cd.create_application(applicationName=APP, computePlatform="ECS")
    cd.create_deployment_group(**group_kwargs(s, **group))
    s["cd"] = cd
    steady(s, desired)
    return s


def revision(s, tag="v2", env=(), hooks=None):
    """Register a demo task definition serving `tag` and return an AppSpecContent revision for it."""
    td = stack.register_demo(s["ecs"], family="web", tag=tag, env=env)
    spec = {"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
        "TaskDefinition": td["taskDefinitionArn"],
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]}
    if hooks:
        spec["Hooks"] = [{event: fn} for event, fn in hooks.items()]
    content = json.dumps(spec)
    return {"revisionType": "AppSpecContent",
            "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}}


def deploy(s, tag="v2", env=(), hooks=None, **kw):
    """CreateDeployment of a new revision; returns the deployment id."""
    return s["cd"].create_deployment(applicationName=APP, deploymentGroupName=GROUP,
                                     revision=revision(s, tag, env, hooks), **kw)["deploymentId"]


def info(s, d):
    return s["cd"].get_deployment(deploymentId=d)["deploymentInfo"]


def status(s, d):
    return info(s, d)["status"]


def wait_status(s, d, wanted, timeout=60):
    """Wait for a deployment to reach `wanted`; fail at once if it ends in another status."""
    def check():
        st = status(s, d)
        assert st == wanted or st not in TERMINAL, f"deployment {d} ended {st}, expected {wanted}: {info(s, d)}"
        return st == wanted
    wait_for(f"deployment {d} to be {wanted}", check, timeout=timeout)
    return info(s, d)


def wait_successful(s, d, max_attempts=60):
    """boto3's own `deployment_successful` waiter. Delay=1 (AWS's default is 15 s) keeps CI fast at the
    fixtures' time scale; it raises WaiterError when the deployment fails or stops."""
    s["cd"].get_waiter("deployment_successful").wait(
        deploymentId=d, WaiterConfig={"Delay": 1, "MaxAttempts": max_attempts})


def target(s, d):
    """The deployment's one ECS target (id `<cluster>:<service>`)."""
    return s["cd"].get_deployment_target(deploymentId=d, targetId="demo:web")["deploymentTarget"]["ecsTarget"]


def events(s, d):
    return {e["lifecycleEventName"]: e for e in target(s, d)["lifecycleEvents"]}


def green_weight(s, listener="prod"):
    """The percentage the listener's default forward gives the green target group, as DescribeListeners
    shows it (a plain forward to one group counts as 100 for that group)."""
    action = s["elb"].describe_listeners(ListenerArns=[s[listener]["ListenerArn"]])["Listeners"][0]["DefaultActions"][0]
    groups = action.get("ForwardConfig", {}).get("TargetGroups")
    if not groups:
        return 100 if action["TargetGroupArn"] == s["green"]["TargetGroupArn"] else 0
    weights = {g["TargetGroupArn"]: g.get("Weight", 1) for g in groups}
    total = sum(weights.values())
    return round(100 * weights.get(s["green"]["TargetGroupArn"], 0) / total) if total else 0


def version(s, port=80):
    """(status, version) served by one request through a listener of the stack's load balancer."""
    st, body = stack.http_get(f"http://{s['dns']}:{port}/")
    return st, (stack.version_of(body) if st == 200 else body)


def versions(s, port=80, n=20):
    """The set of (status, version) answers to n requests: {(200, "v1")} when only v1 serves."""
    return {version(s, port) for _ in range(n)}


def task_sets(s):
    """The service's task sets as (status, task definition family:revision, externalId)."""
    svc = s["ecs"].describe_services(cluster="demo", services=["web"])["services"][0]
    return sorted((t["status"], t["taskDefinition"].split("/")[-1], t.get("externalId"))
                  for t in svc["taskSets"])


def wait_only_primary(s, td, timeout=30):
    """Wait until the service has exactly one task set, PRIMARY on `td` (deleted ones drain, then go)."""
    return wait_for(f"only a PRIMARY task set on {td}",
                    lambda: [(st, t) for st, t, _ in task_sets(s)] == [("PRIMARY", td)], timeout=timeout)


def epoch(ts):
    """A boto3 timestamp (datetime) as epoch seconds."""
    return ts.timestamp()
