#!/usr/bin/env python3
"""The sandbox's own overhead: requests/s and latency through an ALB listener vs straight to the task
behind it, in the same run.

    python3 bench/sandbox_overhead.py                  # target/release/kirikae if built, else target/debug
    python3 bench/sandbox_overhead.py --kirikae target/debug/kirikae --seconds 2 --rounds 1 --no-write

One `kirikae sandbox` holds a CODE_DEPLOY service of ONE kirikae/demo task behind an ALB listener (built
with boto3 by tests/python/stack.py, so it needs `pip install -r tests/requirements.txt`). Then, for each
connection mode, `--rounds` times and in alternating order, `--clients` client processes send GET / back to
back for `--seconds` each, either to the listener (`http://<lb dns>:80/`: accept, route under the world
lock, forward over a pooled connection to the task) or straight to the task's own address (the target
DescribeTargetHealth lists). Both paths end at the same process, so the difference is the proxy.

  * keep-alive: each client holds one connection (what browsers and SDKs do);
  * new connection: each request opens and closes its own TCP connection (the proxy then also pays for
    an accept; its connection to the task stays pooled).

Reported per path: requests/s over the measured seconds, latency percentiles (client-side, from sending
the request to reading the whole body), failed requests; and the ratios listener/direct. Client
processes run on the same machine as the sandbox and compete with it for CPU, so absolute numbers say
more about the machine than about the sandbox; the ratio is what to watch. The results line goes to
bench/RESULTS.md between this script's markers (other sections are left alone) unless --no-write.
"""
import argparse
import datetime
import http.client
import json
import multiprocessing
import os
import platform
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
import stack  # noqa: E402  (tests/python/stack.py: the infrastructure the test suites build)

from common import RESULTS, Sandbox, write_results  # noqa: E402  (bench/common.py)

BEGIN = "<!-- sandbox-overhead: begin (written by bench/sandbox_overhead.py) -->"
END = "<!-- sandbox-overhead: end -->"


def client(args):
    """One client process: GET / on (host, port) back to back until `seconds` pass. Returns the latencies
    (seconds) of answered requests and the number of failed ones (non-200 or connection errors)."""
    host, port, keep_alive, seconds = args
    latencies, failed, conn = [], 0, None
    deadline = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        if start >= deadline:
            break
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", "/", headers={} if keep_alive else {"Connection": "close"})
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
            if not keep_alive or r.will_close:
                conn.close()
                conn = None
        except OSError:
            ok = False
            if conn is not None:
                conn.close()
            conn = None
        if ok:
            latencies.append(time.perf_counter() - start)
        else:
            failed += 1
    if conn is not None:
        conn.close()
    return latencies, failed


def load(pool, host, port, keep_alive, clients, seconds):
    """`clients` processes against one address for `seconds`: (requests/s, latencies, failed)."""
    results = pool.map(client, [(host, port, keep_alive, seconds)] * clients)
    latencies = [x for lat, _ in results for x in lat]
    return len(latencies) / seconds, latencies, sum(f for _, f in results)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def summary(rates, latencies, failed):
    lat = sorted(latencies)
    return {"rps": sum(rates) / len(rates), "failed": failed,
            **{f"p{p}": percentile(lat, p) * 1000 for p in (50, 90, 99)}, "max": lat[-1] * 1000 if lat else 0}


def measure(pool, targets, keep_alive, args):
    """Alternate the two paths round by round (listener first in even rounds) so drift hits both."""
    runs = {name: ([], [], 0) for name in targets}
    for r in range(args.rounds):
        order = list(targets) if r % 2 == 0 else list(reversed(targets))
        for name in order:
            host, port = targets[name]
            rps, lat, failed = load(pool, host, port, keep_alive, args.clients, args.seconds)
            rates, lats, fails = runs[name]
            rates.append(rps)
            lats.extend(lat)
            runs[name] = (rates, lats, fails + failed)
    return {name: summary(*runs[name]) for name in targets}


def build(sb):
    s = stack.build(sb, desired=1)
    elb = s["elb"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = elb.describe_target_health(TargetGroupArn=s["blue"]["TargetGroupArn"])["TargetHealthDescriptions"]
        if [h["TargetHealth"]["State"] for h in health] == ["healthy"] and stack.http_get(f"http://{s['dns']}/")[0] == 200:
            t = health[0]["Target"]
            return {"listener": (s["dns"], 80), "direct": (t["Id"], t["Port"])}
        time.sleep(0.1)
    sys.exit("the task did not become healthy behind the listener")


def binary_label(path):
    return "release" if f"{os.sep}release{os.sep}" in os.path.abspath(path) else "debug"


def report(results, args, binary):
    """Markdown: one table row per mode and path, plus the ratios."""
    day = datetime.date.today().isoformat()
    lines = [BEGIN, "## Sandbox proxy overhead", "",
             f"`python3 bench/sandbox_overhead.py` — {day}, {os.cpu_count()} cores ({platform.machine()}), "
             f"{binary_label(binary)} build, {args.clients} client processes on the same machine, "
             f"{args.rounds} × {args.seconds:g} s per path and mode, one demo task behind the listener.", "",
             "| connections | path | requests/s | p50 ms | p90 ms | p99 ms | max ms | failed |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for mode, r in results.items():
        for path in ("direct", "listener"):
            x = r[path]
            lines.append(f"| {mode} | {path} | {x['rps']:.0f} | {x['p50']:.2f} | {x['p90']:.2f} | {x['p99']:.2f} "
                         f"| {x['max']:.1f} | {x['failed']} |")
    lines += ["", "Listener vs direct, same run:", ""]
    for mode, r in results.items():
        d, lst = r["direct"], r["listener"]
        lines.append(f"* {mode}: {lst['rps'] / d['rps']:.2f}× the requests/s, p50 latency "
                     f"{lst['p50'] / d['p50']:.2f}×, p99 {lst['p99'] / d['p99']:.2f}×")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def main():
    release = os.path.join(ROOT, "target", "release", "kirikae")
    p = argparse.ArgumentParser(description="requests/s through a sandbox listener vs straight to the task")
    p.add_argument("--kirikae", default=release if os.path.exists(release) else
                   os.path.join(ROOT, "target", "debug", "kirikae"),
                   help="the kirikae binary (default: target/release/kirikae if built, else target/debug)")
    p.add_argument("--clients", type=int, default=4, help="concurrent client processes (default 4)")
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round and path (default 5)")
    p.add_argument("--rounds", type=int, default=2, help="rounds per path and mode, alternating (default 2)")
    p.add_argument("--no-write", action="store_true", help="print the results, leave bench/RESULTS.md")
    args = p.parse_args()

    sb = Sandbox(args.kirikae, 60)
    try:
        targets = build(sb)
        results = {}
        with multiprocessing.Pool(args.clients) as pool:
            for mode, keep_alive in (("keep-alive", True), ("new connection", False)):
                load(pool, *targets["listener"], keep_alive, args.clients, 0.5)  # warm up both paths
                load(pool, *targets["direct"], keep_alive, args.clients, 0.5)
                results[mode] = measure(pool, targets, keep_alive, args)
        with urllib.request.urlopen(sb.url + "/_kirikae/health", timeout=5) as r:
            assert r.status == 200, "the sandbox must still be healthy"
    finally:
        sb.stop()

    section = report(results, args, args.kirikae)
    print(section)
    print(json.dumps(results, indent=1))
    if not args.no_write:
        write_results(BEGIN, END, section)
        print(f"wrote {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
