#!/usr/bin/env python3
"""kirikae deploy, `aws ecs deploy` and the seed's boto3 script, side by side: one sandbox, one scenario.

    python3 bench/deploy_side_by_side.py              # builds target/release/kirikae first
    python3 bench/deploy_side_by_side.py --kirikae target/debug/kirikae --runs 1 --fleet 5 --no-write

One `kirikae sandbox` (one time scale for everything) holds one ECS service `web` in cluster `bench`
behind an ALB with a production (80) and a test (8080) listener and two target groups. kirikae creates it
(v1, not measured); then, `--runs` times, each tool in turn deploys a new image of `kirikae/demo` to it,
Blue/Green through CodeDeploy with the same deployment group: CodeDeployDefault.ECSAllAtOnce, blue
terminated 2 AWS minutes after the switch, no ready wait.

  * kirikae:      `kirikae deploy -c kirikae.yml --output json`
  * aws ecs deploy: the AWS CLI (awscli from pip) run as `python -m awscli ecs deploy …` (what the `aws`
                  entry point runs, minus pyenv's shim), with AWS_ENDPOINT_URL: its CodeDeploy client
                  ignores --endpoint-url, the environment variable reaches every client.
  * seed boto3:   bench/seed_boto3_deploy.py, the script kirikae replaces, with the `deployment_successful`
                  waiter's default settings (GetDeployment now, then every 15 s).

Measured for each run (each tool is a fresh child process of this script):
  * wall time: from spawning the tool to reaping it;
  * notice lag: the instant the tool's process was reaped minus the deployment's `completeTime`. The
    sandbox's clock scales durations only; every timestamp it reports is the real wall clock of this
    machine (`SystemTime::now()` when the deployment is marked Succeeded, crates/kirikae-sandbox/src/
    clock.rs and codedeploy/lifecycle.rs), so `completeTime` compares directly with `time.time()` here.
    The deployment is found by diffing ListDeployments before and after the run;
  * API calls by operation: the sandbox's `/_kirikae/calls` counters before and after the run (this
    script makes no call of its own in between); `peak calls/s`: the most calls counted in any window of
    about one second, sampling the counters every 50 ms;
  * peak RSS: `ru_maxrss` from wait4() on the tool's process (the largest process of its tree: each tool
    is a single process here).

Then the fleet: `--fleet N` services (each with its own ALB and target groups) created in one
`kirikae deploy -c … -c …` run (not measured), then all deployed in one run, with the default API-call
budget and without one (`--max-api-calls-per-second 0`), against the same single-service deploy.

Results go to bench/RESULTS.md, between the side-by-side markers (other sections are left alone).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import boto3

from common import RESULTS, ROOT, Sandbox, write_results

BEGIN = "<!-- side-by-side: begin (written by bench/deploy_side_by_side.py) -->"
END = "<!-- side-by-side: end -->"
CLUSTER = "bench"
ROLE = "arn:aws:iam::000000000000:role/ecsCodeDeployRole"
TOOLS = ["kirikae", "aws ecs deploy", "seed boto3"]
ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_PAGER": "",
    "NO_COLOR": "1",
}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the sandbox -----------------------------------------------------------------------------------------

class CallSampler:
    """Samples the sandbox's call counter every 50 ms while a tool runs: the peak rate it saw."""

    def __init__(self, sandbox):
        self.sandbox, self.samples, self.stop_flag = sandbox, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_flag.is_set():
            t = time.monotonic()
            try:
                total = sum(self.sandbox.calls().values())
            except OSError:
                continue
            self.samples.append((t, total))
            self.stop_flag.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop_flag.set()
        self.thread.join()

    def peak_per_second(self):
        """Most calls counted between two samples about one second apart (at least 1 s)."""
        best, i = 0, 0
        for j, (tj, cj) in enumerate(self.samples):
            while i + 1 < j and tj - self.samples[i + 1][0] >= 1.0:
                i += 1
            if tj - self.samples[i][0] >= 1.0:
                best = max(best, cj - self.samples[i][1])
        return best


# --- the scenario ----------------------------------------------------------------------------------------

def provision_service(sb, name):
    """An ALB `{name}-alb` with listeners 80 (production) and 8080 (test), target groups `{name}-blue`
    and `{name}-green`; returns the listener ARNs."""
    tgs = []
    for color in ("blue", "green"):
        tgs.append(sb.elb.create_target_group(
            Name=f"{name}-{color}", Protocol="HTTP", Port=8080, VpcId="vpc-0bench", TargetType="ip",
            HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2, UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"])
    lb = sb.elb.create_load_balancer(Name=f"{name}-alb", Subnets=["subnet-a", "subnet-b"])
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    listeners = {}
    for port in (80, 8080):
        out = sb.elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port,
                                     DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[0]}])
        listeners[port] = out["Listeners"][0]["ListenerArn"]
    return listeners


class Project:
    """kirikae.yml + task and service definitions for one service, in a directory of their own."""

    def __init__(self, root, service):
        self.service, self.dir = service, os.path.join(root, service)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "kirikae.yml")
        self.task_definition = os.path.join(self.dir, "task-definition.json")
        self.appspec = os.path.join(self.dir, "appspec.yaml")
        with open(self.config, "w") as f:
            f.write(f"""\
cluster: {CLUSTER}
service: {service}
task_definition: task-definition.json
service_definition: service-definition.json
codedeploy:
  service_role: '{ROLE}'
  deployment_config: CodeDeployDefault.ECSAllAtOnce
  target_groups: [{service}-blue, {service}-green]
  production_listener: {{load_balancer: {service}-alb, port: 80}}
  test_listener: {{load_balancer: {service}-alb, port: 8080}}
  termination_wait_minutes: 2
  ready: {{action: CONTINUE_DEPLOYMENT}}
""")
        with open(os.path.join(self.dir, "service-definition.json"), "w") as f:
            json.dump({
                "desiredCount": 2,
                "launchType": "FARGATE",
                "loadBalancers": [{"containerName": "web", "containerPort": 8080}],
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"],
                                                                 "assignPublicIp": "DISABLED"}},
            }, f, indent=2)
        # The AppSpec `aws ecs deploy` takes (it fills in the task definition it registers).
        with open(self.appspec, "w") as f:
            f.write("""\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: placeholder
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 8080
        PlatformVersion: LATEST
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets: [subnet-a]
            AssignPublicIp: DISABLED
""")
        self.image("v1")

    def image(self, tag):
        """Writes the task definition (RegisterTaskDefinition input, as all three tools take it)."""
        with open(self.task_definition, "w") as f:
            json.dump({
                "family": self.service,
                "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [{
                    "name": "web", "image": f"kirikae/demo:{tag}", "essential": True,
                    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                }],
            }, f, indent=2)


# --- running a tool --------------------------------------------------------------------------------------

def run_tool(argv, env, log_path):
    """Runs one tool to its end; returns (exit code, wall seconds, exit wall-clock time, peak RSS KiB,
    stdout)."""
    with open(log_path + ".out", "w") as out, open(log_path + ".err", "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        exited = time.time()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    with open(log_path + ".out") as f:
        stdout = f.read()
    return proc.returncode, wall, exited, usage.ru_maxrss, stdout


def deployments(sb, app, group):
    ids, token = [], None
    while True:
        kw = {"applicationName": app, "deploymentGroupName": group}
        if token:
            kw["nextToken"] = token
        out = sb.cd.list_deployments(**kw)
        ids += out["deployments"]
        token = out.get("nextToken")
        if not token:
            return set(ids)


def wait_steady(sb, services, timeout=120):
    """Until every service has one task set (blue gone) with all its tasks running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = sb.ecs.describe_services(cluster=CLUSTER, services=services)["services"]
        if all(len(s.get("taskSets", [])) == 1 and s["runningCount"] >= s["desiredCount"] for s in out):
            return
        time.sleep(0.2)
    sys.exit(f"services {services} did not settle within {timeout}s")


def measure(sb, name, argv, env, projects, logdir):
    """One measured run: the tool deploys every project's service; returns its figures."""
    groups = [(f"AppEcs-{CLUSTER}-{p.service}", f"DgpEcs-{CLUSTER}-{p.service}") for p in projects]
    before_ids = [deployments(sb, a, g) for a, g in groups]
    before = sb.calls()
    with CallSampler(sb) as sampler:
        rc, wall, exited, rss, stdout = run_tool(argv, env, os.path.join(logdir, re.sub(r"\W+", "-", name)))
    after = sb.calls()
    if rc != 0:
        sys.exit(f"{name} exited {rc}; see {logdir}")
    calls = {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0) > 0}
    completes, durations = [], []
    for (a, g), ids in zip(groups, before_ids):
        new = deployments(sb, a, g) - ids
        if len(new) != 1:
            sys.exit(f"{name}: expected one new deployment in {g}, found {sorted(new)}")
        info = sb.cd.get_deployment(deploymentId=new.pop())["deploymentInfo"]
        if info["status"] != "Succeeded":
            sys.exit(f"{name}: deployment {info['deploymentId']} is {info['status']}")
        completes.append(info["completeTime"].timestamp())
        durations.append(info["completeTime"].timestamp() - info["createTime"].timestamp())
    wait_steady(sb, [p.service for p in projects])
    return {
        "duration": max(durations),
        "wall": wall,
        "lag": exited - max(completes),
        "calls": calls,
        "total": sum(calls.values()),
        "peak_rate": sampler.peak_per_second(),
        "rss_kib": rss,
    }


# --- the report ------------------------------------------------------------------------------------------

def median(xs):
    return statistics.median(xs)


def spread(xs, fmt="{:.2f}"):
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    osname = platform.platform()
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            osname = f"{m.group(1)}, Linux {platform.release()}" if m else osname
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), {mem_gib:.0f} GiB RAM, {osname}; load average at the end {load}"


def versions(kirikae):
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    awscli = subprocess.run([sys.executable, "-m", "awscli", "--version"], capture_output=True, text=True)
    return (f"kirikae {rev.stdout.strip() or '?'} ({os.path.relpath(kirikae, ROOT)}), "
            f"{(awscli.stdout or awscli.stderr).strip().split(' ')[0]}, boto3 {boto3.__version__}, "
            f"Python {platform.python_version()}")


def report(args, runs, fleet, command, kirikae):
    k = runs["kirikae"]
    lines = [
        BEGIN,
        "## Side by side: kirikae deploy, aws ecs deploy, the seed's boto3 script",
        "",
        f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Machine: {machine()}",
        f"- Software: {versions(kirikae)}",
        f"- Command: `{command}`",
        f"- Scenario: one `kirikae sandbox` at time scale {args.time_scale:g} (one AWS minute = "
        f"{60 / args.time_scale:g} s); service `web` (2 tasks of `kirikae/demo`) behind an ALB with production "
        "and test listeners; each run deploys a new image Blue/Green with CodeDeployDefault.ECSAllAtOnce, blue "
        f"terminated after 2 AWS minutes, no ready wait. {args.runs} run(s) per tool, interleaved; figures are "
        "medians (min–max).",
        "- Notice lag: the tool's exit (reaped by the benchmark) minus the deployment's `completeTime`, which "
        "the sandbox stamps with the machine's real wall clock at the instant it marks the deployment Succeeded "
        "(only durations are scaled), so both instants are on one clock.",
        "",
        "| | " + " | ".join(TOOLS) + " |",
        "|---|" + "---|" * len(TOOLS),
    ]

    def row(label, f):
        lines.append(f"| {label} | " + " | ".join(f(t) for t in TOOLS) + " |")

    row("wall time, s", lambda t: spread([x["wall"] for x in runs[t]]))
    row("notice lag, s", lambda t: spread([x["lag"] for x in runs[t]]))
    row("API calls per deploy", lambda t: spread([x["total"] for x in runs[t]], "{:.0f}"))
    row("peak API calls in ~1 s", lambda t: spread([x["peak_rate"] for x in runs[t]], "{:.0f}"))
    row("peak RSS, MiB", lambda t: spread([x["rss_kib"] / 1024 for x in runs[t]], "{:.1f}"))

    def ratio(metric, t):
        a, b = median([x[metric] for x in k]), median([x[metric] for x in runs[t]])
        return f"{a / b:.2f}" if b else "–"

    for metric, label in [("wall", "wall time"), ("lag", "notice lag"), ("total", "API calls"),
                          ("rss_kib", "peak RSS")]:
        row(f"kirikae / this: {label}", lambda t, m=metric: ratio(m, t))
    lines += ["", "API calls by operation (mean per deploy):", "",
              "| operation | " + " | ".join(TOOLS) + " |", "|---|" + "---|" * len(TOOLS)]
    ops = sorted({op for t in TOOLS for x in runs[t] for op in x["calls"]})
    for op in ops:
        cells = []
        for t in TOOLS:
            n = statistics.mean(x["calls"].get(op, 0) for x in runs[t])
            cells.append(f"{n:.1f}".rstrip("0").rstrip(".") if n else "")
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    if fleet:
        one = median([x["wall"] for x in k])
        lines += ["", f"### Fleet: {args.fleet} services in one `kirikae deploy -c … -c …` "
                  f"(--concurrency {fleet[0]['concurrency']})", "",
                  "| | services | wall time, s | vs one service | notice lag (last), s | API calls | "
                  "peak API calls in ~1 s | peak RSS, MiB |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| one service (above) | 1 | {one:.2f} | 1.00 | {median([x['lag'] for x in k]):.2f} | "
                  f"{median([x['total'] for x in k]):.0f} | {median([x['peak_rate'] for x in k]):.0f} | "
                  f"{median([x['rss_kib'] for x in k]) / 1024:.1f} |"]
        for f in fleet:
            lines.append(f"| {f['label']} | {args.fleet} | {f['wall']:.2f} | {f['wall'] / one:.2f} | "
                         f"{f['lag']:.2f} | {f['total']} | {f['peak_rate']} | {f['rss_kib'] / 1024:.1f} |")
    lines += ["", "Reading the numbers:", ""] + notes(args, runs, fleet) + ["", END]
    return "\n".join(lines) + "\n"


def notes(args, runs, fleet):
    waited = median([x["duration"] for t in TOOLS[1:] for x in runs[t]])
    k_calls = median([x["total"] for x in runs["kirikae"]])
    out = [
        "- The pollers' lag is where the deployment's end falls between two of their polls (GetDeployment at "
        "once, then every 15 s): anywhere from 0 to 15 s, 7.5 s on average over deploys of random length. "
        f"Here a deployment ends {waited:.1f} s after it is created, so their poll at 15 s sees it "
        f"{15 - waited:.1f} s late. kirikae polls every second, and twice a second once blue's termination "
        "wait has begun: whatever the deploy's length, it notices a success that follows that wait (as here) "
        "within 0.5 s plus one call, and any other end within a second plus one call.",
        f"- API calls grow with the wait. At time scale {args.time_scale:g} a deploy waits about {waited:.1f} s; "
        f"kirikae's {k_calls:.0f} calls are its read-only checks before changing anything (cluster, target "
        "groups, listeners, application, group, service, task definition, running deployments) and about two "
        "calls per second of waiting (GetDeployment with GetDeploymentTarget, for the live progress). On AWS, "
        "where the same deploy lasts minutes, that is ~2 calls/s of waiting against the waiter's one per 15 s: "
        "the price of noticing the end within a second, kept inside kirikae's API-call budget.",
        "- Peak RSS is the tool's own process (wait4's ru_maxrss); the sandbox and the tasks are not counted.",
    ]
    if fleet:
        budgeted = fleet[0]
        out.append(
            "- Fleet: kirikae's API-call budget (default 10 calls/s with bursts of 20, shared by every service "
            "of a run, RegisterTaskDefinition also 1/s) runs on real time, while the sandbox compresses AWS "
            f"time {args.time_scale:g}-fold: {args.fleet} services need about {budgeted['total']} calls, which "
            f"the budget spreads over at least {(budgeted['total'] - 20) / 10:.0f} s, whereas each deployment "
            "lasts a few seconds here. On AWS the deployments themselves take minutes; what the budget costs "
            "there is the read-only checks (~13 calls per service) plus slower polling while many services "
            "wait (20 services: every ~4 s instead of every second). The row without a budget "
            "(`--max-api-calls-per-second 0`) is what the sandbox allows and AWS's throttling would not.")
    return out


# --- main ------------------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description="kirikae vs aws ecs deploy vs boto3, on one sandbox")
    p.add_argument("--kirikae", help="the kirikae binary (default: build target/release/kirikae)")
    p.add_argument("--time-scale", type=float, default=60.0, help="sandbox time scale (default 60)")
    p.add_argument("--runs", type=int, default=3, help="measured runs per tool (default 3)")
    p.add_argument("--fleet", type=int, default=20, help="services in the fleet case (0: skip; default 20)")
    p.add_argument("--no-write", action="store_true", help="print the results, leave bench/RESULTS.md")
    args = p.parse_args()
    command = "python3 bench/deploy_side_by_side.py" + "".join(f" {a}" for a in sys.argv[1:])

    if args.kirikae:
        kirikae = os.path.abspath(args.kirikae)
    else:
        log("building the release binary: cargo build --release -p kirikae")
        subprocess.run(["cargo", "build", "--release", "-p", "kirikae"], cwd=ROOT, check=True)
        kirikae = os.path.join(ROOT, "target", "release", "kirikae")
    if subprocess.run([sys.executable, "-m", "awscli", "--version"], capture_output=True).returncode != 0:
        sys.exit("the AWS CLI is missing: pip install awscli")
    budget = "--max-api-calls-per-second" in subprocess.run(
        [kirikae, "deploy", "--help"], capture_output=True, text=True).stdout

    work = tempfile.mkdtemp(prefix="kirikae-bench-")
    sb = Sandbox(kirikae, args.time_scale)
    log(f"sandbox {sb.url} at time scale {args.time_scale:g}; files and logs in {work}")
    try:
        env = dict(os.environ, AWS_ENDPOINT_URL=sb.url, **ENV)
        env.pop("AWS_PROFILE", None)
        sb.ecs.create_cluster(clusterName=CLUSTER)
        web = Project(work, "web")
        listeners = provision_service(sb, "web")
        setup = subprocess.run([kirikae, "deploy", "-c", web.config], env=env, capture_output=True, text=True)
        if setup.returncode != 0:
            sys.exit(f"creating the service failed:\n{setup.stderr}")
        wait_steady(sb, ["web"])

        argv = {
            "kirikae": [kirikae, "deploy", "-c", web.config, "--output", "json"],
            "aws ecs deploy": [sys.executable, "-m", "awscli", "ecs", "deploy", "--cluster", CLUSTER,
                               "--service", "web", "--task-definition", web.task_definition,
                               "--codedeploy-appspec", web.appspec,
                               "--codedeploy-application", f"AppEcs-{CLUSTER}-web",
                               "--codedeploy-deployment-group", f"DgpEcs-{CLUSTER}-web"],
            "seed boto3": [sys.executable, os.path.join(ROOT, "bench", "seed_boto3_deploy.py"),
                           "--cluster", CLUSTER, "--service", "web", "--task-definition", web.task_definition,
                           "--container", "web", "--port", "8080", "--target-groups", "web-blue", "web-green",
                           "--prod-listener", listeners[80], "--test-listener", listeners[8080],
                           "--service-role", ROLE, "--subnets", "subnet-a"],
        }
        runs = {t: [] for t in TOOLS}
        tag = 1
        for i in range(args.runs):
            for tool in TOOLS:
                tag += 1
                web.image(f"v{tag}")
                logdir = os.path.join(work, f"run{i + 1}")
                os.makedirs(logdir, exist_ok=True)
                r = measure(sb, tool, argv[tool], env, [web], logdir)
                runs[tool].append(r)
                log(f"run {i + 1} {tool:15} wall {r['wall']:6.2f} s  lag {r['lag']:6.2f} s  "
                    f"calls {r['total']:3}  rss {r['rss_kib'] / 1024:6.1f} MiB")

        fleet = []
        if args.fleet > 0:
            names = [f"fleet-{i:02}" for i in range(args.fleet)]
            projects = [Project(work, n) for n in names]
            for n in names:
                provision_service(sb, n)
            concurrency = min(args.fleet, 64)
            configs = [a for pr in projects for a in ("-c", pr.config)]
            base = [kirikae, "deploy", *configs, "--concurrency", str(concurrency), "--output", "json"]
            log(f"fleet: creating {args.fleet} services")
            setup = subprocess.run(base, env=env, capture_output=True, text=True)
            if setup.returncode != 0:
                sys.exit(f"creating the fleet failed:\n{setup.stderr[-4000:]}")
            wait_steady(sb, names)
            variants = [("kirikae, default API budget", [])]
            if budget:
                variants.append(("kirikae, no API budget", ["--max-api-calls-per-second", "0"]))
            for label, extra in variants:
                tag += 1
                for pr in projects:
                    pr.image(f"v{tag}")
                logdir = os.path.join(work, "fleet")
                os.makedirs(logdir, exist_ok=True)
                r = measure(sb, label, base + extra, env, projects, logdir)
                r.update(label=label, concurrency=concurrency)
                fleet.append(r)
                log(f"fleet {label}: wall {r['wall']:.2f} s  lag {r['lag']:.2f} s  calls {r['total']}  "
                    f"peak {r['peak_rate']}/s")
    finally:
        sb.stop()

    section = report(args, runs, fleet, command, kirikae)
    print(section)
    if not args.no_write:
        write_results(BEGIN, END, section)
        log(f"wrote {os.path.relpath(RESULTS, ROOT)}")
    shutil.rmtree(work, ignore_errors=True)
    lag = median([x["lag"] for x in runs["kirikae"]])
    if lag >= 1.0:
        sys.exit(f"kirikae's notice lag ({lag:.2f} s) is not under 1 s")


if __name__ == "__main__":
    main()
