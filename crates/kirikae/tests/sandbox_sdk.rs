//! Issue 2's main scenario through the official AWS SDK for Rust: a CODE_DEPLOY service with two demo
//! tasks behind an ALB, served through a real listener.

mod support;

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ContainerDefinition, DeploymentController, DeploymentControllerType,
    LaunchType, LoadBalancer, NetworkConfiguration, PortMapping,
};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum, TargetTypeEnum};
use support::{SandboxProcess, http_get, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_builds_a_code_deploy_service_behind_a_listener() {
    let sandbox = SandboxProcess::start();
    let config = sandbox.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);

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
        tgs.push(
            out.target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string(),
        );
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
    let dns = lb.dns_name().unwrap().to_string();
    for (port, tg) in [(80, &tgs[0]), (8080, &tgs[1])] {
        elb.create_listener()
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
    }
    let td = ecs
        .register_task_definition()
        .family("web")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("kirikae/demo:v1")
                .essential(true)
                .port_mappings(PortMapping::builder().container_port(80).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let td_arn = td
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string();
    assert!(td_arn.ends_with(":task-definition/web:1"), "{td_arn}");

    ecs.create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition(&td_arn)
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

    let service = wait_for(
        "PRIMARY task set in STEADY_STATE with 2 running tasks",
        60,
        || async {
            let out = ecs
                .describe_services()
                .cluster("demo")
                .services("web")
                .send()
                .await
                .unwrap();
            let svc = out.services()[0].clone();
            let set = svc.task_sets().first()?;
            (set.status() == Some("PRIMARY")
                && set.stability_status().map(|s| s.as_str()) == Some("STEADY_STATE")
                && set.running_count() == 2)
                .then_some(svc)
        },
    )
    .await;
    assert_eq!(service.task_sets().len(), 1);
    assert!(
        service.deployments().is_empty(),
        "CODE_DEPLOY services report through taskSets"
    );

    let health = elb
        .describe_target_health()
        .target_group_arn(&tgs[0])
        .send()
        .await
        .unwrap();
    let states: Vec<_> = health
        .target_health_descriptions()
        .iter()
        .map(|d| {
            d.target_health()
                .and_then(|h| h.state())
                .map(|s| s.as_str().to_string())
        })
        .collect();
    assert_eq!(
        states,
        vec![Some("healthy".to_string()), Some("healthy".to_string())]
    );

    let (status, body) = http_get(&format!("http://{dns}:80/")).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"version\":\"v1\""), "{body}");

    // Errors arrive as the SDK's modeled exception variants.
    let err = ecs
        .describe_services()
        .cluster("nope")
        .services("web")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_cluster_not_found_exception()),
        "{err:?}"
    );
    let err = elb
        .describe_target_groups()
        .names("ghost")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_target_group_not_found_exception()),
        "{err:?}"
    );
}
