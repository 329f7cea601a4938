"""Issue 3, "the production listener's switch is atomic": clients sending requests through the production
listener during a whole ECSAllAtOnce deployment (install, switch, deletion and draining of the original
task set) see no failed request, and no request that started after the switch reaches the original."""
import threading
import time
import urllib.request

import bluegreen as bg
from conftest import wait_for
from stack import version_of

CLIENTS = 3


class Hammer:
    """Client threads sending GETs through a listener back to back, each on a new connection; every
    request is recorded as (start, end, outcome) with wall-clock times, which are comparable with the
    timestamps the sandbox reports (it reports real time, whatever its time scale)."""

    def __init__(self, url):
        self.url = url
        self.results = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(CLIENTS)]

    def run(self):
        while not self.stopping.is_set():
            start = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as r:
                    outcome = (r.status, version_of(r.read().decode()))
            except Exception as e:  # any HTTP error status or connection failure is a failed request
                outcome = ("error", repr(e))
            self.results.append((start, time.time(), outcome))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=20)

    def count(self):
        return len(self.results)


def test_all_at_once_switch_drops_nothing_and_is_atomic(sandbox):
    s = bg.setup(sandbox)
    with Hammer(f"http://{s['dns']}:80/") as hammer:
        wait_for("clients to be served by the original", lambda: hammer.count() >= 30)
        d = bg.deploy(s)
        bg.wait_successful(s, d)
        # Keep going while the original task set is deleted and its targets drain, and a little after.
        bg.wait_only_primary(s, "web:2")
        n = hammer.count()
        wait_for("more requests after the original is gone", lambda: hammer.count() >= n + 30)
    results = sorted(hammer.results)

    failed = [r for r in results if r[2][0] != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed, e.g. {failed[:5]}"

    # The switch instant, from what the sandbox reports: with ECSAllAtOnce, AllowTraffic is one
    # ModifyListener of the production listener (green 100 / blue 0), made under the sandbox's world lock;
    # the event's startTime and endTime are both taken under that lock before the change, so every routing
    # decision made after endTime sees the new weights. A request that *started* after it was therefore
    # routed after it, and must reach v2; one that *ended* before AllowTraffic started must have reached v1
    # (green is at weight 0 until then).
    allow = bg.events(s, d)["AllowTraffic"]
    assert allow["status"] == "Succeeded"
    begun, switched = bg.epoch(allow["startTime"]), bg.epoch(allow["endTime"])
    after = [r for r in results if r[0] > switched]
    before = [r for r in results if r[1] < begun]
    assert len(before) >= 30 and len(after) >= 30, (len(before), len(after))
    print(f"{len(results)} requests, {len(before)} before the switch, {len(after)} after")
    late = [r for r in after if r[2] != (200, "v2")]
    assert not late, f"{len(late)} requests started after the switch at {switched} got {late[:5]}"
    early = [r for r in before if r[2] != (200, "v1")]
    assert not early, f"{len(early)} requests ended before the switch at {begun} got {early[:5]}"
