//! What AWS refuses, the sandbox refuses, and the official AWS SDK for Rust (what the deployer uses)
//! sees AWS's modeled errors: a call that would fail against AWS fails against the sandbox too.

mod support;

use aws_sdk_ecs::operation::create_service::CreateServiceError;
use aws_sdk_ecs::operation::create_task_set::CreateTaskSetError;
use aws_sdk_ecs::operation::update_service::UpdateServiceError;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, DeploymentController, DeploymentControllerType, LaunchType, LoadBalancer,
    NetworkConfiguration, Scale, ScaleUnit,
};
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};
use support::SandboxProcess;
use support::sdk_stack::{build, register_demo};

fn network() -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets("subnet-a")
                .build()
                .unwrap(),
        )
        .build()
}

fn code_deploy() -> DeploymentController {
    DeploymentController::builder()
        .r#type(DeploymentControllerType::CodeDeploy)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_sees_aws_refusals() {
    let sandbox = SandboxProcess::start();
    let config = sandbox.sdk_config().await;
    let stack = build(&config).await;
    let ecs = &stack.ecs;

    // A CODE_DEPLOY service needs a load balancer.
    let td = register_demo(ecs, "v2").await;
    let err = ecs
        .create_service()
        .cluster("demo")
        .service_name("headless")
        .task_definition(&td)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .deployment_controller(code_deploy())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, CreateServiceError::InvalidParameterException(_)),
        "{err:?}"
    );

    // UpdateService cannot force a deployment of a CODE_DEPLOY service.
    let err = ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let UpdateServiceError::InvalidParameterException(e) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        e.message(),
        Some(
            "Cannot force a new deployment on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."
        )
    );

    // Its task sets are CodeDeploy's to manage.
    let err = ecs
        .create_task_set()
        .cluster("demo")
        .service("web")
        .task_definition(&td)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(&stack.target_groups[1])
                .container_name("web")
                .container_port(80)
                .build(),
        )
        .scale(
            Scale::builder()
                .value(100.0)
                .unit(ScaleUnit::Percent)
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, CreateTaskSetError::InvalidParameterException(_)),
        "{err:?}"
    );

    // Listener weights are 0 to 999.
    let tuple = |arn: &str, weight: i32| {
        TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(weight)
            .build()
    };
    let err = stack
        .elb
        .modify_listener()
        .listener_arn(&stack.prod_listener)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .forward_config(
                    ForwardActionConfig::builder()
                        .target_groups(tuple(&stack.target_groups[0], 1000))
                        .target_groups(tuple(&stack.target_groups[1], 0))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"), "{err:?}");
}
