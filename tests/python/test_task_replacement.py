"""Tasks that fail health checks or die are replaced, and the listener never routes to them."""
import os
import signal

from conftest import wait_for
from stack import build, http_get


def service_tasks(ecs, desired_status="RUNNING"):
    arns = ecs.list_tasks(cluster="demo", serviceName="web", desiredStatus=desired_status)["taskArns"]
    return ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"] if arns else []


def pid_of_task(task_arn):
    """The demo app's process, found by the task ARN the sandbox puts in its environment."""
    needle = f"KIRIKAE_TASK_ARN={task_arn}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    return int(pid)
        except OSError:
            continue
    return None


def test_unhealthy_task_is_replaced_and_the_listener_fails_open_meanwhile(sandbox):
    s = build(sandbox, desired=1, env=[("DEMO_HEALTH", "fail")])
    ecs, elb, tg = s["ecs"], s["elb"], s["blue"]["TargetGroupArn"]

    def unhealthy():
        health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return [h for h in health if h["TargetHealth"]["State"] == "unhealthy"]

    bad = wait_for("a target to turn unhealthy", unhealthy)
    assert bad[0]["TargetHealth"]["Reason"] == "Target.ResponseCodeMismatch"
    # Like an ALB, a group whose every target fails its health checks "fails open": the unhealthy
    # task still answers rather than the listener returning 503.
    for _ in range(5):
        status, body = http_get(f"http://{s['dns']}:80/")
        assert status == 200, body

    def stopped_for_health():
        stopped = service_tasks(ecs, "STOPPED")
        return [t for t in stopped if "health checks" in t.get("stoppedReason", "")]

    replaced = wait_for("the unhealthy task to be stopped for failing ELB health checks", stopped_for_health)
    assert replaced[0]["desiredStatus"] == "STOPPED"
    # …and replaced by a new task.
    wait_for("a replacement task", lambda: [t for t in service_tasks(ecs) if t["taskArn"] != replaced[0]["taskArn"]])
    events = ecs.describe_services(cluster="demo", services=["web"])["services"][0]["events"]
    assert any("health checks" in e["message"] for e in events), [e["message"] for e in events]


def test_killed_task_is_replaced(sandbox):
    s = build(sandbox, desired=2)
    ecs = s["ecs"]
    tasks = wait_for("2 running tasks", lambda: len(service_tasks(ecs)) == 2 and service_tasks(ecs))

    def both_targets_healthy():
        health = s["elb"].describe_target_health(TargetGroupArn=s["blue"]["TargetGroupArn"])
        states = [h["TargetHealth"]["State"] for h in health["TargetHealthDescriptions"]]
        return states == ["healthy", "healthy"]

    # Kill only once both serve: then the survivor alone must keep every request answered.
    wait_for("both targets healthy", both_targets_healthy)
    victim = tasks[0]["taskArn"]
    pid = wait_for("the victim's process", lambda: pid_of_task(victim))
    os.kill(pid, signal.SIGKILL)

    def victim_stopped():
        t = ecs.describe_tasks(cluster="demo", tasks=[victim])["tasks"][0]
        return t["lastStatus"] == "STOPPED" and t

    t = wait_for("the killed task to stop", victim_stopped)
    assert "Essential container in task exited" in t["stoppedReason"]
    assert t["containers"][0]["exitCode"] == 137
    wait_for("two running tasks again, without the victim",
             lambda: {x["taskArn"] for x in service_tasks(ecs)} - {victim} if len(service_tasks(ecs)) == 2 else None)
    # Every request keeps being answered by a live task.
    for _ in range(10):
        status, _ = http_get(f"http://{s['dns']}:80/")
        assert status == 200
