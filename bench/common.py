"""What every benchmark script shares: a `kirikae sandbox` process with boto3 clients, and its section of
bench/RESULTS.md (each script rewrites only the text between its own markers)."""
import json
import os
import signal
import subprocess
import sys
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "RESULTS.md")
CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


class Sandbox:
    """`kirikae sandbox` on a free port; `stop()` ends it (SIGTERM, then SIGKILL after 30 s)."""

    def __init__(self, kirikae, time_scale):
        self.proc = subprocess.Popen(
            [kirikae, "sandbox", "--listen", "127.0.0.1:0", "--time-scale", str(time_scale)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.proc.kill()
            sys.exit(f"the sandbox ({kirikae}) did not print its URL (got {self.url!r})")
        self.ecs, self.elb, self.cd = self.client("ecs"), self.client("elbv2"), self.client("codedeploy")

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, **CREDS)

    def calls(self):
        """API calls answered so far, by `service.Operation`."""
        with urllib.request.urlopen(self.url + "/_kirikae/calls", timeout=10) as r:
            return json.load(r)["calls"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def write_results(begin, end, section):
    """Replace the text between `begin` and `end` in bench/RESULTS.md with `section` (which carries both
    markers), or append it when the markers are not there yet."""
    text = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmarks\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(RESULTS, "w") as f:
        f.write(text)
