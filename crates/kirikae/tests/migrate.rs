//! `kirikae migrate` through the binary against the sandbox: a CodeDeploy Blue/Green service (deployed by
//! kirikae, production on its second group) moves to ECS-native Blue/Green under load with no failed
//! request; the config is rewritten with an `ecs:` block (comments kept), the CodeDeploy application and
//! group deleted with --delete-codedeploy; then `kirikae deploy` of a new image takes the native path
//! and ends with production on it. `--dry-run`, a second run and every refusal (a CodeDeploy deployment
//! going on, a missing or untrusting infrastructure role, AppSpec hooks, a second listener rule to the
//! pair) make zero mutating calls; the step outputs agree with the JSON document. A denied UpdateService
//! is exit 1 saying what changed (the listeners, traffic where it was); a second run finishes. Ctrl-C
//! while the move's service deployment bakes is exit 130 with its id and next steps, the file written.

mod deploy_support;

use std::net::ToSocketAddrs;
use std::process::{Command, Output};

use deploy_support::{Project, Stack};
use kirikae_demo::load::{self, Settings};
use kirikae_demo::stack::Address;
use serde_json::{Value, json};

/// The team's kirikae.yml, as a person writes it: YAML with comments.
const CONFIG: &str = "# The web service (kept by kirikae migrate).
cluster: demo
service: web
task_definition: task-definition.json
service_definition: service-definition.json
codedeploy:
  # CodeDeploy's settings: replaced by the ecs: block.
  service_role: arn:aws:iam::000000000000:role/ecsCodeDeployRole
  target_groups: [web-blue, web-green]
  production_listener: {load_balancer: web-alb, port: 80}
  test_listener: {load_balancer: web-alb, port: 8080}
  termination_wait_minutes: 1

# Kept too.
sync_desired_count: false
";

fn project(stack: &Stack) -> Project {
    stack.project().raw("kirikae.yml", CONFIG)
}

/// `kirikae ARGS` against the sandbox in the project's directory, without writing its files again (a
/// migration rewrote kirikae.yml).
fn kirikae(stack: &Stack, project: &Project, args: &[&str]) -> Output {
    kirikae_with(stack, project, args, None)
}

/// [`kirikae`], with `$GITHUB_OUTPUT` set to `outputs` when given.
fn kirikae_with(
    stack: &Stack,
    project: &Project,
    args: &[&str],
    outputs: Option<&std::path::Path>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kirikae"));
    cmd.args(args)
        .current_dir(&project.dir)
        .env_remove("AWS_PROFILE")
        .env_remove("GITHUB_OUTPUT")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &stack.sandbox.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1");
    if let Some(path) = outputs {
        cmd.env("GITHUB_OUTPUT", path);
    }
    cmd.output().expect("run kirikae")
}

#[track_caller]
fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\n--- stderr\n{}\n--- stdout\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

fn doc(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn controller(stack: &Stack) -> String {
    let out = stack
        .ecs
        .describe_services()
        .cluster("demo")
        .services("web")
        .send()
        .await
        .expect("DescribeServices");
    out.services()[0]
        .deployment_controller()
        .map(|c| c.r#type().as_str().to_string())
        .unwrap_or_default()
}

/// A CODE_DEPLOY service deployed twice by kirikae: production on web-green.
async fn codedeploy_service() -> (Stack, Project) {
    let stack = Stack::new().await;
    let p = project(&stack);
    p.deploy(&[]).assert_exit(0);
    project(&stack).image("v2").deploy(&[]).assert_exit(0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    // CodeDeploy deleted the original task set; its tasks drain before it is gone.
    deploy_support::wait_for("the original task set to be gone", 120, || {
        let out = deploy_support::block_on(
            stack
                .ecs
                .describe_services()
                .cluster("demo")
                .services("web")
                .send(),
        )
        .ok()?;
        (out.services()[0].task_sets().len() == 1).then_some(())
    });
    (stack, p)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_codedeploy_service_moves_to_ecs_blue_green_under_load_then_deploys_natively() {
    let (stack, p) = codedeploy_service().await;
    let config = p.dir.join("kirikae.yml");
    let config = config.to_str().unwrap();

    // The plan, changing nothing.
    let before = stack.mutating_calls();
    let out = kirikae(
        &stack,
        &p,
        &["migrate", "-c", config, "--dry-run", "--output", "json"],
    );
    assert_exit(&out, 0, "migrate --dry-run");
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a dry run changed something"
    );
    let plan = doc(&out);
    assert_eq!(plan["result"], "dry_run", "{plan:#}");
    let modified: Vec<&str> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "modify")
        .map(|s| s["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        modified,
        [
            "production listener web-alb:80",
            "test listener web-alb:8080",
            "service demo/web"
        ],
        "{plan:#}"
    );
    assert!(
        plan["config_text"]
            .as_str()
            .unwrap()
            .contains("ecs:\n  strategy: BLUE_GREEN"),
        "{plan:#}"
    );
    assert_eq!(std::fs::read_to_string(config).unwrap(), CONFIG);

    // The move, under load through the production listener.
    let host = format!("{}:80", stack.dns);
    let address = Address {
        socket: host.to_socket_addrs().unwrap().next().unwrap(),
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
    let outputs = p.dir.join("github-output");
    let out = tokio::task::block_in_place(|| {
        kirikae_with(
            &stack,
            &p,
            &[
                "migrate",
                "-c",
                config,
                "--write",
                "--delete-codedeploy",
                "--output",
                "json",
            ],
            Some(&outputs),
        )
    });
    let samples = running.stop().await;
    assert_exit(&out, 0, "migrate --write --delete-codedeploy");
    let failed: Vec<_> = samples.iter().filter(|s| s.error.is_some()).collect();
    assert!(samples.len() > 20, "{} requests", samples.len());
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert!(
        samples.iter().all(|s| s.version.as_deref() == Some("v2")),
        "the move changed the version served"
    );
    let moved = doc(&out);
    assert_eq!(moved["result"], "succeeded", "{moved:#}");
    assert_eq!(moved["config_written"], true);
    assert!(
        moved["deployment_id"]
            .as_str()
            .is_some_and(|d| d.contains(":service-deployment/demo/web/")),
        "{moved:#}"
    );
    assert_eq!(
        moved["codedeploy_deleted"],
        json!([
            "CodeDeploy deployment group DgpEcs-demo-web",
            "CodeDeploy application AppEcs-demo-web"
        ])
    );
    // The step outputs say what the document says.
    let steps = deploy_support::step_outputs(&outputs);
    assert_eq!(steps["result"], "succeeded");
    assert_eq!(steps["exit-code"], "0");
    assert_eq!(
        Some(steps["deployment-id"].as_str()),
        moved["deployment_id"].as_str()
    );
    assert_eq!(controller(&stack).await, "ECS");
    let apps = stack.codedeploy.list_applications().send().await.unwrap();
    assert!(apps.applications().is_empty(), "{apps:?}");

    // The file: the ecs: block instead of codedeploy:, every other line as it was.
    let written = std::fs::read_to_string(config).unwrap();
    assert!(!written.contains("codedeploy:"), "{written}");
    assert!(written.starts_with("# The web service (kept by kirikae migrate).\ncluster: demo\n"));
    assert!(
        written.ends_with("\n\n# Kept too.\nsync_desired_count: false\n"),
        "{written}"
    );
    assert!(
        written.contains("ecs:\n  strategy: BLUE_GREEN\n  bake_time_minutes: 1\n  target_groups: [web-blue, web-green]\n  production_listener: {load_balancer: web-alb, port: 80}\n  test_listener: {load_balancer: web-alb, port: 8080}\n  infrastructure_role: arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers\n"),
        "{written}"
    );

    // A second run: nothing to migrate, nothing changed; so for the old file (the service has moved).
    let before = stack.mutating_calls();
    let out = kirikae(&stack, &p, &["migrate", "-c", config]);
    assert_exit(&out, 0, "a second migrate");
    assert!(
        stderr(&out).contains("nothing to migrate"),
        "{}",
        stderr(&out)
    );
    let old = p.dir.join("old.yml");
    std::fs::write(&old, CONFIG).unwrap();
    let out = kirikae(
        &stack,
        &p,
        &["migrate", "-c", old.to_str().unwrap(), "--output", "json"],
    );
    assert_exit(&out, 0, "migrate of the old file");
    assert_eq!(doc(&out)["result"], "nothing_to_migrate");
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a second migrate changed something"
    );

    // The service deploys on the native path now, from the rewritten file.
    let out = kirikae(
        &stack,
        &p,
        &[
            "deploy",
            "-c",
            config,
            "--image",
            "web=kirikae/demo:v3",
            "--output",
            "json",
        ],
    );
    assert_exit(&out, 0, "deploy after the migration");
    let deployed = doc(&out);
    assert_eq!(deployed["result"], "succeeded", "{deployed:#}");
    assert!(
        deployed["deployment_id"]
            .as_str()
            .is_some_and(|d| d.contains(":service-deployment/")),
        "{deployed:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v3"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_ecs_cannot_use_appspec_hooks_or_a_running_codedeploy_deployment_are_refused_before_any_change()
 {
    let stack = Stack::new().await;
    let p = project(&stack);
    p.deploy(&[]).assert_exit(0);
    let config = p.dir.join("kirikae.yml");
    let config = config.to_str().unwrap();

    // The infrastructure role ECS would manage the listeners with: missing, or not trusting ECS (the
    // CodeDeploy role).
    let before = stack.mutating_calls();
    for (role, says) in [
        ("no-such-role", "IAM role `no-such-role` does not exist"),
        ("ecsCodeDeployRole", "does not trust ecs.amazonaws.com"),
    ] {
        let arn = format!("arn:aws:iam::000000000000:role/{role}");
        let out = kirikae(
            &stack,
            &p,
            &["migrate", "-c", config, "--infrastructure-role", &arn],
        );
        assert_exit(&out, 2, &format!("migrate with role {role}"));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert_eq!(stack.mutating_calls(), before);
    }

    // The group's canary config and its wait at Ready carry over (a dry run: nothing changes).
    let canary = p.dir.join("canary.yml");
    std::fs::write(
        &canary,
        CONFIG.replace(
            "  termination_wait_minutes: 1\n",
            "  termination_wait_minutes: 1\n  deployment_config: CodeDeployDefault.ECSCanary10Percent5Minutes\n  ready: {action: STOP_DEPLOYMENT, wait_minutes: 60}\n",
        ),
    )
    .unwrap();
    let out = kirikae(
        &stack,
        &p,
        &["migrate", "-c", canary.to_str().unwrap(), "--dry-run"],
    );
    assert_exit(&out, 0, "migrate --dry-run of a canary config");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "  strategy: CANARY\n",
        "  canary: {canary_bake_time_minutes: 5, canary_percent: 10.0}\n",
        "  hooks: [{pause: true, stages: [PRE_PRODUCTION_TRAFFIC_SHIFT], timeout_action: ROLLBACK, timeout_minutes: 60}]\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    assert_eq!(stack.mutating_calls(), before);

    // AppSpec hooks cannot move as they are: ECS invokes hooks with another contract.
    let hooked = p.dir.join("hooked.yml");
    std::fs::write(
        &hooked,
        CONFIG.replace(
            "  termination_wait_minutes: 1\n",
            "  termination_wait_minutes: 1\n  hooks: {AfterAllowTestTraffic: CodeDeployHook_smoke}\n",
        ),
    )
    .unwrap();
    let out = kirikae(&stack, &p, &["migrate", "-c", hooked.to_str().unwrap()]);
    assert_exit(&out, 2, "migrate with AppSpec hooks");
    assert!(
        stderr(&out).contains("AfterAllowTestTraffic → POST_TEST_TRAFFIC_SHIFT"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stack.mutating_calls(), before);

    // An alarm the deployment would watch does not exist: ECS would never see it fire.
    let alarmed = p.dir.join("alarmed.yml");
    std::fs::write(
        &alarmed,
        CONFIG.replace(
            "  termination_wait_minutes: 1\n",
            "  termination_wait_minutes: 1\n  alarms: {names: [no-such-alarm]}\n",
        ),
    )
    .unwrap();
    let out = kirikae(&stack, &p, &["migrate", "-c", alarmed.to_str().unwrap()]);
    assert_exit(&out, 2, "migrate with a missing alarm");
    assert!(
        stderr(&out).contains("CloudWatch alarm `no-such-alarm` does not exist"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stack.mutating_calls(), before);

    // A deployment waiting in Ready for someone to continue it.
    project(&stack)
        .image("v2")
        .raw(
            "kirikae.yml",
            &CONFIG.replace(
                "  termination_wait_minutes: 1\n",
                "  termination_wait_minutes: 1\n  ready: {action: STOP_DEPLOYMENT, wait_minutes: 1440}\n",
            ),
        )
        .deploy(&["--no-wait"])
        .assert_exit(0);
    let before = stack.mutating_calls();
    let out = kirikae(&stack, &p, &["migrate", "-c", config, "--output", "json"]);
    assert_exit(&out, 2, "migrate while CodeDeploy deploys");
    let refused = doc(&out);
    assert_eq!(refused["exit_code"], 2);
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("is going on in AppEcs-demo-web/DgpEcs-demo-web"),
        "{refused:#}"
    );
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a refusal changed something"
    );
    assert_eq!(controller(&stack).await, "CODE_DEPLOY");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_rule_besides_the_default_forwarding_to_the_pair_is_refused() {
    use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, RuleCondition};
    let stack = Stack::new().await;
    let p = project(&stack);
    p.deploy(&[]).assert_exit(0);
    stack
        .elb
        .create_rule()
        .listener_arn(&stack.prod_listener)
        .priority(10)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .values("/admin/*")
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&stack.target_groups[0])
                .build(),
        )
        .send()
        .await
        .expect("a second rule");
    let before = stack.mutating_calls();
    let config = p.dir.join("kirikae.yml");
    let out = kirikae(&stack, &p, &["migrate", "-c", config.to_str().unwrap()]);
    assert_exit(&out, 2, "migrate with a second rule to the pair");
    assert!(
        stderr(&out).contains("forwarding to the pair besides its default action"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a refusal changed something"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_update_service_says_what_changed_and_a_second_run_finishes() {
    let stack = Stack::new().await;
    let p = project(&stack);
    p.deploy(&[]).assert_exit(0);
    let config = p.dir.join("kirikae.yml");
    let config = config.to_str().unwrap();
    stack.sandbox.fault(json!({
        "action": "error", "service": "ecs", "operation": "UpdateService",
        "code": "AccessDeniedException", "count": 1
    }));
    let out = kirikae(&stack, &p, &["migrate", "-c", config, "--output", "json"]);
    assert_exit(&out, 1, "migrate whose UpdateService is denied");
    let failed = doc(&out);
    assert_eq!(failed["result"], "failed", "{failed:#}");
    assert_eq!(
        failed["error"]["code"], "AccessDeniedException",
        "{failed:#}"
    );
    assert_eq!(
        failed["changed"].as_array().map(Vec::len),
        Some(2),
        "{failed:#}"
    );
    assert!(
        stderr(&out).contains("still has the CodeDeploy controller"),
        "{}",
        stderr(&out)
    );
    assert_eq!(controller(&stack).await, "CODE_DEPLOY");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    // The listeners are done; the second run makes the rest.
    let out = kirikae(&stack, &p, &["migrate", "-c", config, "--output", "json"]);
    assert_exit(&out, 0, "migrate again");
    let done = doc(&out);
    let listeners: Vec<&str> = done["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["resource"].as_str().unwrap().contains("listener"))
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(listeners, ["exists", "exists"], "{done:#}");
    assert_eq!(done["result"], "succeeded", "{done:#}");
    assert_eq!(controller(&stack).await, "ECS");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_following_the_move_says_the_deployment_goes_on_and_the_file_is_written() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let stack = Stack::new().await;
    // Blue is kept for ten hours after the switch: the service deployment stays in BAKE_TIME.
    let p = stack.project().raw(
        "kirikae.yml",
        &CONFIG.replace(
            "termination_wait_minutes: 1",
            "termination_wait_minutes: 600",
        ),
    );
    p.deploy(&[]).assert_exit(0);
    let config = p.dir.join("kirikae.yml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kirikae"))
        .args([
            "migrate",
            "-c",
            config.to_str().unwrap(),
            "--write",
            "--output",
            "json",
        ])
        .env_remove("AWS_PROFILE")
        .env_remove("GITHUB_OUTPUT")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &stack.sandbox.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kirikae migrate");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = String::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr");
        said.push_str(&line);
        said.push('\n');
        if line.contains("BAKE_TIME") {
            break;
        }
    }
    assert!(said.contains("BAKE_TIME"), "{said}");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{said}{}", rest.join("\n"));
    let ended: Value = serde_json::from_str(&stdout).expect(&stdout);
    assert_eq!(ended["result"], "interrupted", "{ended:#}");
    assert_eq!(ended["config_written"], true, "{ended:#}");
    let id = ended["deployment_id"].as_str().expect("the deployment id");
    assert!(id.contains(":service-deployment/demo/web/"), "{ended:#}");
    assert!(
        ended["next_steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{ended:#}"
    );
    // The service has moved, and the file says so.
    assert_eq!(controller(&stack).await, "ECS");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("ecs:\n  strategy: BLUE_GREEN\n  bake_time_minutes: 600\n"));
}

/// The service's cluster tags that are kirikae deploy locks.
async fn lock_tags(stack: &Stack) -> Vec<String> {
    let cluster = stack
        .ecs
        .describe_clusters()
        .clusters("demo")
        .send()
        .await
        .expect("DescribeClusters");
    let arn = cluster.clusters()[0].cluster_arn().unwrap().to_string();
    let tags = stack
        .ecs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("ListTagsForResource");
    tags.tags()
        .iter()
        .filter_map(|t| t.key())
        .filter(|k| k.starts_with("kirikae:lock/"))
        .map(str::to_string)
        .collect()
}

/// The move takes the service's deploy lock, as a deploy does: while another run holds it, nothing
/// changes; once it is gone, the move runs and leaves no lock behind.
#[tokio::test(flavor = "multi_thread")]
async fn the_move_changes_nothing_while_another_run_holds_the_deploy_lock() {
    let (stack, p) = codedeploy_service().await;
    let cluster = stack
        .ecs
        .describe_clusters()
        .clusters("demo")
        .send()
        .await
        .expect("DescribeClusters");
    let cluster_arn = cluster.clusters()[0].cluster_arn().unwrap().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    stack
        .ecs
        .tag_resource()
        .resource_arn(&cluster_arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("kirikae:lock/web/other-run")
                .value(format!(
                    "at={} expires={} by=arn:aws:iam::000000000000:role/ci actor=octocat from=acme/web@abc",
                    now * 1000,
                    now + 3600
                ))
                .build(),
        )
        .send()
        .await
        .expect("TagResource");
    let before = stack.mutating_calls();
    let out = kirikae(&stack, &p, &["migrate", "--write", "--output", "json"]);
    assert_exit(&out, 1, "migrate while another run holds the lock");
    let said = stderr(&out);
    for part in [
        "kirikae run other-run",
        "arn:aws:iam::000000000000:role/ci (octocat)",
        "--tag-keys kirikae:lock/web/other-run",
        "nothing was changed",
    ] {
        assert!(said.contains(part), "stderr lacks {part:?}:\n{said}");
    }
    assert_eq!(doc(&out)["exit_code"], 1);
    assert_eq!(stack.mutating_calls(), before, "{}", stack.sandbox.calls());
    assert_eq!(controller(&stack).await, "CODE_DEPLOY");

    stack
        .ecs
        .untag_resource()
        .resource_arn(&cluster_arn)
        .tag_keys("kirikae:lock/web/other-run")
        .send()
        .await
        .expect("UntagResource");
    let out = kirikae(&stack, &p, &["migrate", "--write", "--output", "json"]);
    assert_exit(&out, 0, "migrate once the lock is gone");
    assert_eq!(controller(&stack).await, "ECS");
    assert_eq!(lock_tags(&stack).await, Vec::<String>::new());
}
