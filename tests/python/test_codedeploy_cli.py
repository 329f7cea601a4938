"""`aws ecs deploy` (the AWS CLI's Blue/Green command) runs against the sandbox unchanged: it reads the
service, the CodeDeploy application and group, registers the task definition, creates the deployment
from the AppSpec file and waits with `deployment_successful`.

The command ignores `--endpoint-url` for its CodeDeploy client, so the sandbox is given to it through
AWS_ENDPOINT_URL (conftest's aws_cli). Its waiter polls every 15 s and cannot be told otherwise, so this
test takes about 15 s of (idle) wall time."""
import json

import bluegreen as bg

APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "replaced by aws ecs deploy"
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 80
"""


def test_aws_ecs_deploy(sandbox, tmp_path):
    s = bg.setup(sandbox)
    td = {"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
          "memory": "512", "containerDefinitions": [{"name": "web", "image": "kirikae/demo:v4", "essential": True,
                                                     "portMappings": [{"containerPort": 80}]}]}
    (tmp_path / "td.json").write_text(json.dumps(td))
    (tmp_path / "appspec.yaml").write_text(APPSPEC)

    rc, out, err = sandbox.aws_cli(
        "ecs", "deploy", "--cluster", "demo", "--service", "web",
        "--task-definition", str(tmp_path / "td.json"), "--codedeploy-appspec", str(tmp_path / "appspec.yaml"),
        "--codedeploy-application", bg.APP, "--codedeploy-deployment-group", bg.GROUP)
    assert rc == 0, f"aws ecs deploy failed:\n{out}\n{err}"

    (d,) = s["cd"].list_deployments(applicationName=bg.APP, deploymentGroupName=bg.GROUP)["deployments"]
    info = bg.info(s, d)
    assert info["status"] == "Succeeded"
    assert info["creator"] == "user"
    # The CLI registered web:2 and put its ARN into the AppSpec it sent.
    content = json.loads(info["revision"]["appSpecContent"]["content"])
    assert content["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"].endswith(":task-definition/web:2")
    assert bg.versions(s) == {(200, "v4")}
    bg.wait_only_primary(s, "web:2")
