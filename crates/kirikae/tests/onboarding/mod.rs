//! What `kirikae init` and `kirikae setup` start from: a team's stack before Blue/Green — a cluster, one
//! `ip` target group `web-blue`, an ALB `web-alb` whose only listener (80) forwards to it — built with
//! the AWS SDK for Rust as their Terraform would; and running the commands as a user does.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::Path;
use std::process::Output;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, ProtocolEnum, TargetGroupAttribute,
    TargetGroupTuple, TargetTypeEnum,
};

use super::deploy_support::{Project, Sandbox, Stack};

/// The deregistration delay the team set on `web-blue` (AWS's default is 300 s): setup copies it.
pub const DEREGISTRATION_DELAY: &str = "7";

/// A sandbox with a cluster, `web-blue` and `web-alb` listening on 80 only.
pub async fn one_group_stack() -> Stack {
    let sandbox = Sandbox::start_scaled("60", &[]);
    let config = sandbox.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let codedeploy = aws_sdk_codedeploy::Client::new(&config);
    ecs.create_cluster()
        .cluster_name("demo")
        .send()
        .await
        .expect("create cluster");
    let tg = elb
        .create_target_group()
        .name("web-blue")
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id("vpc-0sandbox")
        .target_type(TargetTypeEnum::Ip)
        .health_check_path("/health")
        .health_check_interval_seconds(5)
        .health_check_timeout_seconds(2)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(2)
        .send()
        .await
        .expect("create target group");
    let tg_arn = tg.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    elb.modify_target_group_attributes()
        .target_group_arn(&tg_arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value(DEREGISTRATION_DELAY)
                .build(),
        )
        .send()
        .await
        .expect("set the deregistration delay");
    let lb = elb
        .create_load_balancer()
        .name("web-alb")
        .subnets("subnet-a")
        .subnets("subnet-b")
        .send()
        .await
        .expect("create ALB");
    let lb = &lb.load_balancers()[0];
    let listener = elb
        .create_listener()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg_arn)
                .build(),
        )
        .send()
        .await
        .expect("create listener");
    Stack {
        dns: lb.dns_name().unwrap().to_string(),
        prod_listener: listener.listeners()[0].listener_arn().unwrap().to_string(),
        test_listener: String::new(),
        target_groups: vec![tg_arn],
        sandbox,
        ecs,
        elb,
        codedeploy,
    }
}

/// `kirikae SUBCOMMAND -c CONFIG ARGS` with the project's environment (its files written).
pub fn run(project: &Project, subcommand: &str, config: &Path, args: &[&str]) -> Output {
    project
        .kirikae(subcommand)
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("run kirikae")
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what} exited {:?} (expected {code})\n--- stderr\n{}\n--- stdout\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs a Python snippet with boto3 pointed at the sandbox; its stdout parsed as JSON.
pub fn boto3(stack: &Stack, code: &str) -> serde_json::Value {
    let script = format!(
        "import boto3, json\nclient = lambda s: boto3.client(s, endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n{code}",
        stack.sandbox.url
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// The deploy tests' stack with both listeners' default rules forwarding to both groups, weights 1 on
/// blue and 0 on green, as ECS-native Blue/Green requires (AWS's migration guide).
pub async fn native_stack() -> Stack {
    native_stack_with(&[]).await
}

/// [`native_stack`] on a sandbox started with extra arguments (e.g. `--hook FUNCTION=COMMAND`).
pub async fn native_stack_with(extra: &[&str]) -> Stack {
    let stack = Stack::with_sandbox("60", extra).await;
    let mut both = ForwardActionConfig::builder();
    for (tg, w) in stack.target_groups.iter().zip([1, 0]) {
        both = both.target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(tg)
                .weight(w)
                .build(),
        );
    }
    let action = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(both.build())
        .build();
    for listener in [&stack.prod_listener, &stack.test_listener] {
        stack
            .elb
            .modify_listener()
            .listener_arn(listener)
            .default_actions(action.clone())
            .send()
            .await
            .expect("forward to both groups");
    }
    stack
}

/// The stack's project with an `ecs:` block (ECS-native Blue/Green) instead of `codedeploy:`.
pub fn native_project(stack: &Stack) -> Project {
    stack.project().config("/codedeploy", serde_json::Value::Null).config(
        "/ecs",
        serde_json::json!({
            "strategy": "BLUE_GREEN",
            "bake_time_minutes": 1,
            "target_groups": ["web-blue", "web-green"],
            "production_listener": {"load_balancer": "web-alb", "port": 80},
            "test_listener": {"load_balancer": "web-alb", "port": 8080},
            "infrastructure_role": "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers"
        }),
    )
}
