#!/usr/bin/env python3
"""The deploy engine under load, in one run, as ratios against a baseline measured by the same run.

    python3 bench/deploy_fleet.py                      # builds both binaries first; about 20 minutes
    python3 bench/deploy_fleet.py --services 10 --hold-seconds 60 --termination-wait-minutes 1 \\
        --skip-baseline-build --no-write               # a few minutes

(a) Many services in one command. On one `kirikae sandbox --time-scale 60`, N services (default 50), each
    behind its own ALB (production listener 80, test listener 8080, target groups `sN-blue`/`sN-green`,
    as examples/demo-stack.json provisions them, here through boto3), then
        kirikae deploy -c s1.yml … -c sN.yml --output json                                   (creates N)
        kirikae deploy -c s1.yml … -c sN.yml --output json --image web=kirikae/demo:v2       (N Blue/Green)
    both with kirikae's defaults: the default API-call budget and the default --concurrency. Baseline: the
    same two commands for one service alone, on a fresh sandbox. Per command: exit code, wall time (and
    the ratio N/1), API calls (the sandbox's `/_kirikae/calls` before and after; the benchmark makes no
    call of its own in between), peak API calls per second (the counter sampled every 0.5 s by a thread;
    the most calls between two samples at least 1 s apart, divided by their distance), and kirikae's
    peak RSS.

(b) API calls per minute of waiting, before and after the adaptive polling (crates/kirikae-engine/src/
    watch/pace.rs): one Blue/Green deployment of one service at time scale 1 (real minutes), its group
    with `ready: {action: STOP_DEPLOYMENT, wait_minutes: 10}` and `termination_wait_minutes: 2`. kirikae
    follows it; the benchmark sees it reach Ready, holds it there for --hold-seconds (150), then
    ContinueDeployment(READY_WAIT); traffic moves, blue is kept for the termination wait, the deployment
    succeeds. Counted from the calls counter (sampled every 0.2 s), kirikae's calls only:
      * ready wait: from the benchmark's last own poll that saw Ready to just before its ContinueDeployment;
      * termination wait: from the end of AllowTraffic (the lifecycle event's endTime) to the
        deployment's completeTime; the benchmark makes no call at all between ContinueDeployment and
        kirikae's exit;
      * continue noticed: the first deployment poll (GetDeployment or BatchGetDeployments) counted after
        ContinueDeployment returned (an upper bound; the sampling step is 0.2 s);
      * notice lag: kirikae's exit (reaped by /usr/bin/time, itself reaped here) minus completeTime. The
        sandbox stamps completeTime and the lifecycle events with this machine's real wall clock (only
        durations are scaled), so both instants are on one clock.
    "after" is the binary built from the current tree; "before" is kirikae built from git revision
    773a606 (the last commit before the adaptive polling) in a git worktree under /tmp with its own
    CARGO_TARGET_DIR, or --baseline-bin. The sandbox is always the current tree's, a fresh one per binary.

Peak RSS is kirikae's own: the command runs under `/usr/bin/time -f %M` (GNU time, Debian package
`time`), so the figure is the maximum resident set of the kirikae process (after exec; what the
launcher held before is GNU time's own ~2 MiB, not a Python interpreter's). Without /usr/bin/time the
script polls VmHWM in /proc/<pid>/status every 50 ms instead (the last value read before exit).

Results go to bench/RESULTS.md, between this script's markers (other sections are left alone), unless
--no-write. A non-zero exit of any kirikae run is reported with the tail of its stderr, never hidden.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import boto3

from common import RESULTS, ROOT, Sandbox, write_results

BEGIN = "<!-- deploy-fleet: begin (written by bench/deploy_fleet.py) -->"
END = "<!-- deploy-fleet: end -->"
CLUSTER = "bench"
ROLE = "arn:aws:iam::000000000000:role/ecsCodeDeployRole"
BASELINE_REV = "773a606"
GNU_TIME = "/usr/bin/time"
ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_COLOR": "1",
}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the sandbox's call counter ----------------------------------------------------------------------------

class CallSampler:
    """Samples the sandbox's call counters every `period` seconds in a thread: (monotonic time, wall
    time, counters by `service.Operation`)."""

    def __init__(self, sandbox, period):
        self.sandbox, self.period, self.samples = sandbox, period, []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_flag.is_set():
            t, wall = time.monotonic(), time.time()
            try:
                calls = self.sandbox.calls()
            except OSError:
                continue
            self.samples.append((t, wall, calls))
            self.stop_flag.wait(max(0.0, self.period - (time.monotonic() - t)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop_flag.set()
        self.thread.join()

    def peak_per_second(self):
        """The highest rate between two samples at least 1 s apart (the closest such pair for each start)."""
        best, j = 0.0, 0
        totals = [(t, sum(c.values())) for t, _, c in self.samples]
        for i, (ti, ci) in enumerate(totals):
            j = max(j, i + 1)
            while j < len(totals) and totals[j][0] - ti < 1.0:
                j += 1
            if j == len(totals):
                break
            tj, cj = totals[j]
            best = max(best, (cj - ci) / (tj - ti))
        return best

    def at_or_after(self, wall):
        """The first sample taken at or after wall-clock time `wall`."""
        return next((s for s in self.samples if s[1] >= wall), self.samples[-1])

    def at_or_before(self, wall):
        """The last sample taken at or before wall-clock time `wall`."""
        return next((s for s in reversed(self.samples) if s[1] <= wall), self.samples[0])


# How a client reads a deployment and its target, one at a time or batched.
POLLS = ("codedeploy.GetDeployment", "codedeploy.BatchGetDeployments")
TARGET_POLLS = ("codedeploy.GetDeploymentTarget", "codedeploy.BatchGetDeploymentTargets")


def count(calls, ops):
    return sum(calls.get(op, 0) for op in ops)


def delta(after, before):
    """Counters `after` minus `before`, only the operations that moved."""
    return {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0) > 0}


# --- the infrastructure and the project files ---------------------------------------------------------------

def provision_service(sb, name, deregistration_delay):
    """What a team's Terraform would have before kirikae's first deploy (examples/demo-stack.json): target
    groups `{name}-blue` and `{name}-green`, an ALB `{name}-alb` with listeners 80 (production) and 8080
    (test), both forwarding to blue."""
    tgs = []
    for color in ("blue", "green"):
        arn = sb.elb.create_target_group(
            Name=f"{name}-{color}", Protocol="HTTP", Port=8080, VpcId="vpc-0bench", TargetType="ip",
            HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2, UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
        sb.elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}])
        tgs.append(arn)
    lb = sb.elb.create_load_balancer(Name=f"{name}-alb", Subnets=["subnet-a", "subnet-b"],
                                     Scheme="internet-facing", Type="application")
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    for port in (80, 8080):
        sb.elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port,
                               DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[0]}])


def write_project(directory, service, termination_wait_minutes, ready):
    """`{service}.yml` and `{service}-task-definition.json` in `directory` (plus the shared
    service-definition.json); returns the config's path."""
    os.makedirs(directory, exist_ok=True)
    config = os.path.join(directory, f"{service}.yml")
    with open(config, "w") as f:
        f.write(f"""\
cluster: {CLUSTER}
service: {service}
task_definition: {service}-task-definition.json
service_definition: service-definition.json
codedeploy:
  service_role: '{ROLE}'
  deployment_config: CodeDeployDefault.ECSAllAtOnce
  target_groups: [{service}-blue, {service}-green]
  production_listener: {{load_balancer: {service}-alb, port: 80}}
  test_listener: {{load_balancer: {service}-alb, port: 8080}}
  termination_wait_minutes: {termination_wait_minutes}
  ready: {ready}
""")
    with open(os.path.join(directory, "service-definition.json"), "w") as f:
        json.dump({
            "desiredCount": 2,
            "launchType": "FARGATE",
            "loadBalancers": [{"containerName": "web", "containerPort": 8080}],
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"],
                                                             "assignPublicIp": "DISABLED"}},
        }, f, indent=2)
    with open(os.path.join(directory, f"{service}-task-definition.json"), "w") as f:
        json.dump({
            "family": service,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [{
                "name": "web", "image": "kirikae/demo:v1", "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            }],
        }, f, indent=2)
    return config


def wait_steady(sb, services, timeout=300):
    """Until every service has one task set with all its tasks running (not measured)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        settled = True
        for i in range(0, len(services), 10):
            for s in sb.ecs.describe_services(cluster=CLUSTER, services=services[i:i + 10])["services"]:
                if len(s.get("taskSets", [])) != 1 or s["runningCount"] < s["desiredCount"]:
                    settled = False
        if settled:
            return True
        time.sleep(0.5)
    return False


def group_deployments(sb, service):
    """Every deployment of the service's group, newest first (as ListDeployments returns them)."""
    ids, token = [], None
    while True:
        kw = {"applicationName": f"AppEcs-{CLUSTER}-{service}", "deploymentGroupName": f"DgpEcs-{CLUSTER}-{service}"}
        if token:
            kw["nextToken"] = token
        try:
            out = sb.cd.list_deployments(**kw)
        except sb.cd.exceptions.ClientError:
            return ids
        ids += out["deployments"]
        token = out.get("nextToken")
        if not token:
            return ids


# --- running kirikae ----------------------------------------------------------------------------------------

LIVE = []  # every kirikae run started, so none outlives an interrupted benchmark


class Run:
    """One kirikae process, started now, under /usr/bin/time when present (its peak RSS)."""

    def __init__(self, argv, env, log_prefix):
        self.log_prefix = log_prefix
        self.rss_file = log_prefix + ".rss"
        self.out = open(log_prefix + ".out", "w")
        self.err = open(log_prefix + ".err", "w")
        timed = os.access(GNU_TIME, os.X_OK)
        cmd = [GNU_TIME, "-f", "%M", "-o", self.rss_file, *argv] if timed else argv
        self.hwm_kib = None
        self.start = time.monotonic()
        # Its own process group, so that an interrupted benchmark can end kirikae and its launcher together.
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
        LIVE.append(self)
        if not timed:
            threading.Thread(target=self.poll_hwm, daemon=True).start()

    def poll_hwm(self):
        while self.proc.poll() is None:
            try:
                with open(f"/proc/{self.proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.hwm_kib = int(line.split()[1])
            except OSError:
                pass
            time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout=None):
        """The exit code; sets `wall` (seconds) and `exited` (wall-clock time it was reaped)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
            self.timed_out = True
        self.exited = time.time()
        self.wall = time.monotonic() - self.start
        self.out.close()
        self.err.close()
        return self.proc.returncode

    def rss_kib(self):
        if os.path.exists(self.rss_file):
            lines = [x for x in open(self.rss_file).read().split("\n") if x.strip()]
            if lines and lines[-1].strip().isdigit():
                return int(lines[-1])
            return None
        return self.hwm_kib

    def stdout(self):
        return open(self.log_prefix + ".out").read()

    def stderr_tail(self, lines=40):
        return "\n".join(open(self.log_prefix + ".err").read().rstrip("\n").split("\n")[-lines:])


def results_summary(stdout):
    """`--output json` summarised as counts by `result` (several configs: `{"deploys": [...]}`)."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return "no JSON on stdout"
    docs = doc.get("deploys", [doc]) if isinstance(doc, dict) else []
    counts = {}
    for d in docs:
        r = d.get("result", "?") if isinstance(d, dict) else "?"
        counts[r] = counts.get(r, 0) + 1
    return ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))


def measured(sb, argv, env, log_prefix, label):
    """Runs one kirikae command to its end with the call counter sampled; its figures."""
    before = sb.calls()
    with CallSampler(sb, 0.5) as sampler:
        run = Run(argv, env, log_prefix)
        rc = run.wait()
    after = sb.calls()
    calls = delta(after, before)
    r = {
        "label": label, "rc": rc, "wall": run.wall, "exited": run.exited, "calls": calls,
        "total": sum(calls.values()), "peak_rate": sampler.peak_per_second(), "rss_kib": run.rss_kib(),
        "results": results_summary(run.stdout()), "stderr_tail": run.stderr_tail() if rc != 0 else "",
    }
    rss = f"{r['rss_kib'] / 1024:.1f} MiB" if r["rss_kib"] else "?"
    log(f"{label}: exit {rc}, {run.wall:.1f} s, {r['total']} calls, peak {r['peak_rate']:.1f}/s, RSS {rss}; "
        f"{r['results']}")
    if rc != 0:
        log(f"{label}: stderr tail:\n{r['stderr_tail']}")
    return r


# --- (a) many services in one command -----------------------------------------------------------------------

def fleet_case(kirikae, n, args, work, env_base):
    """On a fresh sandbox: provision n services, create them in one command, then deploy v2 to all."""
    sb = Sandbox(kirikae, args.time_scale)
    log(f"(a) {n} service(s): sandbox {sb.url} at time scale {args.time_scale:g}")
    env = dict(env_base, AWS_ENDPOINT_URL=sb.url)
    directory = os.path.join(work, f"fleet-{n}")
    names = [f"s{i}" for i in range(1, n + 1)]
    try:
        sb.ecs.create_cluster(clusterName=CLUSTER)
        configs = []
        for name in names:
            provision_service(sb, name, deregistration_delay=30)
            configs.append(write_project(directory, name, 2, "{action: CONTINUE_DEPLOYMENT}"))
        base = [kirikae, "deploy", *[a for c in configs for a in ("-c", c)], "--output", "json"]
        if args.concurrency:
            base += ["--concurrency", str(args.concurrency)]
        out = {"n": n}
        out["create"] = measured(sb, base, env, os.path.join(directory, "create"), f"(a) create {n}")
        out["settled"] = wait_steady(sb, names)
        if not out["settled"]:
            log(f"(a) {n}: the services did not all settle within 300 s after creation")
        out["deploy"] = measured(sb, base + ["--image", "web=kirikae/demo:v2"], env,
                                 os.path.join(directory, "deploy"), f"(a) deploy {n}")
        # Every group should now hold exactly one deployment, Succeeded.
        statuses, completes = {}, []
        for name in names:
            ids = group_deployments(sb, name)
            if not ids:
                statuses["none"] = statuses.get("none", 0) + 1
                continue
            info = sb.cd.get_deployment(deploymentId=ids[0])["deploymentInfo"]
            statuses[info["status"]] = statuses.get(info["status"], 0) + 1
            if "completeTime" in info:
                completes.append(info["completeTime"].timestamp())
        out["deployments"] = ", ".join(f"{c} {s}" for s, c in sorted(statuses.items()))
        out["lag"] = out["deploy"]["exited"] - max(completes) if completes else None
        return out
    finally:
        sb.stop()


# --- (b) calls per minute of waiting ------------------------------------------------------------------------

class OwnCalls:
    """Counts the benchmark's own API calls (they are subtracted where they fall inside a window)."""

    def __init__(self, *clients):
        self.n = 0
        for c in clients:
            c.meta.events.register("before-call", self.count)

    def count(self, **_):
        self.n += 1


def wait_case(kirikae, label, binary, args, work, env_base):
    """One binary follows one deployment through a held Ready wait and a termination wait."""
    sb = Sandbox(kirikae, 1)
    log(f"(b) {label}: sandbox {sb.url} at time scale 1; {binary}")
    env = dict(env_base, AWS_ENDPOINT_URL=sb.url)
    directory = os.path.join(work, f"wait-{label}")
    out = {"label": label, "binary": binary}
    try:
        sb.ecs.create_cluster(clusterName=CLUSTER)
        provision_service(sb, "web", deregistration_delay=5)
        config = write_project(directory, "web", args.termination_wait_minutes,
                               f"{{action: STOP_DEPLOYMENT, wait_minutes: {args.ready_wait_minutes}}}")
        create = Run([binary, "deploy", "-c", config], env, os.path.join(directory, "create"))
        if create.wait(timeout=300) != 0:
            out["error"] = f"creating the service exited {create.proc.returncode}:\n{create.stderr_tail()}"
            log(out["error"])
            return out
        wait_steady(sb, ["web"])
        own = OwnCalls(sb.cd)
        with CallSampler(sb, 0.2) as sampler:
            run = Run([binary, "deploy", "-c", config, "--image", "web=kirikae/demo:v2"], env,
                      os.path.join(directory, "deploy"))
            deployment, status = None, None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and run.proc.poll() is None:
                ids = group_deployments(sb, "web")
                if ids:
                    deployment = ids[0]
                    status = sb.cd.get_deployment(deploymentId=deployment)["deploymentInfo"]["status"]
                    if status != "InProgress" and status != "Created" and status != "Queued":
                        break
                time.sleep(0.5)
            if status != "Ready":
                run.kill()
                run.wait()
                out["error"] = (f"the deployment never reached Ready (last status {status}); kirikae exited "
                                f"{run.proc.returncode}:\n{run.stderr_tail()}")
                log(out["error"])
                return out
            ready_from, own_before = time.time(), own.n
            ready_calls_0 = sb.calls()
            log(f"(b) {label}: {deployment} is Ready; holding it {args.hold_seconds:g} s")
            time.sleep(args.hold_seconds)
            ready_calls_1 = sb.calls()
            ready_to = time.time()
            alive = run.proc.poll() is None
            own_in_ready = own.n - own_before
            sb.cd.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
            continued = time.time()
            own_after_continue = own.n
            rc = run.wait(timeout=args.termination_wait_minutes * 60 + 300)
            own_during_rest = own.n - own_after_continue
        final_calls = sb.calls()  # the sampler may have missed kirikae's last poll by a fraction of a step
        if own_in_ready or own_during_rest:
            out["error"] = "the benchmark's own calls fell inside a measured window: the counts are not kirikae's"
        with open(os.path.join(directory, "calls.jsonl"), "w") as f:
            for _, wall, calls in sampler.samples:
                f.write(json.dumps({"t": round(wall, 3), "calls": calls}) + "\n")
        info = sb.cd.get_deployment(deploymentId=deployment)["deploymentInfo"]
        target = sb.cd.get_deployment_target(deploymentId=deployment, targetId=f"{CLUSTER}:web")
        events = {e["lifecycleEventName"]: e for e in target["deploymentTarget"]["ecsTarget"]["lifecycleEvents"]}
        ready_calls = delta(ready_calls_1, ready_calls_0)
        ready_n = sum(ready_calls.values()) - own_in_ready
        ready_s = ready_to - ready_from
        # The last minute of the hold: the steady rate, once the quiet has lasted.
        last_min_n = last_min_s = None
        if ready_s >= 90:
            last_min = sampler.at_or_after(ready_to - 60.0)
            last_min_n = sum(delta(ready_calls_1, last_min[2]).values())
            last_min_s = ready_to - last_min[1]
        out.update(status=info["status"], rc=rc, alive_through_hold=alive, deployment=deployment,
                   ready_calls=ready_calls, ready_seconds=ready_s, ready_per_min=ready_n / ready_s * 60,
                   ready_last_min_per_min=last_min_n / last_min_s * 60 if last_min_s else None,
                   rss_mib=run.rss_kib() / 1024 if run.rss_kib() else None, wall=run.wall)
        if rc != 0 or info["status"] != "Succeeded":
            out["error"] = f"kirikae exited {rc}, deployment {info['status']}:\n{run.stderr_tail()}"
            log(out["error"])
        complete = info.get("completeTime")
        shift = events.get("AllowTraffic", {}).get("endTime")
        if complete and shift:
            complete, shift = complete.timestamp(), shift.timestamp()
            s0, s1 = sampler.at_or_after(shift), sampler.at_or_before(complete)
            term_calls = delta(s1[2], s0[2])
            term_s = s1[1] - s0[1]
            out.update(termination_calls=term_calls, termination_seconds=term_s,
                       termination_per_min=sum(term_calls.values()) / term_s * 60 if term_s > 0 else None,
                       lag=run.exited - complete,
                       after_end_calls=delta(final_calls, s1[2]))
            # kirikae's last deployment poll before completeTime (counted by the sample after it): how long
            # it slept through the end, with the notice lag.
            polls = [x[1] for a, x in zip(sampler.samples, sampler.samples[1:]) if count(x[2], POLLS) > count(a[2], POLLS)]
            last_poll = max((t for t in polls if t <= complete), default=None)
            out["last_poll_before_end"] = complete - last_poll if last_poll else None
        # Continue noticed: the first sample after ContinueDeployment returned that counts one more deployment
        # poll than the first sample taken after it (nothing of ours polls the deployment then).
        first = sampler.at_or_after(continued)
        noticed = next((x for x in sampler.samples
                        if x[1] > first[1] and count(x[2], POLLS) > count(first[2], POLLS)), None)
        out["continue_noticed"] = noticed[1] - continued if noticed else None
        with open(run.log_prefix + ".err") as f:
            out["timeline_pending"] = bool(re.search(r"^\s+AllowTraffic\s+Pending", f.read(), re.M))
        out["targets_after_continue"] = count(final_calls, TARGET_POLLS) - count(first[2], TARGET_POLLS)
        lag = f"{out['lag']:.2f} s" if out.get("lag") is not None else "?"
        log(f"(b) {label}: exit {rc}, {info['status']}; ready wait {out['ready_per_min']:.1f} calls/min, "
            f"termination wait {out.get('termination_per_min') or 0:.1f} calls/min, notice lag {lag}")
        return out
    finally:
        sb.stop()


# --- the binaries -------------------------------------------------------------------------------------------

def build_current():
    log("building the current tree: cargo build --release -p kirikae")
    subprocess.run(["cargo", "build", "--release", "-p", "kirikae"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "kirikae")


def baseline_paths(rev):
    tree = os.path.join(tempfile.gettempdir(), f"kirikae-bench-{rev}")
    target = tree + "-target"
    return tree, target, os.path.join(target, "release", "kirikae")


def build_baseline(rev):
    """kirikae at `rev`, built in a git worktree under /tmp with its own target directory."""
    tree, target, binary = baseline_paths(rev)
    if not os.path.isdir(tree):
        subprocess.run(["git", "worktree", "add", "--detach", tree, rev], cwd=ROOT, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True).stdout.strip()
    want = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if head != want:
        sys.exit(f"{tree} is at {head}, not {rev}: remove it (git worktree remove {tree}) and run again")
    log(f"building {rev} in {tree}: CARGO_TARGET_DIR={target} cargo build --release -p kirikae")
    subprocess.run(["cargo", "build", "--release", "-p", "kirikae"], cwd=tree, check=True,
                   env=dict(os.environ, CARGO_TARGET_DIR=target))
    return binary


# --- the report ---------------------------------------------------------------------------------------------

def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"nproc {os.cpu_count()} ({cpu}), {mem_gib:.0f} GiB RAM, Linux {platform.release()}; "
            f"load average at the end {load}")


def mib(kib):
    return f"{kib / 1024:.1f}" if kib else "?"


def ratio(a, b, fmt="{:.2f}"):
    return fmt.format(a / b) if a is not None and b else "–"


def report(args, command, fleet, waits, binaries, rss_method):
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "crates"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    lines = [
        BEGIN,
        "## The deploy engine under load: many services in one command, calls per minute of waiting",
        "",
        f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Machine: {machine()}",
        f"- Software: kirikae {rev.stdout.strip()}{' with uncommitted changes in crates/' if dirty else ''} "
        f"(current tree, `{os.path.relpath(binaries['after'], ROOT)}`); baseline "
        f"{binaries.get('before_desc', 'not measured')}; boto3 {boto3.__version__}, Python "
        f"{platform.python_version()}",
        f"- Command: `{command}`",
        f"- Peak RSS: {rss_method}",
    ]
    if fleet:
        one, many = fleet
        n = many["n"]
        conc = f"--concurrency {args.concurrency}" if args.concurrency else "kirikae's default --concurrency"
        lines += [
            "",
            f"### (a) {n} services in one command vs one service alone",
            "",
            f"Each on a fresh `kirikae sandbox --time-scale {args.time_scale:g}`; every service behind its own "
            "ALB (listeners 80 and 8080, two target groups), 2 tasks of `kirikae/demo`, "
            "CodeDeployDefault.ECSAllAtOnce, blue kept 2 AWS minutes. Commands: `kirikae deploy -c s1.yml … "
            f"-c s{n}.yml --output json` (creates), then the same with `--image web=kirikae/demo:v2` "
            f"(Blue/Green), default API-call budget, {conc}.",
            "",
            f"| | 1 service: create | {n} services: create | ratio {n}/1 | 1 service: deploy v2 | "
            f"{n} services: deploy v2 | ratio {n}/1 |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]

        def row(label, f):
            """`f(run, services)` → (value for the ratio or None, cell text)."""
            cells = []
            for phase in ("create", "deploy"):
                a, b = f(one[phase], 1), f(many[phase], n)
                cells += [a[1], b[1], ratio(b[0], a[0]) if a[0] is not None else "–"]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

        row("exit code", lambda r, k: (None, str(r["rc"])))
        row("wall time, s", lambda r, k: (r["wall"], f"{r['wall']:.2f}"))
        row("API calls", lambda r, k: (r["total"], str(r["total"])))
        row("API calls per service", lambda r, k: (r["total"] / k, f"{r['total'] / k:.1f}"))
        row("peak API calls/s (1 s windows)", lambda r, k: (r["peak_rate"], f"{r['peak_rate']:.1f}"))
        row("peak RSS of kirikae, MiB", lambda r, k: (r["rss_kib"], mib(r["rss_kib"])))
        lines += [
            "",
            f"- Results (`--output json`): 1 service create {one['create']['results']}, deploy "
            f"{one['deploy']['results']}; {n} services create {many['create']['results']}, deploy "
            f"{many['deploy']['results']}. Deployments found afterwards: {many['deployments']} ({n} services), "
            f"{one['deployments']} (1 service).",
        ]
        if many["lag"] is not None and one["lag"] is not None:
            lines.append(f"- Exit after the last deployment's completeTime: {one['lag']:.2f} s (1 service), "
                         f"{many['lag']:.2f} s ({n} services).")
        for case in (one, many):
            for phase in ("create", "deploy"):
                r = case[phase]
                if r["rc"] != 0:
                    lines += ["", f"**{r['label']} exited {r['rc']}.** The tail of its stderr:", "", "```",
                              r["stderr_tail"], "```"]
        calls_per_s = many["deploy"]["total"] / many["deploy"]["wall"] if many["deploy"]["wall"] else 0
        lines += [f"- Average rate of the {n}-service deploy: {calls_per_s:.1f} calls/s over its "
                  f"{many['deploy']['wall']:.0f} s."]
    if waits:
        lines += [
            "",
            "### (b) API calls per minute of waiting, before and after adaptive polling",
            "",
            f"One service, one Blue/Green deployment on a fresh `kirikae sandbox --time-scale 1` per binary: "
            f"`ready: {{action: STOP_DEPLOYMENT, wait_minutes: {args.ready_wait_minutes}}}` held in Ready "
            f"for {args.hold_seconds:g} s, then ContinueDeployment; `termination_wait_minutes: "
            f"{args.termination_wait_minutes}`. Only kirikae's calls are counted (the benchmark makes none in "
            "either window).",
            "",
        ]
        labels = [w["label"] for w in waits]
        lines += ["| | " + " | ".join(labels) + (" | after/before |" if len(waits) == 2 else " |"),
                  "|---|" + "---:|" * (len(waits) + (1 if len(waits) == 2 else 0))]

        def wrow(label, key, fmt, compare=True):
            vals = [w.get(key) for w in waits]
            cells = [fmt.format(v) if v is not None else "?" for v in vals]
            if len(waits) == 2:
                cells.append(ratio(vals[1], vals[0]) if compare and None not in vals else "–")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

        wrow("exit code", "rc", "{}", compare=False)
        wrow("ready wait measured, s", "ready_seconds", "{:.0f}", compare=False)
        wrow("calls/min during the ready wait", "ready_per_min", "{:.1f}")
        wrow("calls/min in the last 60 s of the ready wait", "ready_last_min_per_min", "{:.1f}")
        wrow("termination wait measured, s", "termination_seconds", "{:.0f}", compare=False)
        wrow("calls/min during the termination wait", "termination_per_min", "{:.1f}")
        wrow("ContinueDeployment noticed after, s (≤)", "continue_noticed", "{:.1f}")
        wrow("deployment target reads after ContinueDeployment", "targets_after_continue", "{}", compare=False)
        wrow("notice lag (exit − completeTime), s", "lag", "{:.2f}")
        wrow("kirikae's last deployment poll before completeTime, s before it (≥)", "last_poll_before_end", "{:.1f}", compare=False)
        wrow("peak RSS of kirikae, MiB", "rss_mib", "{:.1f}")
        windows = ("ready_calls", "termination_calls", "after_end_calls")
        ops = sorted({op for w in waits for k in windows for op in w.get(k, {})})
        if ops:
            lines += ["", "Calls by operation in each window (after the end: from completeTime to kirikae's exit):",
                      "", "| operation | " + " | ".join(f"{w['label']}: ready | {w['label']}: termination | "
                                                        f"{w['label']}: after the end" for w in waits) + " |",
                      "|---|" + "---:|" * (len(windows) * len(waits))]
            for op in ops:
                cells = [str(w.get(k, {}).get(op, "")) for w in waits for k in windows]
                lines.append(f"| {op} | " + " | ".join(cells) + " |")
        for w in waits:
            if w.get("lag") is not None and w["lag"] > 1.0:
                lines.append(f"\n**{w['label']}: notice lag {w['lag']:.2f} s is over 1 s.**")
            if w.get("error"):
                lines += ["", f"**{w['label']} failed:**", "", "```", w["error"], "```"]
    lines += ["", "Reading the numbers:", ""] + notes(args, fleet, waits) + ["", END]
    return "\n".join(lines) + "\n"


def notes(args, fleet, waits):
    out = []
    if fleet:
        one, many = fleet
        n, d = many["n"], many["deploy"]
        floor = max(0, d["total"] - 20) / 10
        out.append(
            f"- (a) kirikae's API-call budget (default 10 calls/s with bursts of 20, one for every service of a "
            f"run) runs on real time while the sandbox compresses AWS time {args.time_scale:g}-fold, so each "
            f"deployment lasts seconds here: under the budget the {n}-service deploy's {d['total']} calls need at "
            f"least {floor:.0f} s, and the run took {d['wall']:.0f} s ({d['wall'] / one['deploy']['wall']:.1f}× "
            f"one service, for {n}× the work). A 1 s window can hold at most 30 calls under that budget; the "
            f"peak seen was {d['peak_rate']:.1f}/s{' (over it!)' if d['peak_rate'] > 31 else ''}. On AWS, where "
            "each deployment takes minutes, the same calls spread over those minutes.")
        if one["deploy"]["rss_kib"] and d["rss_kib"]:
            out.append(f"- (a) Peak RSS: {mib(d['rss_kib'])} MiB for {n} services against "
                       f"{mib(one['deploy']['rss_kib'])} MiB for one ({d['rss_kib'] / one['deploy']['rss_kib']:.2f}×).")
    by = {w["label"]: w for w in waits}
    b, a = by.get("before"), by.get("after")
    if b and a and b.get("ready_per_min") and a.get("ready_per_min"):
        out.append(
            f"- (b) Ready wait: {b['ready_per_min']:.0f} calls/min before, {a['ready_per_min']:.0f} after "
            f"({a['ready_per_min'] / b['ready_per_min']:.2f}×) over {a['ready_seconds']:.0f} s; the pause "
            "between polls grows with the quiet (a tenth of it, at most 10 s), so the rate keeps falling "
            "with the length of the wait: "
            + (f"{a['ready_last_min_per_min']:.0f} calls/min in its last minute, i.e. about "
               f"{a['ready_last_min_per_min'] * 60:.0f} calls for an hour of Ready against "
               f"{b['ready_per_min'] * 60:.0f} before." if a.get("ready_last_min_per_min") else "see pace.rs."))
    if b and a and b.get("termination_per_min") and a.get("termination_per_min"):
        out.append(
            f"- (b) Termination wait: {b['termination_per_min']:.0f} calls/min before, "
            f"{a['termination_per_min']:.0f} after ({a['termination_per_min'] / b['termination_per_min']:.2f}×) "
            f"over {a['termination_seconds']:.0f} s.")
    for w in waits:
        if w.get("lag") is not None and w["lag"] > 1.0:
            why = ""
            if w.get("targets_after_continue") == 0 and w.get("last_poll_before_end") is not None:
                why = (f" Its last poll of the deployment before the end came at least "
                       f"{w['last_poll_before_end']:.1f} s before completeTime and the next one after it; it did not "
                       "read the deployment target (GetDeploymentTarget / BatchGetDeploymentTargets) after "
                       "ContinueDeployment, so it never saw AllowTraffic's end, the moment the termination wait "
                       "is timed from, and paced the wait by its quiet alone"
                       + (" (its timeline at the end still lists AllowTraffic as Pending)." if w.get("timeline_pending")
                          else "."))
            out.append(f"- (b) **{w['label']}: kirikae exited {w['lag']:.2f} s after the deployment's "
                       f"completeTime, over the 1 s it should stay within.**{why}")
        elif w.get("lag") is not None:
            out.append(f"- (b) {w['label']}: kirikae exited {w['lag']:.2f} s after completeTime (≤ 1 s).")
    return out


# --- main ---------------------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description="kirikae deploy under load: N services at once, calls per minute "
                                            "of waiting before and after adaptive polling")
    p.add_argument("--kirikae", help="the current binary (default: build target/release/kirikae)")
    p.add_argument("--services", type=int, default=50, help="services in (a) (default 50; 0: skip (a))")
    p.add_argument("--time-scale", type=float, default=60.0, help="sandbox time scale of (a) (default 60)")
    p.add_argument("--concurrency", type=int, help="pass --concurrency N in (a) (default: kirikae's own)")
    p.add_argument("--skip-waits", action="store_true", help="skip (b)")
    p.add_argument("--baseline-rev", default=BASELINE_REV, help=f"the 'before' revision (default {BASELINE_REV})")
    p.add_argument("--baseline-bin", help="the 'before' binary, instead of building --baseline-rev")
    p.add_argument("--skip-baseline-build", action="store_true",
                   help="do not build the 'before' binary: use an earlier build of it if there is one "
                        "(/tmp/kirikae-bench-REV-target), else measure (b) for the current binary only")
    p.add_argument("--hold-seconds", type=float, default=150.0, help="real seconds held in Ready (default 150)")
    p.add_argument("--ready-wait-minutes", type=int, default=10,
                   help="the group's ready wait_minutes, longer than the hold (default 10)")
    p.add_argument("--termination-wait-minutes", type=int, default=2,
                   help="the group's termination_wait_minutes in (b), real minutes (default 2)")
    p.add_argument("--no-write", action="store_true", help="print the results, leave bench/RESULTS.md")
    args = p.parse_args()
    if args.hold_seconds >= args.ready_wait_minutes * 60 - 30:
        sys.exit("--hold-seconds must end well before --ready-wait-minutes (the deployment would stop)")
    command = "python3 bench/deploy_fleet.py" + "".join(f" {a}" for a in sys.argv[1:])

    kirikae = os.path.abspath(args.kirikae) if args.kirikae else build_current()
    binaries = {"after": kirikae}
    if not args.skip_waits:
        if args.baseline_bin:
            binaries["before"] = os.path.abspath(args.baseline_bin)
            binaries["before_desc"] = f"`{args.baseline_bin}` (--baseline-bin)"
        else:
            _, _, prebuilt = baseline_paths(args.baseline_rev)
            if not args.skip_baseline_build:
                binaries["before"] = build_baseline(args.baseline_rev)
            elif os.path.exists(prebuilt):
                binaries["before"] = prebuilt
            if "before" in binaries:
                binaries["before_desc"] = f"{args.baseline_rev} (`{binaries['before']}`)"
    if os.access(GNU_TIME, os.X_OK):
        rss_method = (f"`{GNU_TIME} -f %M` around each kirikae command: the maximum resident set of the "
                      "kirikae process itself (after exec; the launcher is GNU time, not Python)")
    else:
        rss_method = "VmHWM of the kirikae process, polled every 50 ms (no /usr/bin/time on this machine)"

    env_base = dict(os.environ, **ENV)
    env_base.pop("AWS_PROFILE", None)
    work = tempfile.mkdtemp(prefix="kirikae-fleet-bench-")
    log(f"files and logs in {work}")
    # Others may rebuild target/ while this runs: every measurement uses copies taken now.
    for key in ("after", "before"):
        if key in binaries:
            copy = os.path.join(work, f"kirikae-{key}")
            shutil.copy2(binaries[key], copy)
            binaries[key + "_run"] = copy
    kirikae = binaries["after_run"]
    started = time.monotonic()
    fleet, waits = None, []
    try:
        if args.services > 0:
            fleet = (fleet_case(kirikae, 1, args, work, env_base),
                     fleet_case(kirikae, args.services, args, work, env_base))
        if not args.skip_waits:
            if "before" in binaries:
                waits.append(wait_case(kirikae, "before", binaries["before_run"], args, work, env_base))
            waits.append(wait_case(kirikae, "after", kirikae, args, work, env_base))
    finally:
        for run in LIVE:
            run.kill()
    log(f"measured in {time.monotonic() - started:.0f} s")

    section = report(args, command, fleet, waits, binaries, rss_method)
    print(section)
    if not args.no_write:
        write_results(BEGIN, END, section)
        log(f"wrote {os.path.relpath(RESULTS, ROOT)}")
    failed = bool(fleet and any(c[ph]["rc"] != 0 for c in fleet for ph in ("create", "deploy"))) or any(
        w.get("error") or (w.get("lag") or 0) > 1.0 for w in waits)
    if failed:
        log(f"something failed: logs kept in {work}")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
