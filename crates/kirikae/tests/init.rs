//! `kirikae init` through the binary against the sandbox: on a CODE_DEPLOY service kirikae deployed, the
//! files it writes make `kirikae deploy` change nothing (zero mutating calls) and `kirikae diff` exit 0;
//! it refuses to overwrite files without --force; on a rolling service behind one target group it
//! writes what Blue/Green needs and points to `kirikae setup` for what does not exist yet. Only read
//! calls, whatever happens.

mod deploy_support;
mod onboarding;

use std::path::{Path, PathBuf};
use std::process::Output;

use deploy_support::{Project, Stack};
use serde_json::{Value, json};

/// `kirikae init --cluster demo --service SERVICE --dir DIR ARGS` with the project's environment.
fn init(project: &Project, service: &str, dir: &Path, args: &[&str]) -> Output {
    project
        .kirikae("init")
        .args(["--cluster", "demo", "--service", service, "--dir"])
        .arg(dir)
        .args(args)
        .output()
        .expect("run kirikae init")
}

/// `kirikae SUBCOMMAND -c DIR/kirikae.yml ARGS` with the project's environment.
fn on_files(project: &Project, subcommand: &str, dir: &Path, args: &[&str]) -> Output {
    project
        .kirikae(subcommand)
        .arg("-c")
        .arg(dir.join("kirikae.yml"))
        .args(args)
        .output()
        .expect("run kirikae")
}

#[track_caller]
fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what} exited {:?} (expected {code})\n--- stderr\n{}\n--- stdout\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kirikae-init-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("file written")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn init_on_a_codedeploy_service_then_deploy_changes_nothing_and_diff_is_empty() {
    let stack = Stack::new().await;
    // The team's own files, as kirikae deployed them: the service created, then a Blue/Green deployment
    // of v2 (so the AppSpec inputs are read back from the last deployment), with hooks-free settings that
    // differ from kirikae's defaults.
    let team = || {
        stack
            .project()
            .config("/codedeploy/termination_wait_minutes", json!(0))
            .config(
                "/codedeploy/auto_rollback",
                json!(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]),
            )
            .task(
                "/containerDefinitions/0/environment",
                json!([{"name": "MODE", "value": "blue-green"}]),
            )
    };
    team().deploy(&[]).assert_exit(0);
    team()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);

    let dir = scratch("codedeploy");
    let runner = stack.project();
    let before = stack.mutating_calls();
    let out = init(&runner, "web", &dir, &["--output", "json"]);
    assert_exit(&out, 0, "kirikae init");
    assert_eq!(stack.mutating_calls(), before, "init changed something");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["controller"], "CODE_DEPLOY");
    assert_eq!(doc["strategy"], Value::Null);
    assert_eq!(doc["deployment_group"], "DgpEcs-demo-web");
    assert_eq!(doc["needs_setup"], false);

    // As a person would write them: the image as it runs, nothing ECS fills in, names not ARNs.
    let task = json_file(&dir.join("task-definition.json"));
    let container = &task["containerDefinitions"][0];
    assert_eq!(container["image"], "kirikae/demo:v2");
    assert_eq!(container.get("essential"), None, "{task:#}");
    assert_eq!(task.get("taskDefinitionArn"), None);
    assert_eq!(task.get("revision"), None);
    let service = json_file(&dir.join("service-definition.json"));
    assert_eq!(
        service["loadBalancers"],
        json!([{"containerName": "web", "containerPort": 8080}])
    );
    assert_eq!(service.get("deploymentController"), None);
    assert_eq!(service.get("taskDefinition"), None);
    let config = std::fs::read_to_string(dir.join("kirikae.yml")).unwrap();
    for line in [
        "cluster: demo",
        "service: web",
        "target_groups: [web-blue, web-green]",
        "production_listener: {load_balancer: web-alb, port: 80}",
        "test_listener: {load_balancer: web-alb, port: 8080}",
        "termination_wait_minutes: 0",
        "auto_rollback: [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_REQUEST]",
        "deploy another image with --image web=IMAGE",
    ] {
        assert!(
            config.contains(line),
            "kirikae.yml lacks {line:?}:\n{config}"
        );
    }
    assert!(
        !config.contains("application:"),
        "default names are left out:\n{config}"
    );

    // What init wrote is what runs: deploy finds nothing to do and changes nothing; diff shows nothing.
    let deploy = on_files(&runner, "deploy", &dir, &[]);
    assert_exit(&deploy, 0, "kirikae deploy on init's files");
    assert!(
        stderr(&deploy).contains("nothing to deploy"),
        "{}",
        stderr(&deploy)
    );
    assert_eq!(
        stack.mutating_calls(),
        before,
        "deploy on init's files changed something: {}",
        stack.sandbox.calls()
    );
    let diff = on_files(&runner, "diff", &dir, &[]);
    assert_exit(&diff, 0, "kirikae diff on init's files");
    assert_eq!(String::from_utf8_lossy(&diff.stdout), "");

    // Files are never overwritten without --force; nothing is written then.
    let config_before = std::fs::read_to_string(dir.join("kirikae.yml")).unwrap();
    std::fs::write(dir.join("task-definition.json"), "{}").unwrap();
    let again = init(&runner, "web", &dir, &[]);
    assert_exit(&again, 2, "kirikae init over existing files");
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(dir.join("task-definition.json")).unwrap(),
        "{}"
    );
    let forced = init(&runner, "web", &dir, &["--force"]);
    assert_exit(&forced, 0, "kirikae init --force");
    assert_eq!(json_file(&dir.join("task-definition.json")), task);
    assert_eq!(
        std::fs::read_to_string(dir.join("kirikae.yml")).unwrap(),
        config_before
    );

    // A service that does not run: exit 2, nothing written.
    let none = scratch("missing");
    let missing = init(&runner, "nope", &none, &[]);
    assert_exit(&missing, 2, "kirikae init of a missing service");
    assert!(
        stderr(&missing).contains("`nope` does not run"),
        "{}",
        stderr(&missing)
    );
    assert!(!none.exists());
    assert_eq!(stack.mutating_calls(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_on_a_rolling_service_writes_blue_green_files_and_points_to_setup() {
    use aws_sdk_ecs::types::{
        AwsVpcConfiguration, ContainerDefinition, LaunchType, LoadBalancer, NetworkConfiguration,
        NetworkMode, PortMapping,
    };
    // A team on ECS's rolling update, behind one target group and one listener.
    let stack = onboarding::one_group_stack().await;
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
        .desired_count(1)
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

    let runner = stack.project();
    let before = stack.mutating_calls();
    let dir = scratch("rolling");
    let out = init(&runner, "web", &dir, &["--output", "json"]);
    assert_exit(&out, 0, "kirikae init on a rolling service");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["controller"], "ECS");
    assert_eq!(doc["strategy"], "ROLLING");
    assert_eq!(doc["needs_setup"], true);
    let notes = doc["notes"].to_string();
    for part in [
        "target group web-green (a copy of web-blue)",
        "test listener web-alb:8080",
        "kirikae setup",
        "rolling update",
        "cannot change to CODE_DEPLOY",
    ] {
        assert!(notes.contains(part), "notes lack {part:?}: {notes}");
    }
    assert!(
        stderr(&out).contains("next: kirikae setup -c"),
        "{}",
        stderr(&out)
    );
    let config = std::fs::read_to_string(dir.join("kirikae.yml")).unwrap();
    for line in [
        "target_groups: [web-blue, web-green]",
        "production_listener: {load_balancer: web-alb, port: 80}",
        "test_listener: {load_balancer: web-alb, port: 8080}",
    ] {
        assert!(
            config.contains(line),
            "kirikae.yml lacks {line:?}:\n{config}"
        );
    }
    let service = json_file(&dir.join("service-definition.json"));
    assert_eq!(service.get("deploymentConfiguration"), None, "{service:#}");

    // setup on what init wrote: the plan creates the rest and states the way off the rolling update.
    let plan = on_files(&runner, "setup", &dir, &["--dry-run"]);
    assert_exit(&plan, 0, "kirikae setup --dry-run on init's files");
    for part in [
        "+ create target group web-green: a copy of web-blue",
        "+ create test listener web-alb:8080",
        "✓ IAM role ecsCodeDeployRole exists",
        "runs with the ECS rolling update",
        "takes a new service",
        "UpdateService",
        "write an `ecs:` block instead of `codedeploy:`",
    ] {
        assert!(
            stderr(&plan).contains(part),
            "setup lacks {part:?}:\n{}",
            stderr(&plan)
        );
    }
    assert_eq!(
        stack.mutating_calls(),
        before,
        "init and setup --dry-run changed something"
    );

    // A service behind no load balancer cannot be deployed Blue/Green: exit 2, nothing written.
    stack
        .ecs
        .create_service()
        .cluster("demo")
        .service_name("worker")
        .task_definition(td.task_definition().unwrap().task_definition_arn().unwrap())
        .desired_count(0)
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
        .send()
        .await
        .expect("create a service without a load balancer");
    let before = stack.mutating_calls();
    let worker_dir = scratch("worker");
    let worker = init(&runner, "worker", &worker_dir, &[]);
    assert_exit(
        &worker,
        2,
        "kirikae init of a service without a load balancer",
    );
    assert!(
        stderr(&worker).contains("service worker has no load balancer"),
        "{}",
        stderr(&worker)
    );
    assert!(!worker_dir.exists());
    assert_eq!(
        stack.mutating_calls(),
        before,
        "init of a service without a load balancer changed something"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_on_an_ecs_native_service_then_deploy_changes_nothing() {
    let stack = onboarding::native_stack().await;
    // Deployed by kirikae: created, then a Blue/Green service deployment of v2.
    let team = || {
        onboarding::native_project(&stack).task(
            "/containerDefinitions/0/environment",
            json!([{"name": "MODE", "value": "native"}]),
        )
    };
    team().deploy(&[]).assert_exit(0);
    team()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);

    let dir = scratch("native");
    let runner = stack.project();
    let before = stack.mutating_calls();
    let out = init(&runner, "web", &dir, &["--output", "json"]);
    assert_exit(&out, 0, "kirikae init on an ECS-native service");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["controller"], "ECS");
    assert_eq!(doc["strategy"], "BLUE_GREEN");
    // kirikae diff works on `ecs:` configs: the next step is the same trust check as on CodeDeploy.
    assert!(
        doc["next"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("kirikae diff -c ")),
        "{doc:#}"
    );
    let config = std::fs::read_to_string(dir.join("kirikae.yml")).unwrap();
    for line in [
        "ecs:",
        "  strategy: BLUE_GREEN",
        "  bake_time_minutes: 1",
        "  production_listener: {load_balancer: web-alb, port: 80}",
        "  test_listener: {load_balancer: web-alb, port: 8080}",
        "  infrastructure_role: arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers",
    ] {
        assert!(
            config.contains(line),
            "kirikae.yml lacks {line:?}:\n{config}"
        );
    }
    assert!(!config.contains("codedeploy:"), "{config}");
    // The service's group first, then the alternate, whichever serves now.
    assert!(
        config.contains("  target_groups: [web-blue, web-green]")
            || config.contains("  target_groups: [web-green, web-blue]"),
        "{config}"
    );
    let service = json_file(&dir.join("service-definition.json"));
    assert_eq!(
        service["loadBalancers"],
        json!([{"containerName": "web", "containerPort": 8080}])
    );
    assert_eq!(service.get("deploymentConfiguration"), None, "{service:#}");
    assert_eq!(
        json_file(&dir.join("task-definition.json"))["containerDefinitions"][0]["image"],
        "kirikae/demo:v2"
    );

    let deploy = on_files(&runner, "deploy", &dir, &[]);
    assert_exit(&deploy, 0, "kirikae deploy on init's files");
    assert!(
        stderr(&deploy).contains("nothing to deploy"),
        "{}",
        stderr(&deploy)
    );
    assert_eq!(
        stack.mutating_calls(),
        before,
        "deploy on init's files changed something: {}",
        stack.sandbox.calls()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
