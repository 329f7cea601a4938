//! ECS-native Blue/Green through the official AWS SDK for Rust (what `kirikae deploy` will speak on the
//! native path): a service with the ECS controller and the BLUE_GREEN strategy, an UpdateService whose
//! service deployment is found by ListServiceDeployments and followed with DescribeServiceDeployments
//! (the stages the sandbox reports parse, PRE_PRODUCTION_TRAFFIC_SHIFT too, which the model's
//! stage enum lacks), a PAUSE hook continued with ContinueServiceDeployment, and the production rule's
//! weights on green at the end.

mod support;

use aws_sdk_ecs::types::{
    AdvancedConfiguration, AwsVpcConfiguration, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType, DeploymentLifecycleHook, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentStrategy, LaunchType, LoadBalancer,
    NetworkConfiguration, ServiceDeploymentStatus,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};
use support::sdk_stack::{load_balancer, register_demo, version_at};
use support::{SandboxProcess, wait_for};

const ROLE: &str = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers";

/// A forward over both groups, `weights[i]` on `groups[i]`.
fn forward(groups: &[String], weights: [i32; 2]) -> Action {
    let mut config = ForwardActionConfig::builder();
    for (tg, w) in groups.iter().zip(weights) {
        config = config.target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(tg)
                .weight(w)
                .build(),
        );
    }
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(config.build())
        .build()
}

/// The weight a rule's forward gives each group.
async fn weights(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    rule: &str,
    groups: &[String],
) -> Vec<i32> {
    let out = elb.describe_rules().rule_arns(rule).send().await.unwrap();
    let action = &out.rules()[0].actions()[0];
    let tuples = action.forward_config().unwrap().target_groups();
    groups
        .iter()
        .map(|g| {
            tuples
                .iter()
                .find(|t| t.target_group_arn() == Some(g.as_str()))
                .and_then(|t| t.weight())
                .unwrap_or(0)
        })
        .collect()
}

async fn status_of(ecs: &aws_sdk_ecs::Client, arn: &str) -> aws_sdk_ecs::types::ServiceDeployment {
    ecs.describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .expect("DescribeServiceDeployments")
        .service_deployments()[0]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_follows_a_native_blue_green_service_deployment() {
    let sandbox = SandboxProcess::start();
    let config = sandbox.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    ecs.create_cluster()
        .cluster_name("demo")
        .send()
        .await
        .unwrap();
    let net = load_balancer(&elb, "web", &[(80, 0)], Some("20")).await;
    let groups = net.target_groups.clone();
    // The production listener's default rule forwards to both groups, 1/0, as AWS requires.
    elb.modify_listener()
        .listener_arn(&net.listeners[0])
        .default_actions(forward(&groups, [1, 0]))
        .send()
        .await
        .unwrap();
    let rules = elb
        .describe_rules()
        .listener_arn(&net.listeners[0])
        .send()
        .await
        .unwrap();
    let prod_rule = rules.rules()[0].rule_arn().unwrap().to_string();

    let pause = DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .lifecycle_stages(DeploymentLifecycleHookStage::PostScaleUp)
        .build();
    let td = register_demo(&ecs, "v1").await;
    ecs.create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition(&td)
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .deployment_controller(
            DeploymentController::builder()
                .r#type(DeploymentControllerType::Ecs)
                .build()
                .unwrap(),
        )
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .strategy(DeploymentStrategy::BlueGreen)
                .bake_time_in_minutes(0)
                .build(),
        )
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets("subnet-a")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(&groups[0])
                .container_name("web")
                .container_port(80)
                .advanced_configuration(
                    AdvancedConfiguration::builder()
                        .alternate_target_group_arn(&groups[1])
                        .production_listener_rule(&prod_rule)
                        .role_arn(ROLE)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("CreateService with the BLUE_GREEN strategy");
    let dns = net.dns.clone();
    wait_for("v1 to serve production", 60, || async {
        (version_at(&dns, 80).as_deref() == Some("v1")).then_some(())
    })
    .await;

    // The deployment our UpdateService created, found by creation, then followed to its end.
    let started = aws_sdk_ecs::primitives::DateTime::from(std::time::SystemTime::now());
    let updated = ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .task_definition(register_demo(&ecs, "v2").await)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .strategy(DeploymentStrategy::BlueGreen)
                .bake_time_in_minutes(0)
                .lifecycle_hooks(pause)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let listed = ecs
        .list_service_deployments()
        .cluster("demo")
        .service("web")
        .created_at(
            aws_sdk_ecs::types::CreatedAt::builder()
                .after(started)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ours = listed.service_deployments();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let arn = ours[0].service_deployment_arn().unwrap().to_string();
    assert_eq!(
        updated.service().unwrap().current_service_deployment(),
        Some(arn.as_str())
    );

    let hook_id = wait_for("the PAUSE hook to await action", 60, || async {
        let d = status_of(&ecs, &arn).await;
        d.lifecycle_hook_details()
            .iter()
            .find(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
            .and_then(|h| h.hook_id().map(String::from))
    })
    .await;
    assert_eq!(
        version_at(&dns, 80).as_deref(),
        Some("v1"),
        "paused before production moves"
    );
    ecs.continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(&hook_id)
        .send()
        .await
        .expect("ContinueServiceDeployment");

    let stages = std::sync::Mutex::new(Vec::new());
    let done = wait_for("the service deployment to succeed", 60, || async {
        let d = status_of(&ecs, &arn).await;
        if let Some(stage) = d.lifecycle_stage() {
            stages.lock().unwrap().push(stage.as_str().to_string());
        }
        match d.status() {
            Some(ServiceDeploymentStatus::Successful) => Some(d),
            Some(s)
                if s.as_str().starts_with("ROLLBACK") || *s == ServiceDeploymentStatus::Stopped =>
            {
                panic!("the deployment ended {s:?}: {d:?}")
            }
            _ => None,
        }
    })
    .await;
    let stages = stages.into_inner().unwrap();
    assert_eq!(
        stages.last().map(String::as_str),
        Some("CLEAN_UP"),
        "{stages:?}"
    );
    let target = done.target_service_revision().unwrap();
    assert_eq!(target.requested_production_traffic_weight(), Some(100.0));
    assert_eq!(version_at(&dns, 80).as_deref(), Some("v2"));
    assert_eq!(weights(&elb, &prod_rule, &groups).await, vec![0, 100]);
    let revisions = ecs
        .describe_service_revisions()
        .service_revision_arns(target.arn().unwrap())
        .send()
        .await
        .unwrap();
    let resolved = revisions.service_revisions()[0]
        .resolved_configuration()
        .unwrap();
    assert_eq!(
        resolved.load_balancers()[0].target_group_arn(),
        Some(groups[1].as_str())
    );
}
