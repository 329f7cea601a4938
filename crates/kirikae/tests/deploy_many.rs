//! Several services in one command (`-c a.yml -c b.yml`): all validated and checked before anything
//! changes, deployed concurrently, one JSON document, the worst exit code.

mod deploy_support;

use deploy_support::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn two_services_deploy_together_and_one_bad_config_stops_both() {
    let stack = Stack::new().await;
    let api_dns = stack.add_load_balancer("api").await;
    let web = stack.project();
    let api = stack.project_for("api");
    api.write();
    let api_config = api.path("kirikae.yml");
    let api_config = api_config.to_str().unwrap();

    let run = web.deploy(&["-c", api_config, "--output", "json"]);
    run.assert_exit(0);
    let doc = run.json();
    let deploys = doc["deploys"].as_array().expect("one document for both");
    let services: Vec<&str> = deploys
        .iter()
        .map(|d| d["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["web", "api"]);
    assert!(
        deploys.iter().all(|d| d["result"] == "succeeded"),
        "{doc:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    assert_eq!(Stack::version_at(&api_dns, 80).as_deref(), Some("v1"));

    // Both Blue/Green at once.
    let api_v2 = stack.project_for("api").image("v2");
    api_v2.write();
    let run = stack.project().image("v2").deploy(&[
        "-c",
        api_v2.path("kirikae.yml").to_str().unwrap(),
        "--output",
        "json",
    ]);
    run.assert_exit(0);
    let doc = run.json();
    assert!(
        doc["deploys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["result"] == "succeeded" && d["deployment_id"].is_string()),
        "{doc:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(Stack::version_at(&api_dns, 80).as_deref(), Some("v2"));

    // One broken config: nothing changes for either service.
    let broken = stack
        .project_for("api")
        .image("v3")
        .service("/desiredCont", json!(1));
    broken.write();
    let before = stack.mutating_calls();
    let run = stack
        .project()
        .image("v3")
        .deploy(&["-c", broken.path("kirikae.yml").to_str().unwrap()]);
    run.assert_exit(2).assert_says(&["desiredCont"]);
    assert_eq!(stack.mutating_calls(), before);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

/// `api`'s load balancer for the ECS controller: its listeners forward to both groups (1/0), as ECS
/// requires. Returns its DNS name.
async fn native_api_network(stack: &Stack) -> String {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
    };
    let dns = stack.add_load_balancer("api").await;
    let groups = stack
        .elb
        .describe_target_groups()
        .names("api-blue")
        .names("api-green")
        .send()
        .await
        .expect("DescribeTargetGroups");
    let mut forward = ForwardActionConfig::builder();
    for (tg, weight) in groups.target_groups().iter().zip([1, 0]) {
        forward = forward.target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(tg.target_group_arn().unwrap())
                .weight(weight)
                .build(),
        );
    }
    let both = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(forward.build())
        .build();
    let lb = stack
        .elb
        .describe_load_balancers()
        .names("api-alb")
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let listeners = stack
        .elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancers()[0].load_balancer_arn().unwrap())
        .send()
        .await
        .expect("DescribeListeners");
    for listener in listeners.listeners() {
        stack
            .elb
            .modify_listener()
            .listener_arn(listener.listener_arn().unwrap())
            .default_actions(both.clone())
            .send()
            .await
            .expect("forward to both groups");
    }
    dns
}

/// `api`'s project: a config with an `ecs:` block.
fn native_api(stack: &Stack) -> deploy_support::Project {
    stack
        .project()
        .config("/service", json!("api"))
        .config("/codedeploy", serde_json::Value::Null)
        .config(
            "/ecs",
            json!({
                "strategy": "BLUE_GREEN",
                "bake_time_minutes": 1,
                "target_groups": ["api-blue", "api-green"],
                "production_listener": {"load_balancer": "api-alb", "port": 80},
                "test_listener": {"load_balancer": "api-alb", "port": 8080},
                "infrastructure_role": "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers"
            }),
        )
        .task("/family", json!("api"))
}

#[tokio::test(flavor = "multi_thread")]
async fn one_run_deploys_a_codedeploy_service_and_an_ecs_native_one_together() {
    let stack = Stack::new().await;
    let api_dns = native_api_network(&stack).await;
    let api = native_api(&stack);
    api.write();
    let api_config = api.path("kirikae.yml");

    // A dry run of both says what each controller would do; nothing changes.
    let before = stack.mutating_calls();
    let run = stack.project().deploy(&[
        "-c",
        api_config.to_str().unwrap(),
        "--dry-run",
        "--output",
        "json",
    ]);
    run.assert_exit(0);
    let doc = run.json();
    let deploys = doc["deploys"].as_array().expect("one document for both");
    assert_eq!(deploys.len(), 2, "{doc:#}");
    assert!(deploys.iter().all(|d| d["result"] == "dry_run"), "{doc:#}");
    assert_eq!(deploys[1]["controller"], "ECS", "{doc:#}");
    assert_eq!(stack.mutating_calls(), before);

    let run = stack
        .project()
        .deploy(&["-c", api_config.to_str().unwrap(), "--output", "json"]);
    run.assert_exit(0);
    let doc = run.json();
    let deploys = doc["deploys"].as_array().expect("one document for both");
    let services: Vec<&str> = deploys
        .iter()
        .map(|d| d["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["web", "api"], "command-line order");
    assert!(
        deploys.iter().all(|d| d["result"] == "succeeded"),
        "{doc:#}"
    );

    // Both Blue/Green at once: one through CodeDeploy, one by ECS itself.
    let api_v2 = native_api(&stack).image("v2");
    api_v2.write();
    let run = stack.project().image("v2").deploy(&[
        "-c",
        api_v2.path("kirikae.yml").to_str().unwrap(),
        "--output",
        "json",
    ]);
    run.assert_exit(0);
    let doc = run.json();
    let deploys = doc["deploys"].as_array().unwrap();
    assert!(
        deploys
            .iter()
            .all(|d| d["result"] == "succeeded" && d["deployment_id"].is_string()),
        "{doc:#}"
    );
    assert!(
        deploys[0]["deployment_id"]
            .as_str()
            .unwrap()
            .starts_with("d-"),
        "a CodeDeploy deployment id: {doc:#}"
    );
    assert!(
        deploys[1]["deployment_id"]
            .as_str()
            .unwrap()
            .contains(":service-deployment/"),
        "a service deployment ARN: {doc:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(Stack::version_at(&api_dns, 80).as_deref(), Some("v2"));

    // A bad `ecs:` block in one config: nothing changes for either service.
    let broken = native_api(&stack)
        .config(
            "/ecs/infrastructure_role",
            json!("arn:aws:iam::000000000000:role/nope"),
        )
        .image("v3");
    broken.write();
    let before = stack.mutating_calls();
    let run = stack
        .project()
        .image("v3")
        .deploy(&["-c", broken.path("kirikae.yml").to_str().unwrap()]);
    run.assert_exit(2);
    assert_eq!(stack.mutating_calls(), before);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(Stack::version_at(&api_dns, 80).as_deref(), Some("v2"));
}
