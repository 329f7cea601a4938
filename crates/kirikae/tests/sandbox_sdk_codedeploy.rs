//! Issue 3's main scenario through the official AWS SDK for Rust (CodeDeploy over awsJson 1.1): look up
//! the application and deployment group, get the SDK's modeled "does not exist" errors, create them,
//! run an ECSAllAtOnce deployment to `Succeeded`; production then serves only the new version and the
//! service has one PRIMARY task set, on the new task definition.

mod support;

use aws_sdk_codedeploy::operation::create_deployment::CreateDeploymentError;
use aws_sdk_codedeploy::operation::get_application::GetApplicationError;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupError;
use aws_sdk_codedeploy::types::{
    AppSpecContent, BlueGreenDeploymentConfiguration, BlueInstanceTerminationOption,
    ComputePlatform, DeploymentOption, DeploymentStatus, DeploymentStyle, DeploymentType,
    EcsService, InstanceAction, LoadBalancerInfo, RevisionLocation, RevisionLocationType,
    TargetGroupInfo, TargetGroupPairInfo, TrafficRoute,
};
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ContainerDefinition, DeploymentController, DeploymentControllerType,
    LaunchType, LoadBalancer, NetworkConfiguration, PortMapping,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum,
};
use support::{SandboxProcess, http_get, wait_for};

/// The infrastructure a team has before its first Blue/Green deployment.
struct Stack {
    ecs: aws_sdk_ecs::Client,
    dns: String,
    prod_listener: String,
    test_listener: String,
}

async fn register_demo(ecs: &aws_sdk_ecs::Client, tag: &str) -> String {
    let out = ecs
        .register_task_definition()
        .family("web")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image(format!("kirikae/demo:{tag}"))
                .essential(true)
                .port_mappings(PortMapping::builder().container_port(80).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string()
}

/// A cluster, `web-blue`/`web-green` target groups, an ALB with listeners 80 (→ blue) and 8080
/// (→ green), and a CODE_DEPLOY service of two v1 tasks behind blue, serving production.
async fn build(config: &aws_config::SdkConfig) -> Stack {
    let ecs = aws_sdk_ecs::Client::new(config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    ecs.create_cluster()
        .cluster_name("demo")
        .send()
        .await
        .unwrap();
    let mut tgs = Vec::new();
    for name in ["web-blue", "web-green"] {
        let out = elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id("vpc-0sandbox")
            .target_type(TargetTypeEnum::Ip)
            .health_check_path("/health")
            .health_check_interval_seconds(5)
            .health_check_timeout_seconds(2)
            .healthy_threshold_count(2)
            .send()
            .await
            .unwrap();
        let arn = out.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string();
        // AWS's default deregistration delay is 300 s; a short one lets the deleted original drain
        // quickly at the test's time scale.
        elb.modify_target_group_attributes()
            .target_group_arn(&arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value("30")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        tgs.push(arn);
    }
    let lb = elb
        .create_load_balancer()
        .name("web-alb")
        .subnets("subnet-a")
        .subnets("subnet-b")
        .send()
        .await
        .unwrap();
    let lb = &lb.load_balancers()[0];
    let mut listeners = Vec::new();
    for (port, tg) in [(80, &tgs[0]), (8080, &tgs[1])] {
        let out = elb
            .create_listener()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .protocol(ProtocolEnum::Http)
            .port(port)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(tg)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        listeners.push(out.listeners()[0].listener_arn().unwrap().to_string());
    }
    let td = register_demo(&ecs, "v1").await;
    ecs.create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition(&td)
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .deployment_controller(
            DeploymentController::builder()
                .r#type(DeploymentControllerType::CodeDeploy)
                .build()
                .unwrap(),
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
                .target_group_arn(&tgs[0])
                .container_name("web")
                .container_port(80)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dns = lb.dns_name().unwrap().to_string();
    wait_for("the original task set to serve production", 60, || async {
        (version_at(&dns, 80).as_deref() == Some("v1")).then_some(())
    })
    .await;
    Stack {
        ecs,
        dns,
        prod_listener: listeners[0].clone(),
        test_listener: listeners[1].clone(),
    }
}

/// The version a listener serves (one request), `None` for anything but a demo app's 200.
fn version_at(dns: &str, port: u16) -> Option<String> {
    let (status, body) = http_get(&format!("http://{dns}:{port}/")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    (status == 200)
        .then(|| v["version"].as_str().map(String::from))
        .flatten()
}

/// An AppSpecContent revision deploying `task_definition`, with its sha256 left out (it is optional).
fn revision(task_definition: &str) -> RevisionLocation {
    let content = serde_json::json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]
    })
    .to_string();
    RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(content).build())
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_runs_an_all_at_once_blue_green_deployment() {
    let sandbox = SandboxProcess::start();
    let config = sandbox.sdk_config().await;
    let stack = build(&config).await;
    let cd = aws_sdk_codedeploy::Client::new(&config);

    // Application: look it up, get the modeled error, create it.
    let err = cd
        .get_application()
        .application_name("app")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            GetApplicationError::ApplicationDoesNotExistException(_)
        ),
        "{err:?}"
    );
    cd.create_application()
        .application_name("app")
        .compute_platform(ComputePlatform::Ecs)
        .send()
        .await
        .unwrap();
    let app = cd
        .get_application()
        .application_name("app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.application().and_then(|a| a.compute_platform()),
        Some(&ComputePlatform::Ecs)
    );

    // Deployment group: the same.
    let err = cd
        .get_deployment_group()
        .application_name("app")
        .deployment_group_name("dg")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            GetDeploymentGroupError::DeploymentGroupDoesNotExistException(_)
        ),
        "{err:?}"
    );
    cd.create_deployment_group()
        .application_name("app")
        .deployment_group_name("dg")
        .service_role_arn("arn:aws:iam::000000000000:role/ecsCodeDeployRole")
        .deployment_style(
            DeploymentStyle::builder()
                .deployment_type(DeploymentType::BlueGreen)
                .deployment_option(DeploymentOption::WithTrafficControl)
                .build(),
        )
        .blue_green_deployment_configuration(
            BlueGreenDeploymentConfiguration::builder()
                .terminate_blue_instances_on_deployment_success(
                    BlueInstanceTerminationOption::builder()
                        .action(InstanceAction::Terminate)
                        .termination_wait_time_in_minutes(0)
                        .build(),
                )
                .build(),
        )
        .load_balancer_info(
            LoadBalancerInfo::builder()
                .target_group_pair_info_list(
                    TargetGroupPairInfo::builder()
                        .target_groups(TargetGroupInfo::builder().name("web-blue").build())
                        .target_groups(TargetGroupInfo::builder().name("web-green").build())
                        .prod_traffic_route(
                            TrafficRoute::builder()
                                .listener_arns(&stack.prod_listener)
                                .build(),
                        )
                        .test_traffic_route(
                            TrafficRoute::builder()
                                .listener_arns(&stack.test_listener)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .ecs_services(
            EcsService::builder()
                .service_name("web")
                .cluster_name("demo")
                .build(),
        )
        .send()
        .await
        .unwrap();

    // An ECSAllAtOnce deployment of v2.
    let td2 = register_demo(&stack.ecs, "v2").await;
    let deployment_id = cd
        .create_deployment()
        .application_name("app")
        .deployment_group_name("dg")
        .deployment_config_name("CodeDeployDefault.ECSAllAtOnce")
        .revision(revision(&td2))
        .send()
        .await
        .unwrap()
        .deployment_id()
        .unwrap()
        .to_string();
    let err = cd
        .create_deployment()
        .application_name("app")
        .deployment_group_name("dg")
        .revision(revision(&td2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            CreateDeploymentError::DeploymentLimitExceededException(_)
        ),
        "one active deployment per group: {err:?}"
    );

    // The SDK's waiter polls every 15 s at least; this loop applies its acceptors (Succeeded; Failed or
    // Stopped end the wait) at the sandbox's pace.
    let info = wait_for("the deployment to succeed", 60, || async {
        let info = cd
            .get_deployment()
            .deployment_id(&deployment_id)
            .send()
            .await
            .unwrap()
            .deployment_info
            .unwrap();
        let status = info.status().cloned();
        assert!(
            !matches!(
                status,
                Some(DeploymentStatus::Failed | DeploymentStatus::Stopped)
            ),
            "{info:?}"
        );
        (status == Some(DeploymentStatus::Succeeded)).then_some(info)
    })
    .await;
    assert_eq!(
        info.deployment_config_name(),
        Some("CodeDeployDefault.ECSAllAtOnce")
    );
    assert!(info.complete_time().is_some());

    // Production serves only v2.
    for _ in 0..20 {
        assert_eq!(version_at(&stack.dns, 80).as_deref(), Some("v2"));
    }
    // One PRIMARY task set, on the new task definition, created by this deployment (the original drains
    // and goes).
    let sets = wait_for("only the replacement task set", 30, || async {
        let out = stack
            .ecs
            .describe_services()
            .cluster("demo")
            .services("web")
            .send()
            .await
            .unwrap();
        let sets = out.services()[0].task_sets().to_vec();
        (sets.len() == 1).then_some(sets)
    })
    .await;
    assert_eq!(sets[0].status(), Some("PRIMARY"));
    assert_eq!(sets[0].task_definition(), Some(td2.as_str()));
    assert_eq!(sets[0].external_id(), Some(deployment_id.as_str()));
}
