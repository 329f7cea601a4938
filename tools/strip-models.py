#!/usr/bin/env python3
"""Copy the AWS service models the sandbox needs, minus their documentation text.

The sandbox's codecs and input validation are driven by these models (botocore's service-2.json,
Apache-2.0). Documentation strings are 70-80% of their size and are never read, so they are dropped.
Usage: tools/strip-models.py [REFERENCE_DIR]  (default ../shared/reference/aws-models)
"""
import json, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "reference", "aws-models")
DST = os.path.join(ROOT, "crates", "kirikae-sandbox", "models")
DROP = {"documentation", "documentationUrl", "examples", "deprecatedMessage"}

def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROP}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node

for service in ("ecs", "elbv2", "codedeploy", "cloudwatch", "iam", "sts"):
    with open(os.path.join(SRC, service, "service-2.json")) as f:
        model = strip(json.load(f))
    out = os.path.join(DST, f"{service}.json")
    with open(out, "w") as f:
        json.dump(model, f, separators=(",", ":"), sort_keys=True)
    print(f"{out}: {os.path.getsize(out)} bytes")
