"""Shutdown leaves no process and no bound address behind."""
import socket

from conftest import Sandbox, wait_for
from stack import build, http_get
from test_task_replacement import pid_of_task, service_tasks


def connectable(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_sigterm_stops_every_process_and_frees_every_address():
    sb = Sandbox()
    try:
        s = build(sb, desired=2)
        tasks = wait_for("2 running tasks", lambda: len(service_tasks(s["ecs"])) == 2 and service_tasks(s["ecs"]))
        pids = [wait_for("task process", lambda t=t: pid_of_task(t["taskArn"])) for t in tasks]
        task_ips = [t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] for t in tasks]
        wait_for("the listener to answer", lambda: http_get(f"http://{s['dns']}:80/")[0] == 200)
        endpoint_port = int(sb.url.rsplit(":", 1)[1])
    finally:
        code = sb.stop()
    assert code == 0
    # The sandbox SIGKILLs its task processes as it exits, without waiting for them: on a loaded machine a
    # killed multi-threaded process can still be exiting (its leader already a zombie, its sockets not yet
    # closed) when stop() returns. Give the kernel a moment, not the processes a chance.
    wait_for("the task processes to be gone", lambda: all(gone(pid) for pid in pids), timeout=10)
    wait_for("the task addresses to be free", lambda: not any(connectable(ip, 80) for ip in task_ips), timeout=10)
    assert not connectable(s["dns"], 80)
    assert not connectable(s["dns"], 8080)
    assert not connectable("127.0.0.1", endpoint_port)


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except OSError:
        return True


def test_two_sandboxes_side_by_side_use_different_addresses():
    a, b = Sandbox(), Sandbox()
    try:
        ea, eb = a.client("elbv2"), b.client("elbv2")
        la = ea.create_load_balancer(Name="same", Subnets=["s-1", "s-2"])["LoadBalancers"][0]
        lb = eb.create_load_balancer(Name="same", Subnets=["s-1", "s-2"])["LoadBalancers"][0]
        assert la["DNSName"] != lb["DNSName"]
        for e, l in ((ea, la), (eb, lb)):
            tg = e.create_target_group(Name="tg", Protocol="HTTP", Port=80, VpcId="v", TargetType="ip")["TargetGroups"][0]
            e.create_listener(LoadBalancerArn=l["LoadBalancerArn"], Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
        assert connectable(la["DNSName"], 80) and connectable(lb["DNSName"], 80)
    finally:
        a.stop()
        b.stop()
