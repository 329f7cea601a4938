#!/usr/bin/env python3
"""The boto3 deploy script kirikae replaces ("the seed"), as an SRE team ran it from CI for each ECS service.

For one service it:
  1. gets or creates the CodeDeploy application `AppEcs-{cluster}-{service}` (compute platform ECS);
  2. gets or creates the deployment group (service role, BLUE_GREEN with traffic control, the target group
     pair with production and test listeners, blue terminated 2 minutes after success, continue without a
     ready wait);
  3. registers the task definition (the new image);
  4. creates the service with the CODE_DEPLOY controller if it does not exist, else creates a deployment
     (`CodeDeployDefault.ECSAllAtOnce`) whose AppSpec points at the new task definition;
  5. waits with boto3's `deployment_successful` waiter, default settings (a GetDeployment every 15 s),
     so CI can post to Slack.

It uses the default boto3 session: credentials, region and endpoint come from the environment
(`AWS_ENDPOINT_URL` points it at a `kirikae sandbox`). The benchmark in this folder runs it unchanged.

    python3 bench/seed_boto3_deploy.py --cluster demo --service web --task-definition td.json \
        --target-groups web-blue web-green --prod-listener ARN --test-listener ARN \
        --service-role arn:aws:iam::123456789012:role/ecsCodeDeployRole --container web --port 8080 \
        --subnets subnet-a
"""
import argparse
import json
import sys
import time

import boto3


def get_or_create_application(cd, name):
    try:
        cd.get_application(applicationName=name)
    except cd.exceptions.ApplicationDoesNotExistException:
        cd.create_application(applicationName=name, computePlatform="ECS")
        print(f"created application {name}", file=sys.stderr)


def get_or_create_deployment_group(cd, app, name, a):
    try:
        cd.get_deployment_group(applicationName=app, deploymentGroupName=name)
        return
    except cd.exceptions.DeploymentGroupDoesNotExistException:
        pass
    cd.create_deployment_group(
        applicationName=app,
        deploymentGroupName=name,
        serviceRoleArn=a.service_role,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 2,
            },
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
        },
        loadBalancerInfo={
            "targetGroupPairInfoList": [{
                "targetGroups": [{"name": n} for n in a.target_groups],
                "prodTrafficRoute": {"listenerArns": [a.prod_listener]},
                "testTrafficRoute": {"listenerArns": [a.test_listener]},
            }]
        },
        ecsServices=[{"serviceName": a.service, "clusterName": a.cluster}],
    )
    print(f"created deployment group {name}", file=sys.stderr)


def service_exists(ecs, cluster, service):
    out = ecs.describe_services(cluster=cluster, services=[service])
    return any(s["status"] != "INACTIVE" for s in out["services"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cluster", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--task-definition", required=True, help="RegisterTaskDefinition input as JSON")
    p.add_argument("--container", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target-groups", nargs=2, required=True, metavar=("BLUE", "GREEN"))
    p.add_argument("--prod-listener", required=True)
    p.add_argument("--test-listener", required=True)
    p.add_argument("--service-role", required=True)
    p.add_argument("--subnets", nargs="+", default=["subnet-0"])
    p.add_argument("--desired-count", type=int, default=2)
    a = p.parse_args()

    ecs, cd, elb = boto3.client("ecs"), boto3.client("codedeploy"), boto3.client("elbv2")
    app = f"AppEcs-{a.cluster}-{a.service}"
    group = f"DgpEcs-{a.cluster}-{a.service}"
    get_or_create_application(cd, app)
    get_or_create_deployment_group(cd, app, group, a)

    with open(a.task_definition) as f:
        td = ecs.register_task_definition(**json.load(f))["taskDefinition"]["taskDefinitionArn"]
    print(f"registered {td}", file=sys.stderr)
    network = {"awsvpcConfiguration": {"subnets": a.subnets, "assignPublicIp": "DISABLED"}}

    if not service_exists(ecs, a.cluster, a.service):
        blue = elb.describe_target_groups(Names=[a.target_groups[0]])["TargetGroups"][0]["TargetGroupArn"]
        ecs.create_service(
            cluster=a.cluster, serviceName=a.service, taskDefinition=td, desiredCount=a.desired_count,
            launchType="FARGATE", networkConfiguration=network,
            deploymentController={"type": "CODE_DEPLOY"},
            loadBalancers=[{"targetGroupArn": blue, "containerName": a.container, "containerPort": a.port}],
        )
        # ECS's services_stable waiter looks at `deployments`, which a CODE_DEPLOY service leaves empty:
        # wait for the tasks the way that waiter would, every 15 s.
        while True:
            svc = ecs.describe_services(cluster=a.cluster, services=[a.service])["services"][0]
            if svc["runningCount"] >= a.desired_count:
                break
            time.sleep(15)
        print(json.dumps({"service_created": a.service, "task_definition": td}))
        return

    appspec = {
        "version": 0.0,
        "Resources": [{
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "TaskDefinition": td,
                    "LoadBalancerInfo": {"ContainerName": a.container, "ContainerPort": a.port},
                    "PlatformVersion": "LATEST",
                    "NetworkConfiguration": {"AwsvpcConfiguration": {
                        "Subnets": a.subnets, "AssignPublicIp": "DISABLED"}},
                },
            }
        }],
    }
    deployment = cd.create_deployment(
        applicationName=app,
        deploymentGroupName=group,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(appspec)}},
    )["deploymentId"]
    print(f"created deployment {deployment}; waiting", file=sys.stderr)
    # The waiter's defaults: GetDeployment now, then every 15 s, at most 120 times.
    cd.get_waiter("deployment_successful").wait(deploymentId=deployment)
    print(json.dumps({"deployment_id": deployment, "task_definition": td, "status": "Succeeded"}))


if __name__ == "__main__":
    main()
