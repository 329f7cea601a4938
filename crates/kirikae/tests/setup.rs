//! `kirikae setup` through the binary against the sandbox, on a stack with one target group and one
//! listener: it creates the second group (a copy of the first), the test listener and the CodeDeploy
//! role, tagged as kirikae's; a second run creates nothing; then a Blue/Green deploy under load fails no
//! request. `--dry-run` and every refusal make zero mutating calls.

mod deploy_support;
mod onboarding;

use std::net::ToSocketAddrs;

use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum, TargetTypeEnum};
use deploy_support::{Project, Stack};
use kirikae_demo::load::{self, Settings};
use kirikae_demo::stack::Address;
use onboarding::{DEREGISTRATION_DELAY, assert_exit, boto3, json, one_group_stack, run, stderr};
use serde_json::json;

const ROLE: &str = "kirikae-codedeploy-web";

/// The team's config: the pair web-blue/web-green, production :80, test :8080, a role to create.
fn project(stack: &Stack) -> Project {
    let p = stack.project().config(
        "/codedeploy/service_role",
        json!(format!("arn:aws:iam::000000000000:role/{ROLE}")),
    );
    p.write();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_creates_what_blue_green_lacks_and_a_deploy_under_load_fails_no_request() {
    let stack = one_group_stack().await;
    let p = project(&stack);
    let config = p.path("kirikae.yml");

    let out = run(&p, "setup", &config, &["--output", "json"]);
    assert_exit(&out, 0, "kirikae setup");
    let doc = json(&out);
    assert_eq!(doc["result"], "created");
    let creates: Vec<&str> = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "create")
        .map(|s| s["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        creates,
        vec![
            "target group web-green",
            "test listener web-alb:8080",
            &format!("IAM role {ROLE}")
        ],
        "{doc:#}"
    );
    assert_eq!(doc["created"].as_array().unwrap().len(), 3, "{doc:#}");
    assert!(stderr(&out).contains("setup plan"), "{}", stderr(&out));

    // The second group is a copy of the first, attributes included, and says who made it.
    let elb = &stack.elb;
    let green = elb
        .describe_target_groups()
        .names("web-green")
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .clone();
    assert_eq!(green.protocol(), Some(&ProtocolEnum::Http));
    assert_eq!(green.port(), Some(8080));
    assert_eq!(green.vpc_id(), Some("vpc-0sandbox"));
    assert_eq!(green.target_type(), Some(&TargetTypeEnum::Ip));
    assert_eq!(green.health_check_path(), Some("/health"));
    assert_eq!(green.health_check_interval_seconds(), Some(5));
    assert_eq!(green.health_check_timeout_seconds(), Some(2));
    assert_eq!(green.healthy_threshold_count(), Some(2));
    let green_arn = green.target_group_arn().unwrap().to_string();
    let attrs = elb
        .describe_target_group_attributes()
        .target_group_arn(&green_arn)
        .send()
        .await
        .unwrap();
    let delay = attrs
        .attributes()
        .iter()
        .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|a| a.value());
    assert_eq!(delay, Some(DEREGISTRATION_DELAY));
    // The test listener forwards to the group that does not serve production.
    let lb_arn = elb
        .describe_load_balancers()
        .names("web-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap();
    let test = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(8080))
        .expect("a listener on 8080");
    assert_eq!(
        test.default_actions()[0].target_group_arn(),
        Some(green_arn.as_str())
    );
    let test_arn = test.listener_arn().unwrap().to_string();
    let tags = elb
        .describe_tags()
        .resource_arns(&green_arn)
        .resource_arns(&test_arn)
        .send()
        .await
        .unwrap();
    for d in tags.tag_descriptions() {
        assert!(
            d.tags().iter().any(
                |t| t.key() == Some("kirikae:created-by") && t.value() == Some("kirikae setup")
            ),
            "{d:?}"
        );
    }
    // The role trusts CodeDeploy, has the managed policy, and says who made it.
    let role = boto3(
        &stack,
        &format!(
            "iam = client('iam')\nr = iam.get_role(RoleName='{ROLE}')['Role']\n\
             p = iam.list_attached_role_policies(RoleName='{ROLE}')['AttachedPolicies']\n\
             print(json.dumps({{'trust': r['AssumeRolePolicyDocument'], 'tags': r.get('Tags', []), 'policies': [x['PolicyArn'] for x in p]}}))"
        ),
    );
    assert_eq!(
        role["trust"]["Statement"][0]["Principal"]["Service"],
        "codedeploy.amazonaws.com"
    );
    assert_eq!(
        role["policies"],
        json!(["arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"])
    );
    assert_eq!(
        role["tags"],
        json!([{"Key": "kirikae:created-by", "Value": "kirikae setup"}])
    );

    // A second run finds everything and creates nothing.
    let before = stack.mutating_calls();
    let again = run(&p, "setup", &config, &["--output", "json"]);
    assert_exit(&again, 0, "a second kirikae setup");
    let doc = json(&again);
    assert_eq!(doc["result"], "nothing_to_create");
    assert_eq!(doc["created"], json!([]));
    assert!(
        doc["plan"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] != "create"),
        "{doc:#}"
    );
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a second setup changed something"
    );

    // What setup made is what Blue/Green needs: v1 creates the service, v2 switches under load.
    p.deploy(&[]).assert_exit(0);
    let host = format!("{}:80", stack.dns);
    let socket = host.to_socket_addrs().unwrap().next().unwrap();
    let address = Address {
        socket,
        url: format!("http://{host}/"),
        host,
    };
    let running = load::start(
        &address,
        Settings {
            rate: 40.0,
            connections: 4,
        },
        kirikae_demo::Origin::now(),
    )
    .await;
    let deployed = tokio::task::block_in_place(|| project(&stack).image("v2").deploy(&[]));
    let samples = running.stop().await;
    deployed.assert_exit(0);
    let failed: Vec<_> = samples.iter().filter(|s| s.error.is_some()).collect();
    assert!(samples.len() > 20, "{} requests", samples.len());
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert_eq!(samples.first().unwrap().version.as_deref(), Some("v1"));
    assert_eq!(samples.last().unwrap().version.as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_and_every_refusal_change_nothing() {
    let stack = one_group_stack().await;
    let p = project(&stack);
    let config = p.path("kirikae.yml");
    let before = stack.mutating_calls();

    let dry = run(&p, "setup", &config, &["--dry-run", "--output", "json"]);
    assert_exit(&dry, 0, "kirikae setup --dry-run");
    let doc = json(&dry);
    assert_eq!(doc["result"], "dry_run");
    assert_eq!(doc["created"], json!([]));
    let creating = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "create")
        .count();
    assert_eq!(creating, 3, "{doc:#}");
    assert!(
        stderr(&dry).contains("dry run: nothing was changed"),
        "{}",
        stderr(&dry)
    );
    let text = run(&p, "setup", &config, &["--dry-run"]);
    assert_exit(&text, 0, "kirikae setup --dry-run (text)");
    for line in [
        "+ create target group web-green: a copy of web-blue (HTTP:8080, VPC vpc-0sandbox, target type ip, health check HTTP /health every 5 s, deregistration delay 7 s)",
        "+ create test listener web-alb:8080: HTTP forwarding to web-green",
        "✓ production listener web-alb:80 exists: forwards to web-blue",
        "· service demo/web: service demo/web does not exist yet: `kirikae deploy` creates it",
    ] {
        assert!(
            stderr(&text).contains(line),
            "lacks {line:?}:\n{}",
            stderr(&text)
        );
    }
    assert_eq!(
        stack.mutating_calls(),
        before,
        "--dry-run changed something"
    );

    // Neither group of the pair exists: nothing to copy from.
    let none = stack.project().config(
        "/codedeploy/target_groups",
        json!(["api-blue", "api-green"]),
    );
    none.write();
    let out = run(&none, "setup", &none.path("kirikae.yml"), &[]);
    assert_exit(&out, 2, "setup without either group");
    assert!(
        stderr(&out).contains("neither target group of the pair exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stack.mutating_calls(), before);

    // The test port is taken by a listener forwarding elsewhere: setup never changes it.
    let other = stack
        .elb
        .create_target_group()
        .name("other")
        .protocol(ProtocolEnum::Http)
        .port(9000)
        .vpc_id("vpc-0sandbox")
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let lb_arn = stack
        .elb
        .describe_load_balancers()
        .names("web-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    stack
        .elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(other.target_groups()[0].target_group_arn().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let before = stack.mutating_calls();
    let out = run(&p, "setup", &config, &["--output", "json"]);
    assert_exit(&out, 2, "setup with the test port taken");
    assert!(
        stderr(&out).contains("already exists and forwards to neither"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&out)["error"]["field"], "codedeploy.test_listener");
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a refused setup changed something"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_for_ecs_native_moves_a_rolling_service_to_blue_green_under_load_without_a_failed_request()
 {
    use aws_sdk_ecs::types::{
        AwsVpcConfiguration, ContainerDefinition, LaunchType, LoadBalancer, NetworkConfiguration,
        NetworkMode, PortMapping,
    };
    // A team on ECS's rolling update (v1) behind one target group and one listener.
    let stack = one_group_stack().await;
    let td = stack
        .ecs
        .register_task_definition()
        .family("web")
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("kirikae/demo:v1")
                .port_mappings(PortMapping::builder().container_port(8080).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    stack
        .ecs
        .create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition(td.task_definition().unwrap().task_definition_arn().unwrap())
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
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
                .target_group_arn(&stack.target_groups[0])
                .container_name("web")
                .container_port(8080)
                .build(),
        )
        .send()
        .await
        .expect("create a rolling service");
    deploy_support::wait_for("v1 serving on :80", 60, || {
        (Stack::version_at(&stack.dns, 80).as_deref() == Some("v1")).then_some(())
    });

    // Its config with an `ecs:` block, naming an infrastructure role that does not exist yet.
    let native = || {
        let p = onboarding::native_project(&stack).config(
            "/ecs/infrastructure_role",
            json!("arn:aws:iam::000000000000:role/kirikae-ecs-infrastructure"),
        );
        p.write();
        p
    };
    let p = native();
    let config = p.path("kirikae.yml");
    let out = run(&p, "setup", &config, &["--output", "json"]);
    assert_exit(&out, 0, "kirikae setup (ecs:)");
    let doc = json(&out);
    let acted: Vec<(&str, &str)> = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "create" || s["action"] == "modify")
        .map(|s| {
            (
                s["action"].as_str().unwrap(),
                s["resource"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        acted,
        vec![
            ("create", "target group web-green"),
            ("modify", "production listener web-alb:80"),
            ("create", "test listener web-alb:8080"),
            ("create", "IAM role kirikae-ecs-infrastructure"),
        ],
        "{doc:#}"
    );
    let said = doc["plan"].to_string();
    assert!(said.contains("runs with the ECS rolling update: AWS allows the move to ECS-native Blue/Green in place"), "{said}");
    let role = boto3(
        &stack,
        "iam = client('iam')\nr = iam.get_role(RoleName='kirikae-ecs-infrastructure')['Role']\n\
         p = iam.list_attached_role_policies(RoleName='kirikae-ecs-infrastructure')['AttachedPolicies']\n\
         print(json.dumps({'trust': r['AssumeRolePolicyDocument'], 'policies': [x['PolicyArn'] for x in p]}))",
    );
    assert_eq!(
        role["trust"]["Statement"][0]["Principal"]["Service"],
        "ecs.amazonaws.com"
    );
    assert_eq!(
        role["policies"],
        json!(["arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"])
    );
    // The production rule's new form sends all traffic where it went.
    assert_eq!(Stack::version_at(&stack.dns, 80).as_deref(), Some("v1"));
    let before = stack.mutating_calls();
    let again = run(&p, "setup", &config, &["--output", "json"]);
    assert_exit(&again, 0, "a second kirikae setup (ecs:)");
    assert_eq!(json(&again)["result"], "nothing_to_create");
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a second setup changed something"
    );

    // kirikae deploy moves the rolling service to ECS-native Blue/Green with v2, under load.
    let host = format!("{}:80", stack.dns);
    let socket = host.to_socket_addrs().unwrap().next().unwrap();
    let address = Address {
        socket,
        url: format!("http://{host}/"),
        host,
    };
    let running = load::start(
        &address,
        Settings {
            rate: 40.0,
            connections: 4,
        },
        kirikae_demo::Origin::now(),
    )
    .await;
    let deployed = tokio::task::block_in_place(|| native().image("v2").deploy(&[]));
    let samples = running.stop().await;
    deployed.assert_exit(0);
    let failed: Vec<_> = samples.iter().filter(|s| s.error.is_some()).collect();
    assert!(samples.len() > 20, "{} requests", samples.len());
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert_eq!(samples.first().unwrap().version.as_deref(), Some("v1"));
    assert_eq!(samples.last().unwrap().version.as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_call_says_what_was_created_and_the_next_run_creates_the_rest() {
    let stack = one_group_stack().await;
    let p = project(&stack);
    let config = p.path("kirikae.yml");
    stack.sandbox.fault(json!({
        "action": "error", "service": "elbv2", "operation": "CreateListener",
        "code": "TooManyListeners", "message": "You've reached the limit on the number of listeners per load balancer",
        "count": 1
    }));
    let out = run(&p, "setup", &config, &["--output", "json"]);
    assert_exit(&out, 1, "kirikae setup with CreateListener failing");
    let doc = json(&out);
    assert_eq!(doc["result"], "failed");
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["error"]["code"], "TooManyListeners");
    let created: Vec<&str> = doc["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(created.len(), 2, "{doc:#}");
    assert!(
        created[0].starts_with("target group web-green ("),
        "{created:?}"
    );
    assert!(
        created[1].starts_with(&format!("IAM role {ROLE} (")),
        "{created:?}"
    );
    assert!(
        stderr(&out).contains("created before the failure: target group web-green"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("run setup again"), "{}", stderr(&out));

    let again = run(&p, "setup", &config, &["--output", "json"]);
    assert_exit(&again, 0, "kirikae setup after the failure");
    let doc = json(&again);
    assert_eq!(doc["result"], "created");
    let created = doc["created"].as_array().unwrap();
    assert_eq!(created.len(), 1, "{doc:#}");
    assert!(
        created[0]
            .as_str()
            .unwrap()
            .starts_with("test listener on port 8080"),
        "{doc:#}"
    );
}
