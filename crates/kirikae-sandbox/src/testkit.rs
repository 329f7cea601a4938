//! A region built through the services' own operations, for tests that check what one service answers
//! given what the others hold: a cluster, two `ip` target groups, an ALB with a production (80) and a
//! test (8080) listener forwarding to the first group, a Fargate task definition, and (on request) a
//! CODE_DEPLOY service behind the first group with an ECS application and deployment group over it.
//!
//! Nothing runs in the background: tasks start, health checks run and deployments advance only when a
//! test calls the reconcile step it wants.
#![allow(dead_code)] // each test module uses its own part of the kit

use std::sync::Arc;

use serde_json::{Value, json};

use crate::protocol::{ApiError, DEFAULT_ACCOUNT};
use crate::world::{Ctx, RegionKey, Shared, World};

pub const ROLE: &str = "arn:aws:iam::000000000000:role/ecsCodeDeployRole";

pub struct Kit {
    /// Listeners are real proxies: creating one needs a runtime to spawn on.
    rt: tokio::runtime::Runtime,
    pub shared: Arc<Shared>,
    pub world: World,
    pub now: f64,
    pub blue: String,
    pub green: String,
    pub lb: String,
    pub prod: String,
    pub test: String,
    pub td: String,
}

pub fn network() -> Value {
    json!({"awsvpcConfiguration": {"subnets": ["subnet-a"], "assignPublicIp": "DISABLED"}})
}

impl Kit {
    /// The cluster, target groups, load balancer, listeners and task definition (no service yet).
    pub fn new() -> Kit {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let shared = {
            let _in = rt.enter();
            Shared::for_tests()
        };
        let mut k = Kit {
            rt,
            shared,
            world: World::default(),
            now: 1_700_000_000.0,
            blue: String::new(),
            green: String::new(),
            lb: String::new(),
            prod: String::new(),
            test: String::new(),
            td: String::new(),
        };
        k.ecs_ok("CreateCluster", json!({"clusterName": "demo"}));
        k.blue = k.target_group("web-blue");
        k.green = k.target_group("web-green");
        k.lb = k.load_balancer("web-alb");
        let (lb, blue) = (k.lb.clone(), k.blue.clone());
        k.prod = k.listener(&lb, 80, &blue);
        k.test = k.listener(&lb, 8080, &blue);
        k.td = k.ecs_ok(
            "RegisterTaskDefinition",
            json!({
                "family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                "requiresCompatibilities": ["FARGATE"],
                "containerDefinitions": [{"name": "web", "image": "kirikae/demo:v1", "essential": true,
                                          "portMappings": [{"containerPort": 80}]}]
            }),
        )["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap()
            .to_string();
        k
    }

    /// `new`, plus the CODE_DEPLOY service `web` behind the blue group.
    pub fn with_service() -> Kit {
        let mut k = Kit::new();
        let input = k.service_input("CODE_DEPLOY");
        k.ecs_ok("CreateService", input);
        k
    }

    /// `with_service`, plus application `app` and deployment group `dg` (both listeners).
    pub fn with_group() -> Kit {
        let mut k = Kit::with_service();
        k.codedeploy_ok(
            "CreateApplication",
            json!({"applicationName": "app", "computePlatform": "ECS"}),
        );
        let input = k.group_input(&k.prod.clone(), Some(&k.test.clone()));
        k.codedeploy_ok("CreateDeploymentGroup", input);
        k
    }

    pub fn cx(&mut self) -> Ctx<'_> {
        let key = RegionKey {
            account: DEFAULT_ACCOUNT.into(),
            region: "us-east-1".into(),
        };
        self.world.ctx(&self.shared, &key, self.now)
    }

    pub fn ecs(&mut self, op: &str, input: Value) -> Result<Value, ApiError> {
        let rt = self.rt.handle().clone();
        let _in = rt.enter();
        crate::ecs::handle(&mut self.cx(), op, &input)
    }

    pub fn elbv2(&mut self, op: &str, input: Value) -> Result<Value, ApiError> {
        let rt = self.rt.handle().clone();
        let _in = rt.enter();
        crate::elbv2::handle(&mut self.cx(), op, &input)
    }

    pub fn codedeploy(&mut self, op: &str, input: Value) -> Result<Value, ApiError> {
        let rt = self.rt.handle().clone();
        let _in = rt.enter();
        crate::codedeploy::handle(&mut self.cx(), op, &input)
    }

    pub fn ecs_ok(&mut self, op: &str, input: Value) -> Value {
        self.ecs(op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    pub fn elbv2_ok(&mut self, op: &str, input: Value) -> Value {
        self.elbv2(op, input)
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    pub fn codedeploy_ok(&mut self, op: &str, input: Value) -> Value {
        self.codedeploy(op, input)
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    pub fn target_group(&mut self, name: &str) -> String {
        self.elbv2_ok(
            "CreateTargetGroup",
            json!({"Name": name, "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1", "TargetType": "ip"}),
        )["TargetGroups"][0]["TargetGroupArn"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn load_balancer(&mut self, name: &str) -> String {
        self.elbv2_ok(
            "CreateLoadBalancer",
            json!({"Name": name, "Subnets": ["subnet-a", "subnet-b"], "Type": "application"}),
        )["LoadBalancers"][0]["LoadBalancerArn"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn listener(&mut self, lb: &str, port: u16, tg: &str) -> String {
        self.elbv2_ok(
            "CreateListener",
            json!({"LoadBalancerArn": lb, "Protocol": "HTTP", "Port": port,
                   "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}]}),
        )["Listeners"][0]["ListenerArn"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// CreateService for `web` with `controller`, behind the blue group.
    pub fn service_input(&self, controller: &str) -> Value {
        json!({
            "cluster": "demo", "serviceName": "web", "taskDefinition": self.td, "desiredCount": 1,
            "launchType": "FARGATE", "networkConfiguration": network(),
            "deploymentController": {"type": controller},
            "loadBalancers": [{"targetGroupArn": self.blue, "containerName": "web", "containerPort": 80}],
        })
    }

    /// CreateDeploymentGroup `dg` of `app` for demo/web over the stack's pair and these listeners.
    pub fn group_input(&self, prod: &str, test: Option<&str>) -> Value {
        let mut pair = json!({
            "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
            "prodTrafficRoute": {"listenerArns": [prod]},
        });
        if let Some(t) = test {
            pair["testTrafficRoute"] = json!({"listenerArns": [t]});
        }
        json!({
            "applicationName": "app", "deploymentGroupName": "dg", "serviceRoleArn": ROLE,
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "loadBalancerInfo": {"targetGroupPairInfoList": [pair]},
            "ecsServices": [{"serviceName": "web", "clusterName": "demo"}],
        })
    }

    /// An AppSpecContent revision deploying the stack's task definition.
    pub fn revision(&self) -> Value {
        let content = json!({"version": 0.0, "Resources": [{"TargetService": {
            "Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": self.td,
                "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]})
        .to_string();
        json!({"revisionType": "AppSpecContent", "appSpecContent": {"content": content}})
    }

    /// CreateDeployment on `dg`; returns the deployment id.
    pub fn deploy(&mut self) -> String {
        let revision = self.revision();
        self.codedeploy_ok(
            "CreateDeployment",
            json!({"applicationName": "app", "deploymentGroupName": "dg", "revision": revision}),
        )["deploymentId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// One controller pass of CodeDeploy (deployments advance; ECS and ELBv2 are left alone).
    pub fn advance_deployments(&mut self) {
        let rt = self.rt.handle().clone();
        let _in = rt.enter();
        crate::codedeploy::reconcile(&mut self.cx());
    }

    /// The deployment's `deploymentInfo`.
    pub fn deployment(&mut self, id: &str) -> Value {
        self.codedeploy_ok("GetDeployment", json!({"deploymentId": id}))["deploymentInfo"].clone()
    }

    /// The service `web` as DescribeServices shows it.
    pub fn service(&mut self) -> Value {
        self.ecs_ok(
            "DescribeServices",
            json!({"cluster": "demo", "services": ["web"]}),
        )["services"][0]
            .clone()
    }
}
