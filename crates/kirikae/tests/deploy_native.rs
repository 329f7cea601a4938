//! `kirikae deploy` on ECS-native Blue/Green services (a config with an `ecs:` block): the service is
//! created with the ECS controller, a deploy is an UpdateService whose service deployment kirikae finds
//! by what the call answered and follows with DescribeServiceDeployments to its end; a rollback is exit
//! 1; a controller mismatch or a bad `ecs:` block is exit 2 with nothing changed.

mod deploy_support;
mod onboarding;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deploy_support::{BLUE, GREEN, LB, Project, Stack, http_get, wait_for};
use onboarding::{native_project as native, native_stack_with as native_stack};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers";

/// Requests through the production listener until stopped: `(failed, versions in the order served)`.
struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64, Vec<String>)>,
}

impl Load {
    fn start(dns: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("http://{dns}:80/");
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut ok, mut failed, mut versions) = (0u64, 0u64, Vec::<String>::new());
            while !flag.load(Ordering::SeqCst) {
                match http_get(&url) {
                    Ok((200, body)) => {
                        ok += 1;
                        let v: Value = serde_json::from_str(&body).unwrap_or_default();
                        let v = v["version"].as_str().unwrap_or("?").to_string();
                        if versions.last() != Some(&v) {
                            versions.push(v);
                        }
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed, versions)
        });
        Load { stop, thread }
    }

    fn stop(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("load thread")
    }
}

async fn deployment_status(stack: &Stack, arn: &str) -> String {
    stack
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .expect("DescribeServiceDeployments")
        .service_deployments()[0]
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_native_blue_green_deploy_under_load_ends_with_production_on_green() {
    let stack = native_stack(&[]).await;
    let run = native(&stack).deploy(&["--output", "json"]);
    run.assert_exit(0);
    let first = run.json();
    assert_eq!(first["result"], "succeeded", "{first:#}");
    assert_eq!(first["service_created"], true);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    let service = stack
        .ecs
        .describe_services()
        .cluster("demo")
        .services("web")
        .send()
        .await
        .unwrap();
    let controller = service.services()[0].deployment_controller().unwrap();
    assert_eq!(controller.r#type().as_str(), "ECS");

    let load = Load::start(&stack.dns);
    let run = native(&stack).image("v2").deploy(&["--output", "json"]);
    let (ok, failed, versions) = load.stop();
    run.assert_exit(0);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["status"], "SUCCESSFUL");
    let arn = out["deployment_id"].as_str().unwrap();
    assert!(arn.contains(":service-deployment/demo/web/"), "{arn}");
    assert_eq!(deployment_status(&stack, arn).await, "SUCCESSFUL");
    // Production moved once, from v1 to v2, and no request failed on the way.
    assert!(ok > 0);
    assert_eq!(failed, 0, "{failed} failed requests (of {})", ok + failed);
    assert_eq!(versions, ["v1", "v2"]);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert!(stack.calls_of("ecs.DescribeServiceDeployments") > 0);
    run.assert_says(&["service deployment SUCCESSFUL", "production 100%"]);

    // Again, with nothing changed: nothing to deploy, no service deployment.
    let before = stack.mutating_calls();
    let run = native(&stack).image("v2").deploy(&["--output", "json"]);
    run.assert_exit(0).assert_says(&["nothing to deploy"]);
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_hook_rolls_back_and_exits_1() {
    let fail = "smoke-fail=echo '{\"hookStatus\": \"FAILED\"}'";
    let stack = native_stack(&["--hook", fail]).await;
    native(&stack).deploy(&[]).assert_exit(0);
    let run = native(&stack)
        .image("v2")
        .config(
            "/ecs/hooks",
            json!([{
                "stages": ["POST_TEST_TRAFFIC_SHIFT"],
                "function": "arn:aws:lambda:us-east-1:000000000000:function:smoke-fail",
                "role": ROLE
            }]),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(1);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["status"], "ROLLBACK_SUCCESSFUL");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("production traffic is back on the previous revision"),
        "{out:#}"
    );
    let arn = out["deployment_id"].as_str().unwrap();
    assert_eq!(deployment_status(&stack, arn).await, "ROLLBACK_SUCCESSFUL");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ecs_block_against_a_code_deploy_service_is_refused_with_nothing_changed() {
    // The service exists with the CODE_DEPLOY controller (deployed with a codedeploy: block; the
    // listeners forward to blue only, as CodeDeploy wants them).
    let cd = Stack::with_time_scale("60").await;
    cd.project().deploy(&[]).assert_exit(0);
    let before = cd.mutating_calls();
    let run = native(&cd).image("v2").deploy(&["--output", "json"]);
    run.assert_exit(2).assert_says(&[
        "uses the CODE_DEPLOY deployment controller",
        "`ecs:` block deploys with the ECS controller",
        "kirikae migrate",
    ]);
    assert_eq!(run.json()["exit_code"], 2);
    assert_eq!(cd.mutating_calls(), before);

    // Both blocks in one config: the controller is never guessed.
    let both_blocks = cd.project().config(
        "/ecs",
        json!({"target_groups": [BLUE, GREEN], "production_listener": {"load_balancer": LB, "port": 80}, "infrastructure_role": ROLE}),
    );
    let before = cd.mutating_calls();
    both_blocks
        .deploy(&[])
        .assert_exit(2)
        .assert_says(&["both a `codedeploy:` and an `ecs:` block"]);
    assert_eq!(cd.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_ecs_block_is_refused_with_nothing_changed() {
    let stack = native_stack(&[]).await;
    let before = stack.mutating_calls();
    let cases: Vec<(Project, &[&str])> = vec![
        (
            native(&stack)
                .config("/ecs/strategy", json!("LINEAR"))
                .config("/ecs/linear", json!({"step_percent": 2.5})),
            &["ecs.linear.step_percent", "3.0 to 100.0"],
        ),
        (
            native(&stack).config(
                "/ecs/hooks",
                json!([{"stages": ["PRODUCTION_TRAFFIC_SHIFT"], "pause": true}]),
            ),
            &[
                "ecs.hooks[0].stages",
                "does not pause at PRODUCTION_TRAFFIC_SHIFT",
            ],
        ),
        (
            native(&stack).config("/ecs/bake_time_minute", json!(3)),
            &[
                "unknown field `bake_time_minute`",
                "did you mean `bake_time_minutes`?",
            ],
        ),
        (
            native(&stack).config("/ecs/target_groups", json!([BLUE, "web-nope"])),
            &[
                "ecs.target_groups[1]",
                "target group `web-nope` does not exist",
            ],
        ),
        (
            native(&stack).config(
                "/ecs/infrastructure_role",
                json!("arn:aws:iam::000000000000:role/nope"),
            ),
            &["ecs.infrastructure_role", "IAM role `nope` does not exist"],
        ),
        (
            native(&stack).config(
                "/ecs/hooks",
                json!([{
                    "stages": ["POST_TEST_TRAFFIC_SHIFT"],
                    "function": "arn:aws:lambda:us-east-1:000000000000:function:smoke",
                    "role": "arn:aws:iam::000000000000:role/no-hook-role"
                }]),
            ),
            &[
                "ecs.hooks[0].role",
                "IAM role `no-hook-role` does not exist",
            ],
        ),
        (
            native(&stack).config("/ecs/alarms", json!({"names": ["web-5xx"]})),
            &[
                "ecs.alarms.names",
                "CloudWatch alarm `web-5xx` does not exist",
            ],
        ),
        (
            native(&stack).config("/before_switch", json!({"command": []})),
            &["before_switch.command", "must name the command to run"],
        ),
    ];
    for (project, says) in cases {
        project.deploy(&[]).assert_exit(2).assert_says(says);
    }
    let run = native(&stack).deploy(&["--wait-until", "BAKE_TIMES"]);
    run.assert_exit(2)
        .assert_says(&["not a stage of an ECS service deployment", "BAKE_TIME"]);
    assert_eq!(stack.mutating_calls(), before, "nothing was changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_production_rule_not_forwarding_to_both_groups_is_refused_before_any_change() {
    // The plain stack's listeners forward to the first group only: ECS would roll back every
    // deployment ("Both targetGroup and alternateTargetGroup must be associated …").
    let stack = Stack::with_time_scale("60").await;
    let before = stack.mutating_calls();
    native(&stack)
        .config("/ecs/test_listener", Value::Null)
        .deploy(&[])
        .assert_exit(2)
        .assert_says(&["does not forward to web-green", "weights 1"]);
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_until_a_stage_or_a_pause_then_promote_and_rollback() {
    let stack = native_stack(&[]).await;
    native(&stack).deploy(&[]).assert_exit(0);
    let paused = native(&stack).image("v2").config(
        "/ecs/hooks",
        json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 60}]),
    );
    let run = paused.deploy(&["--wait-until", "paused", "--output", "json"]);
    run.assert_exit(0);
    let out = run.json();
    assert_eq!(out["result"], "reached", "{out:#}");
    assert!(
        out["next_steps"].to_string().contains("kirikae promote"),
        "{out:#}"
    );
    // Test traffic is on green, production still on blue while it waits.
    assert_eq!(stack.version_on(8080).as_deref(), Some("v2"));
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    let promote = paused
        .kirikae("promote")
        .arg("-c")
        .arg(paused.path("kirikae.yml"))
        .args(["--output", "json"])
        .output()
        .expect("run kirikae promote");
    assert_eq!(
        promote.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&promote.stderr)
    );
    let out: Value = serde_json::from_slice(&promote.stdout).unwrap();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    // Held again at the pause, then rolled back: exit 1 for the rollback's follow.
    let v3 = native(&stack).image("v3").config(
        "/ecs/hooks",
        json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 60}]),
    );
    v3.deploy(&["--wait-until", "POST_TEST_TRAFFIC_SHIFT"])
        .assert_exit(0)
        .assert_says(&["reached"]);
    let rollback = v3
        .kirikae("rollback")
        .arg("-c")
        .arg(v3.path("kirikae.yml"))
        .args(["--output", "json"])
        .output()
        .expect("run kirikae rollback");
    let out: Value = serde_json::from_slice(&rollback.stdout).unwrap();
    assert_eq!(rollback.status.code(), Some(1), "{out:#}");
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_codedeploy_block_against_an_ecs_service_is_refused_with_nothing_changed() {
    let stack = native_stack(&[]).await;
    native(&stack).deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    stack
        .project()
        .image("v2")
        .deploy(&[])
        .assert_exit(2)
        .assert_says(&[
            "exists with the ECS deployment controller",
            "Blue/Green through CodeDeploy needs CODE_DEPLOY",
            "with an `ecs:` block",
        ]);
    assert_eq!(stack.mutating_calls(), before);
}

/// The service deployment of `stack`'s service awaiting action at a pause, if one is.
fn paused_deployment(stack: &Stack) -> Option<String> {
    let out = deploy_support::block_on(
        stack
            .ecs
            .list_service_deployments()
            .cluster("demo")
            .service("web")
            .send(),
    )
    .ok()?;
    let arn = out
        .service_deployments()
        .first()?
        .service_deployment_arn()?;
    let d = deploy_support::block_on(
        stack
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send(),
    )
    .ok()?;
    let awaiting = d.service_deployments()[0]
        .lifecycle_hook_details()
        .iter()
        .any(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"));
    awaiting.then(|| arn.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupt_or_a_time_out_leaves_the_service_deployment_running_and_says_how_to_go_on() {
    let stack = native_stack(&[]).await;
    native(&stack).deploy(&[]).assert_exit(0);
    let paused = native(&stack).image("v2").config(
        "/ecs/hooks",
        json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 60}]),
    );
    let running = paused.spawn(&["--output", "json"]);
    let arn = wait_for("the deployment to pause", 60, || paused_deployment(&stack));
    running.interrupt();
    let run = running.wait();
    run.assert_exit(130);
    let out = run.json();
    assert_eq!(out["result"], "interrupted", "{out:#}");
    assert_eq!(out["deployment_id"], arn.as_str());
    let steps = out["next_steps"].to_string();
    assert!(
        steps.contains("kirikae watch") && steps.contains("--stop-type ROLLBACK"),
        "{out:#}"
    );
    assert_eq!(deployment_status(&stack, &arn).await, "IN_PROGRESS");

    // kirikae watch re-attaches; its --timeout passes while the pause holds: exit 3, still running.
    let watch = paused
        .kirikae("watch")
        .arg("-c")
        .arg(paused.path("kirikae.yml"))
        .args(["--timeout", "2s", "--output", "json"])
        .output()
        .expect("run kirikae watch");
    let out: Value = serde_json::from_slice(&watch.stdout).unwrap();
    assert_eq!(watch.status.code(), Some(3), "{out:#}");
    assert_eq!(out["result"], "timed_out", "{out:#}");
    assert!(
        out["message"].as_str().unwrap().contains("awaits action"),
        "{out:#}"
    );
    assert_eq!(deployment_status(&stack, &arn).await, "IN_PROGRESS");

    // By its ARN, without a config: the same.
    let watch = paused
        .kirikae("watch")
        .args([
            "--deployment-id",
            &arn,
            "--timeout",
            "1s",
            "--output",
            "json",
        ])
        .output()
        .expect("run kirikae watch --deployment-id");
    let out: Value = serde_json::from_slice(&watch.stdout).unwrap();
    assert_eq!(watch.status.code(), Some(3), "{out:#}");
    assert_eq!(out["deployment_id"], arn.as_str());

    // kirikae rollback --dry-run says what it would do, and does nothing.
    let before = stack.mutating_calls();
    let dry = paused
        .kirikae("rollback")
        .arg("-c")
        .arg(paused.path("kirikae.yml"))
        .args(["--dry-run", "--output", "json"])
        .output()
        .expect("run kirikae rollback --dry-run");
    let out: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(dry.status.code(), Some(0), "{out:#}");
    assert_eq!(out["action"], "stop_service_deployment_rollback");
    assert_eq!(stack.mutating_calls(), before);

    // kirikae stop has no meaning on ECS: refused, nothing changed.
    let before = stack.mutating_calls();
    let stop = paused
        .kirikae("stop")
        .arg("-c")
        .arg(paused.path("kirikae.yml"))
        .output()
        .expect("run kirikae stop");
    assert_eq!(stop.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&stop.stderr).contains("only valid stopType is ROLLBACK"),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_shows_the_native_checks_and_changes_nothing() {
    let stack = native_stack(&[]).await;
    let before = stack.mutating_calls();
    let project = native(&stack);
    project.write();
    let out = project
        .kirikae("verify")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .output()
        .expect("run kirikae verify");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for said in [
        "ECS controller, BLUE_GREEN",
        "will be created (ECS controller, BLUE_GREEN)",
        "production listener rule forwards to the pair",
        "infrastructure role ecsInfrastructureRoleForLoadBalancers exists",
    ] {
        assert!(stderr.contains(said), "lacks {said:?}:\n{stderr}");
    }
    let bad = native(&stack).config("/ecs/target_groups", json!([BLUE, "web-nope"]));
    bad.write();
    let out = bad
        .kirikae("verify")
        .arg("-c")
        .arg(bad.path("kirikae.yml"))
        .output()
        .expect("run kirikae verify");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("target group `web-nope` does not exist"),
        "{stderr}"
    );

    // A dry run says what a deploy would do; diff shows it (tests/diff_native.rs has the rest).
    let run = native(&stack).deploy(&["--dry-run", "--output", "json"]);
    run.assert_exit(0).assert_says(&[
        "would create service demo/web with the ECS controller",
        "would register task definition family web",
    ]);
    assert_eq!(run.json()["result"], "dry_run");
    let out = project
        .kirikae("diff")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .output()
        .expect("run kirikae diff");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("a deploy would create service demo/web with the ECS controller"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_deploy_ends_with_production_on_the_new_revision() {
    let stack = native_stack(&[]).await;
    native(&stack).deploy(&[]).assert_exit(0);
    let run = native(&stack)
        .image("v2")
        .config("/ecs/strategy", json!("CANARY"))
        .config(
            "/ecs/canary",
            json!({"canary_percent": 20, "canary_bake_time_minutes": 1}),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(0);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["status"], "SUCCESSFUL");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    let service = stack
        .ecs
        .describe_services()
        .cluster("demo")
        .services("web")
        .send()
        .await
        .unwrap();
    let dc = service.services()[0].deployment_configuration().unwrap();
    assert_eq!(dc.strategy().map(|s| s.as_str()), Some("CANARY"));
    assert_eq!(
        dc.canary_configuration().and_then(|c| c.canary_percent()),
        Some(20.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_refused_while_following_stop_the_watch_with_exit_3_and_the_arn() {
    let stack = native_stack(&[]).await;
    native(&stack).deploy(&[]).assert_exit(0);
    stack.sandbox.fault(json!({
        "action": "error", "service": "ecs", "operation": "DescribeServiceDeployments",
        "code": "ExpiredTokenException",
        "message": "The security token included in the request is expired"
    }));
    let run = native(&stack).image("v2").deploy(&["--output", "json"]);
    run.assert_exit(3);
    let out = run.json();
    assert_eq!(out["result"], "lost_contact", "{out:#}");
    assert_eq!(out["failure"]["kind"], "lost_contact");
    let arn = out["deployment_id"]
        .as_str()
        .expect("the service deployment");
    assert!(arn.contains(":service-deployment/demo/web/"), "{out:#}");
    assert!(
        out["next_steps"].to_string().contains("kirikae watch"),
        "{out:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_once_nothing_runs_deploys_the_revision_the_last_deployment_replaced() {
    let stack = native_stack(&[]).await;
    native(&stack).deploy(&[]).assert_exit(0);
    let rollback = |extra: &[&str]| {
        let project = native(&stack);
        project.write();
        let config = project.dir.join("kirikae.yml");
        let out = project
            .kirikae("rollback")
            .args(["-c", config.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // The service was created with v1: no deployment replaced anything.
    let before = stack.mutating_calls();
    let (code, stderr) = rollback(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("replaced no earlier revision"), "{stderr}");
    assert_eq!(stack.mutating_calls(), before);

    native(&stack).image("v2").deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    let (code, stderr) = rollback(&["--dry-run"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("rolling back would create a new Blue/Green deployment of web:1"),
        "{stderr}"
    );
    assert_eq!(stack.mutating_calls(), before, "a dry run changes nothing");

    let (code, stderr) = rollback(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    // Rolling back again undoes the rollback.
    let (code, stderr) = rollback(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}
