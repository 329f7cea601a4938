//! The infrastructure a team has before its first Blue/Green deployment, built through the official AWS
//! SDK for Rust as a user's Terraform would: the starting point of the SDK scenarios.

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ContainerDefinition, DeploymentController, DeploymentControllerType,
    LaunchType, LoadBalancer, NetworkConfiguration, PortMapping,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum,
};

use super::{http_get, wait_for};

/// CreateDeploymentGroup for the stack's service `demo/web`: Blue/Green with traffic control over the
/// `web-blue`/`web-green` pair, the stack's production and test listeners, blue terminated at once, with
/// the sandbox's default `ecsCodeDeployRole`.
pub async fn create_deployment_group(
    cd: &aws_sdk_codedeploy::Client,
    stack: &Stack,
    application: &str,
    group: &str,
) {
    use aws_sdk_codedeploy::types::{
        BlueGreenDeploymentConfiguration, BlueInstanceTerminationOption, DeploymentOption,
        DeploymentStyle, DeploymentType, EcsService, InstanceAction, LoadBalancerInfo,
        TargetGroupInfo, TargetGroupPairInfo, TrafficRoute,
    };
    cd.create_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
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
        .expect("create deployment group");
}

/// The infrastructure a team has before its first Blue/Green deployment.
pub struct Stack {
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub dns: String,
    pub prod_listener: String,
    pub test_listener: String,
    /// Blue, then green.
    pub target_groups: Vec<String>,
}

pub async fn register_demo(ecs: &aws_sdk_ecs::Client, tag: &str) -> String {
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
pub async fn build(config: &aws_config::SdkConfig) -> Stack {
    let ecs = aws_sdk_ecs::Client::new(config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    ecs.create_cluster()
        .cluster_name("demo")
        .send()
        .await
        .unwrap();
    let net = load_balancer(&elb, "web", &[(80, 0), (8080, 1)], Some("30")).await;
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
                .target_group_arn(&net.target_groups[0])
                .container_name("web")
                .container_port(80)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dns = net.dns.clone();
    wait_for("the original task set to serve production", 60, || async {
        (version_at(&dns, 80).as_deref() == Some("v1")).then_some(())
    })
    .await;
    Stack {
        ecs,
        elb,
        dns,
        prod_listener: net.listeners[0].clone(),
        test_listener: net.listeners[1].clone(),
        target_groups: net.target_groups,
    }
}

/// The version a listener serves (one request), `None` for anything but a demo app's 200.
pub fn version_at(dns: &str, port: u16) -> Option<String> {
    let (status, body) = http_get(&format!("http://{dns}:{port}/")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    (status == 200)
        .then(|| v["version"].as_str().map(String::from))
        .flatten()
}

/// A load balancer fixture: target groups, the ALB's DNS name, listener ARNs (in the order asked).
pub struct LoadBalancerFixture {
    /// Blue, then green.
    pub target_groups: Vec<String>,
    pub dns: String,
    pub listeners: Vec<String>,
}

/// `{name}-blue` and `{name}-green` (`ip` targets, /health checked every 5 s, 2 checks either way),
/// an ALB `{name}-alb`, and a listener per `(port, target group index)`. `deregistration_delay`: AWS's
/// 300 s default when `None`; a short one lets a deleted task set drain quickly at a test's time scale.
pub async fn load_balancer(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    name: &str,
    listeners: &[(i32, usize)],
    deregistration_delay: Option<&str>,
) -> LoadBalancerFixture {
    let mut target_groups = Vec::new();
    for color in ["blue", "green"] {
        let out = elb
            .create_target_group()
            .name(format!("{name}-{color}"))
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
        let arn = out.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string();
        if let Some(delay) = deregistration_delay {
            elb.modify_target_group_attributes()
                .target_group_arn(&arn)
                .attributes(
                    TargetGroupAttribute::builder()
                        .key("deregistration_delay.timeout_seconds")
                        .value(delay)
                        .build(),
                )
                .send()
                .await
                .expect("set the deregistration delay");
        }
        target_groups.push(arn);
    }
    let lb = elb
        .create_load_balancer()
        .name(format!("{name}-alb"))
        .subnets("subnet-a")
        .subnets("subnet-b")
        .send()
        .await
        .expect("create ALB");
    let lb = &lb.load_balancers()[0];
    let mut arns = Vec::new();
    for &(port, tg) in listeners {
        let out = elb
            .create_listener()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .protocol(ProtocolEnum::Http)
            .port(port)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(&target_groups[tg])
                    .build(),
            )
            .send()
            .await
            .expect("create listener");
        arns.push(out.listeners()[0].listener_arn().unwrap().to_string());
    }
    LoadBalancerFixture {
        target_groups,
        dns: lb.dns_name().unwrap().to_string(),
        listeners: arns,
    }
}
