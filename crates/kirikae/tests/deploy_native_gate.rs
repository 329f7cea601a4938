//! The gate, the approval and `--on-interrupt` / `--on-timeout rollback` on ECS-native services,
//! through the binary against the sandbox, with the same user-facing behaviour as on CodeDeploy:
//! rollback policies roll the running service deployment back (ContinueServiceDeployment ROLLBACK at
//! a pause, else StopServiceDeployment ROLLBACK) and follow the rollback to its end; a gate holds the
//! service deployment at a PAUSE hook at POST_TEST_TRAFFIC_SHIFT (test traffic on green, production on
//! blue) while kirikae checks green through the test listener, then continues it or rolls it back; an
//! approval holds there until `kirikae promote`.

mod deploy_support;
mod onboarding;

use deploy_support::{Project, Stack, block_on, wait_for};
use onboarding::{native_project as native, native_stack};
use serde_json::{Value, json};

/// A pause before production traffic for an AWS hour: the deployment waits there for someone.
fn paused(p: Project) -> Project {
    p.config(
        "/ecs/hooks",
        json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 60}]),
    )
}

/// The service's newest service deployment: `(ARN, status, stage, whether a hook awaits action)`.
fn newest(stack: &Stack) -> Option<(String, String, String, bool)> {
    let list = block_on(
        stack
            .ecs
            .list_service_deployments()
            .cluster("demo")
            .service("web")
            .send(),
    )
    .ok()?;
    let arn = list
        .service_deployments()
        .iter()
        .max_by(|a, b| {
            let t = |d: &aws_sdk_ecs::types::ServiceDeploymentBrief| {
                d.created_at().map_or(0.0, |t| t.as_secs_f64())
            };
            t(a).total_cmp(&t(b))
        })?
        .service_deployment_arn()?
        .to_string();
    let out = block_on(
        stack
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(&arn)
            .send(),
    )
    .ok()?;
    let d = out.service_deployments().first()?;
    Some((
        arn,
        d.status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        d.lifecycle_stage()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        d.lifecycle_hook_details()
            .iter()
            .any(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION")),
    ))
}

/// Waits until the newest service deployment awaits action at `stage`; its ARN.
fn wait_for_pause(stack: &Stack, stage: &str) -> String {
    wait_for(&format!("a pause at {stage}"), 90, || {
        newest(stack).and_then(|(arn, status, at, awaiting)| {
            (status == "IN_PROGRESS" && at == stage && awaiting).then_some(arn)
        })
    })
}

/// Waits until the running kirikae has polled the deployment twice since now: it has seen what the
/// sandbox shows now (this waits on the sandbox's count of its calls, and makes none itself).
fn wait_until_polled(stack: &Stack) {
    let now = stack.calls_of("ecs.DescribeServiceDeployments");
    wait_for("kirikae to poll the deployment", 30, || {
        (stack.calls_of("ecs.DescribeServiceDeployments") >= now + 2).then_some(())
    });
}

fn status_of(stack: &Stack, arn: &str) -> String {
    let out = block_on(
        stack
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send(),
    )
    .expect("DescribeServiceDeployments");
    out.service_deployments()[0]
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// The service's lifecycle hooks as `(targetType, stages, timeout minutes)`.
fn service_hooks(stack: &Stack) -> Vec<(String, Vec<String>, Option<i32>)> {
    let out = block_on(
        stack
            .ecs
            .describe_services()
            .cluster("demo")
            .services("web")
            .send(),
    )
    .expect("DescribeServices");
    out.services()[0]
        .deployment_configuration()
        .map(|d| d.lifecycle_hooks().to_vec())
        .unwrap_or_default()
        .iter()
        .map(|h| {
            (
                h.target_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                h.lifecycle_stages()
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
                h.timeout_configuration()
                    .and_then(|t| t.timeout_in_minutes()),
            )
        })
        .collect()
}

fn timeline(out: &Value) -> Vec<String> {
    out["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|e| e["event"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_timeout_rollback_rolls_back_a_paused_service_deployment_and_exits_1() {
    let stack = native_stack().await;
    native(&stack).deploy(&[]).assert_exit(0);
    let run = paused(native(&stack)).image("v2").deploy(&[
        "--timeout",
        "4s",
        "--on-timeout",
        "rollback",
        "--output",
        "json",
    ]);
    run.assert_exit(1).assert_says(&[
        "--on-timeout rollback: rolling back service deployment",
        "ContinueServiceDeployment ROLLBACK",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    let message = out["message"].as_str().unwrap();
    assert!(
        message.starts_with("timed out; --on-timeout rollback:"),
        "{message}"
    );
    assert!(message.contains("ROLLBACK_SUCCESSFUL"), "{message}");
    assert_eq!(out["rollback"]["traffic_on_blue"], true, "{out:#}");
    assert_eq!(out["next_steps"], json!([]), "nothing goes on in AWS");
    let arn = out["deployment_id"].as_str().unwrap();
    assert_eq!(status_of(&stack, arn), "ROLLBACK_SUCCESSFUL");
    assert_eq!(stack.calls_of("ecs.ContinueServiceDeployment"), 1);
    assert_eq!(stack.calls_of("ecs.StopServiceDeployment"), 0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_interrupt_rollback_rolls_back_and_keeps_the_signals_exit_status() {
    let stack = native_stack().await;
    native(&stack).deploy(&[]).assert_exit(0);
    let project = paused(native(&stack)).image("v2");
    let running = project.spawn(&["--on-interrupt", "rollback", "--output", "json"]);
    let arn = wait_for_pause(&stack, "PRE_PRODUCTION_TRAFFIC_SHIFT");
    wait_until_polled(&stack);
    assert_eq!(stack.version_on(8080).as_deref(), Some("v2"));
    running.signal(libc::SIGTERM);
    let run = running.wait();
    run.assert_exit(143).assert_says(&[
        "--on-interrupt rollback: a running deployment is stopped with rollback",
        "--on-interrupt rollback: rolling back service deployment",
        "(ContinueServiceDeployment ROLLBACK), then following the rollback",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted", "{out:#}");
    assert_eq!(out["deployment_id"], arn.as_str());
    let message = out["message"].as_str().unwrap();
    assert!(
        message.starts_with("interrupted; --on-interrupt rollback:"),
        "{message}"
    );
    assert_eq!(out["rollback"]["traffic_on_blue"], true, "{out:#}");
    assert_eq!(out["next_steps"], json!([]), "{out:#}");
    assert_eq!(status_of(&stack, &arn), "ROLLBACK_SUCCESSFUL");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_interrupt_leave_leaves_it_running_and_a_running_deployment_is_stopped_with_rollback() {
    let stack = native_stack().await;
    native(&stack).deploy(&[]).assert_exit(0);
    // A long bake: the deployment runs (not paused) when the deploy's wait times out.
    let project = native(&stack)
        .image("v2")
        .config("/ecs/bake_time_minutes", json!(60));
    let run = project.deploy(&["--wait-until", "BAKE_TIME", "--output", "json"]);
    run.assert_exit(0);
    let arn = run.json()["deployment_id"].as_str().unwrap().to_string();
    // kirikae watch re-attaches; the default policy leaves it running when its --timeout passes.
    let watch = project
        .kirikae("watch")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .args(["--timeout", "2s", "--output", "json"])
        .output()
        .expect("run kirikae watch");
    let out: Value = serde_json::from_slice(&watch.stdout).unwrap();
    assert_eq!(watch.status.code(), Some(3), "{out:#}");
    assert_eq!(status_of(&stack, &arn), "IN_PROGRESS");
    assert_eq!(stack.calls_of("ecs.StopServiceDeployment"), 0);
    // With --on-timeout rollback it stops it with rollback (nothing awaits action) and follows that.
    let watch = project
        .kirikae("watch")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .args([
            "--timeout",
            "2s",
            "--on-timeout",
            "rollback",
            "--output",
            "json",
        ])
        .output()
        .expect("run kirikae watch --on-timeout rollback");
    let out: Value = serde_json::from_slice(&watch.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&watch.stderr);
    assert_eq!(watch.status.code(), Some(1), "{out:#}\n{stderr}");
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert!(
        stderr.contains("StopServiceDeployment ROLLBACK"),
        "{stderr}"
    );
    assert_eq!(stack.calls_of("ecs.StopServiceDeployment"), 1);
    assert_eq!(status_of(&stack, &arn), "ROLLBACK_SUCCESSFUL");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_on_interrupt_rollback_rolls_back_the_service_deployment_it_follows() {
    let stack = native_stack().await;
    native(&stack).deploy(&[]).assert_exit(0);
    let project = paused(native(&stack)).image("v2");
    project.deploy(&["--no-wait"]).assert_exit(0);
    let arn = wait_for_pause(&stack, "PRE_PRODUCTION_TRAFFIC_SHIFT");
    let before = stack.calls_of("ecs.DescribeServiceDeployments");
    let watch = project
        .kirikae("watch")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .args(["--on-interrupt", "rollback", "--output", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kirikae watch");
    // Interrupt once it follows the deployment (two reads: its snapshot, then its first poll).
    wait_for("watch to follow the deployment", 30, || {
        (stack.calls_of("ecs.DescribeServiceDeployments") >= before + 2).then_some(())
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(watch.id() as i32, libc::SIGINT) };
    let out = watch.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"], "interrupted", "{doc:#}");
    assert_eq!(doc["rollback"]["traffic_on_blue"], true, "{doc:#}");
    assert!(
        stderr.contains("--on-interrupt rollback: rolling back service deployment"),
        "{stderr}"
    );
    assert_eq!(status_of(&stack, &arn), "ROLLBACK_SUCCESSFUL");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passing_gate_continues_the_pause_kirikae_added_and_production_moves() {
    let stack = native_stack().await;
    let gate = json!({
        "http": [{"path": "/", "body": "\"version\":\"v2\"", "requests": 5}],
        "command": "echo \"$KIRIKAE_TEST_URL $KIRIKAE_IMAGE_WEB $KIRIKAE_DEPLOYMENT_ID\" > gate-env.txt",
    });
    native(&stack).deploy(&[]).assert_exit(0);
    // kirikae diff counts the pause the gate adds as a setting, as deploy does.
    let gated = native(&stack).config("/gate", gate.clone());
    let diff = gated
        .kirikae("diff")
        .arg("-c")
        .arg(gated.path("kirikae.yml"))
        .output()
        .expect("run kirikae diff");
    let said = String::from_utf8_lossy(&diff.stdout);
    assert_eq!(diff.status.code(), Some(1), "{said}");
    for line in [
        "+lifecycleHooks[0].targetType: PAUSE",
        "+lifecycleHooks[0].lifecycleStages: POST_TEST_TRAFFIC_SHIFT",
        "+lifecycleHooks[0].timeoutConfiguration.timeoutInMinutes: 60",
    ] {
        assert!(
            said.lines().any(|l| l.trim() == line),
            "no {line:?} in\n{said}"
        );
    }
    let project = native(&stack).image("v2").config("/gate", gate);
    // The dry run and verify show the pause kirikae adds and where the checks go, and change nothing.
    let before = stack.mutating_calls();
    let through = format!("(through http://{}:8080)", stack.dns);
    project
        .deploy(&["--dry-run"])
        .assert_exit(0)
        .assert_says(&[
            "pause at POST_TEST_TRAFFIC_SHIFT (a PAUSE hook kirikae adds to the service's lifecycle hooks; 60 min, then ROLLBACK)",
            &through,
        ]);
    let verify = project
        .kirikae("verify")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .output()
        .expect("run kirikae verify");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(verify.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("pause at POST_TEST_TRAFFIC_SHIFT") && stderr.contains(&through),
        "{stderr}"
    );
    assert_eq!(stack.mutating_calls(), before);

    let run = project.deploy(&["--output", "json"]);
    run.assert_exit(0).assert_says(&[
        "gate: checking green through the test listener",
        "5/5 requests passed",
        "ContinueServiceDeployment CONTINUE",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "passed", "{out:#}");
    assert_eq!(
        out["gate"]["test_url"],
        format!("http://{}:8080", stack.dns)
    );
    let arn = out["deployment_id"].as_str().unwrap();
    let env = std::fs::read_to_string(project.path("gate-env.txt")).expect("the command ran");
    assert_eq!(
        env.trim(),
        format!("http://{}:8080 kirikae/demo:v2 {arn}", stack.dns)
    );
    let events = timeline(&out);
    let at = |e: &str| {
        events
            .iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("{e} in {events:?}"))
    };
    assert!(at("POST_TEST_TRAFFIC_SHIFT") < at("Gate"), "{events:?}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(
        service_hooks(&stack),
        [(
            "PAUSE".to_string(),
            vec!["POST_TEST_TRAFFIC_SHIFT".to_string()],
            Some(60)
        )]
    );
    // The added pause is part of the settings: the same config again is up to date.
    let again = project.deploy(&["--output", "json"]);
    again.assert_exit(0).assert_says(&["nothing to deploy"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_gate_rolls_back_at_the_pause_and_exits_1() {
    let stack = native_stack().await;
    let gate = json!({"http": [{"path": "/", "body": "\"version\":\"v9\"", "requests": 3}]});
    native(&stack).deploy(&[]).assert_exit(0);
    let run = native(&stack)
        .image("v2")
        .config("/gate", gate)
        .deploy(&["--output", "json"]);
    run.assert_exit(1)
        .assert_says(&["✗ gate failed", "ContinueServiceDeployment ROLLBACK"]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "failed", "{out:#}");
    let message = out["message"].as_str().unwrap();
    assert!(message.starts_with("the gate failed:"), "{message}");
    assert!(message.contains("ROLLBACK_SUCCESSFUL"), "{message}");
    let arn = out["deployment_id"].as_str().unwrap();
    assert_eq!(status_of(&stack, arn), "ROLLBACK_SUCCESSFUL");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_that_cannot_work_is_refused_before_any_change() {
    let stack = native_stack().await;
    native(&stack).deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    native(&stack)
        .image("v2")
        .config("/ecs/test_listener", Value::Null)
        .config("/gate", json!({"command": "true"}))
        .deploy(&[])
        .assert_exit(2)
        .assert_says(&["runs against the test listener, and ecs has no test_listener"]);
    native(&stack)
        .image("v2")
        .config("/gate", json!({"command": "true"}))
        .deploy(&["--wait-until", "BAKE_TIME"])
        .assert_exit(2)
        .assert_says(&["stops waiting before it can decide"]);
    native(&stack)
        .image("v2")
        .config("/gate", json!({"command": "true"}))
        .deploy(&["--auto-promote-after", "1m"])
        .assert_exit(2)
        .assert_says(&["has no `approve: true`"]);
    native(&stack)
        .image("v2")
        .deploy(&["--auto-promote-after", "1m"])
        .assert_exit(2)
        .assert_says(&["promotes a deployment held for approval", "has no gate"]);
    native(&stack)
        .image("v2")
        .config(
            "/ecs/hooks",
            json!([{"stages": ["POST_TEST_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 1}]),
        )
        .config(
            "/gate",
            json!({"http": [{"requests": 10, "duration_seconds": 120}]}),
        )
        .deploy(&[])
        .assert_exit(2)
        .assert_says(&["times out after 1 min"]);
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_holds_at_the_pause_until_kirikae_promote() {
    let stack = native_stack().await;
    native(&stack).deploy(&[]).assert_exit(0);
    let v2 = native(&stack)
        .image("v2")
        .config("/gate", json!({"approve": true}));
    let running = v2.spawn(&["--output", "json"]);
    wait_for_pause(&stack, "POST_TEST_TRAFFIC_SHIFT");
    wait_until_polled(&stack);
    assert_eq!(stack.version_on(8080).as_deref(), Some("v2"));
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    let promote = v2
        .kirikae("promote")
        .arg("-c")
        .arg(v2.path("kirikae.yml"))
        .args(["--output", "json"])
        .output()
        .expect("run kirikae promote");
    assert_eq!(
        promote.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&promote.stderr)
    );
    let run = running.wait();
    run.assert_exit(0).assert_says(&["kirikae promote -c"]);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["gate"]["approval"]["state"], "promoted", "{out:#}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(
        service_hooks(&stack),
        [(
            "PAUSE".to_string(),
            vec!["POST_TEST_TRAFFIC_SHIFT".to_string()],
            Some(1440)
        )]
    );

    // --auto-promote-after continues it by itself.
    let v3 = native(&stack)
        .image("v3")
        .config("/gate", json!({"approve": true}));
    let run = v3.deploy(&["--auto-promote-after", "1s", "--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["auto-promoting service deployment"]);
    let out = run.json();
    assert_eq!(out["gate"]["approval"]["state"], "auto_promoted", "{out:#}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v3"));
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_runs_the_gate_checks_first_on_a_deployment_left_at_the_pause() {
    let stack = native_stack().await;
    let gate = json!({"http": [{"path": "/", "body": "\"version\":\"v9\"", "requests": 3}]});
    native(&stack).deploy(&[]).assert_exit(0);
    let project = native(&stack).image("v2").config("/gate", gate);
    let run = project.deploy(&["--no-wait", "--output", "json"]);
    run.assert_exit(0);
    let out = run.json();
    let message = out["message"].as_str().unwrap();
    assert!(
        message.contains("it pauses at POST_TEST_TRAFFIC_SHIFT")
            && message.contains("which runs the gate's checks first"),
        "{message}"
    );
    assert!(
        out["next_steps"][0]
            .as_str()
            .unwrap()
            .starts_with("shift production traffic: kirikae promote -c"),
        "{out:#}"
    );
    let arn = wait_for_pause(&stack, "POST_TEST_TRAFFIC_SHIFT");
    let promote = project
        .kirikae("promote")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .args(["--output", "json"])
        .output()
        .expect("run kirikae promote");
    let stderr = String::from_utf8_lossy(&promote.stderr);
    let out: Value = serde_json::from_slice(&promote.stdout).unwrap();
    assert_eq!(promote.status.code(), Some(1), "{out:#}\n{stderr}");
    assert!(
        stderr.contains("the gate failed") && stderr.contains("ContinueServiceDeployment ROLLBACK"),
        "{stderr}"
    );
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "failed", "{out:#}");
    assert_eq!(status_of(&stack, &arn), "ROLLBACK_SUCCESSFUL");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

/// `kirikae ARGS` against the sandbox in the project's directory, without writing its files again
/// (kirikae migrate --write rewrote kirikae.yml).
fn kirikae_as_is(stack: &Stack, project: &Project, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kirikae"));
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
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_carries_the_gate_over_and_the_native_deploy_runs_it() {
    let stack = Stack::new().await;
    let p = stack
        .project()
        .config(
            "/codedeploy/ready",
            json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
        )
        .config(
            "/gate",
            json!({"command": "echo \"$KIRIKAE_IMAGE_WEB\" >> gate-ran.txt"}),
        );
    p.deploy(&[]).assert_exit(0);
    let config = p.dir.join("kirikae.yml");
    let config = config.to_str().unwrap();

    // The plan: the pause CodeDeploy's Ready wait becomes is where the gate runs.
    let before = stack.mutating_calls();
    let out = kirikae_as_is(
        &stack,
        &p,
        &["migrate", "-c", config, "--dry-run", "--output", "json"],
    )
    .output()
    .expect("run kirikae migrate --dry-run");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{plan:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stack.mutating_calls(), before);
    let text = plan["config_text"].as_str().unwrap();
    assert!(
        text.contains("POST_TEST_TRAFFIC_SHIFT") && !text.contains("PRE_PRODUCTION_TRAFFIC_SHIFT"),
        "{text}"
    );
    assert!(text.contains("gate-ran.txt"), "the gate stays: {text}");
    assert!(
        plan["notes"].to_string().contains("gate: carried over"),
        "{plan:#}"
    );

    // The move's own service deployment pauses at the gate's stage too: migrate runs the gate there.
    let moved = kirikae_as_is(
        &stack,
        &p,
        &["migrate", "-c", config, "--write", "--output", "json"],
    )
    .output()
    .expect("run kirikae migrate --write");
    let stderr = String::from_utf8_lossy(&moved.stderr);
    let out: Value = serde_json::from_slice(&moved.stdout).unwrap();
    assert_eq!(moved.status.code(), Some(0), "{out:#}\n{stderr}");
    assert!(
        stderr.contains("gate: checking green through the test listener")
            && stderr.contains("ContinueServiceDeployment CONTINUE"),
        "{stderr}"
    );
    assert_eq!(out["gate"]["verdict"], "passed", "{out:#}");
    assert_eq!(out["config_written"], true, "{out:#}");
    let ran = std::fs::read_to_string(p.dir.join("gate-ran.txt")).unwrap();
    assert_eq!(ran.trim(), "kirikae/demo:v1", "the move deploys what runs");

    // A native deploy of the rewritten config runs the gate at the pause, then production moves.
    let td = p.dir.join("task-definition.json");
    let td_text = std::fs::read_to_string(&td).unwrap();
    std::fs::write(&td, td_text.replace("kirikae/demo:v1", "kirikae/demo:v2")).unwrap();
    let deploy = kirikae_as_is(&stack, &p, &["deploy", "-c", config, "--output", "json"])
        .output()
        .expect("run kirikae deploy");
    let out: Value = serde_json::from_slice(&deploy.stdout).unwrap();
    assert_eq!(
        deploy.status.code(),
        Some(0),
        "{out:#}\n{}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    assert_eq!(out["controller"], "ECS", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "passed", "{out:#}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    let ran = std::fs::read_to_string(p.dir.join("gate-ran.txt")).unwrap();
    assert_eq!(ran.lines().last(), Some("kirikae/demo:v2"), "{ran}");
}
