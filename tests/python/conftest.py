"""Fixtures: a real `kirikae sandbox` process per test, and boto3 / AWS CLI clients pointed at it."""
import os
import signal
import subprocess
import time
import urllib.request

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KIRIKAE = os.environ.get("KIRIKAE_BIN", os.path.join(ROOT, "target", "debug", "kirikae"))
TIME_SCALE = float(os.environ.get("KIRIKAE_TEST_TIME_SCALE", "60"))

CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


class Sandbox:
    def __init__(self, extra_args=(), time_scale=None):
        if not os.path.exists(KIRIKAE):
            pytest.fail(f"kirikae binary not found at {KIRIKAE}: run `cargo build` or set KIRIKAE_BIN")
        self.time_scale = time_scale or TIME_SCALE
        self.proc = subprocess.Popen(
            [KIRIKAE, "sandbox", "--listen", "127.0.0.1:0", "--time-scale", str(self.time_scale), *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.proc.kill()
            pytest.fail(f"sandbox did not print its URL; stderr: {self.proc.stderr.read()}")

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, **CREDS)

    def calls(self):
        import json

        with urllib.request.urlopen(self.url + "/_kirikae/calls", timeout=5) as r:
            return json.load(r)

    def aws_cli(self, *args):
        """Run the AWS CLI against the sandbox; returns (exit code, stdout, stderr)."""
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=self.url, AWS_PAGER="")
        p = subprocess.run(["aws", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode


@pytest.fixture
def sandbox():
    sb = Sandbox()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def make_sandbox():
    """A factory for sandboxes started with extra flags (e.g. `--hook F=CMD`) or their own time scale;
    every sandbox it starts is stopped after the test."""
    started = []

    def make(*extra_args, time_scale=None):
        sb = Sandbox(extra_args, time_scale=time_scale)
        started.append(sb)
        return sb

    try:
        yield make
    finally:
        for sb in started:
            sb.stop()


def wait_for(what, check, timeout=60.0, interval=0.1):
    """Poll `check()` until it returns a truthy value; fail with `what` after `timeout` real seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as e:  # a check may assert its way to "not yet"
            last = e
            last_ok = False
        else:
            last_ok = bool(last)
        if last_ok:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")
