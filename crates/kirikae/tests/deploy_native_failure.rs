//! After an ECS-native service deployment fails, `kirikae deploy` says why as far as AWS tells, as it
//! does on CodeDeploy: the hook that failed or timed out (with the stage the service runs it at), green's
//! stopped tasks with their containers' exit codes, the alternate group's unhealthy targets, alarms in
//! ALARM and the service's latest events — on stderr, in `--output json` (`diagnosis`), with the run's
//! other outputs agreeing. A native outcome says `controller: ECS` and has no CodeDeploy application or
//! deployment group keys.

mod deploy_support;
mod onboarding;

use std::process::Command;

use deploy_support::{Stack, block_on, step_outputs, wait_for};
use onboarding::{native_project, native_stack, native_stack_with};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers";
const SMOKE_FAIL: &str = "arn:aws:lambda:us-east-1:000000000000:function:smoke-fail";

fn lines<'a>(doc: &'a Value, key: &str) -> Vec<&'a str> {
    doc["diagnosis"][key]
        .as_array()
        .unwrap_or_else(|| panic!("no diagnosis.{key} in {doc:#}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_hook_is_named_with_its_stage_and_every_output_agrees() {
    let stack =
        native_stack_with(&["--hook", "smoke-fail=echo '{\"hookStatus\": \"FAILED\"}'"]).await;
    let first = native_project(&stack).deploy(&["--output", "json"]);
    first.assert_exit(0);
    let created = first.json();
    assert_eq!(created["controller"], "ECS", "{created:#}");
    // No CodeDeploy application or group on the ECS controller: the keys are left out, not empty.
    for key in [
        "application",
        "application_created",
        "deployment_group",
        "deployment_group_action",
        "deployment_group_changes",
    ] {
        assert!(created.get(key).is_none(), "{key} in {created:#}");
    }
    assert!(created.get("diagnosis").is_none_or(Value::is_null));

    let project = native_project(&stack).image("v2").config(
        "/ecs/hooks",
        json!([{"stages": ["POST_TEST_TRAFFIC_SHIFT"], "function": SMOKE_FAIL, "role": ROLE}]),
    );
    let outputs = project.path("github-output");
    // Kept until the outputs are read: a project's directory goes when it is dropped.
    let project = project.env("GITHUB_OUTPUT", outputs.to_str().unwrap());
    let run = project.deploy(&["--output", "json"]);
    run.assert_exit(1);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(out["controller"], "ECS");
    assert!(out.get("application").is_none(), "{out:#}");
    let hook = format!("hook {SMOKE_FAIL} at POST_TEST_TRAFFIC_SHIFT FAILED");
    assert_eq!(lines(&out, "lifecycle"), [hook.as_str()]);
    // The same lines on stderr, as the CodeDeploy ending shows them.
    run.assert_says(&[&format!("lifecycle: {hook}")]);
    // $GITHUB_OUTPUT comes from the same document.
    let steps = step_outputs(&outputs);
    assert_eq!(steps["result"], "rolled_back");
    assert_eq!(steps["exit-code"], "1");
    assert_eq!(steps["controller"], "ECS");
    assert_eq!(
        steps["deployment-id"],
        out["deployment_id"].as_str().unwrap()
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_that_times_out_is_named_with_its_timeout_action() {
    let stack = native_stack().await;
    native_project(&stack).deploy(&[]).assert_exit(0);
    let run = native_project(&stack)
        .image("v2")
        .config(
            "/ecs/hooks",
            json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 1}]),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(1);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    let lifecycle = lines(&out, "lifecycle");
    assert_eq!(lifecycle.len(), 1, "{lifecycle:?}");
    assert!(
        lifecycle[0].starts_with("PAUSE hook ecs-pause-")
            && lifecycle[0]
                .ends_with(" at PRE_PRODUCTION_TRAFFIC_SHIFT TIMED_OUT (timeout action ROLLBACK)"),
        "{lifecycle:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_green_task_that_exits_is_shown_with_its_exit_code() {
    let stack = native_stack().await;
    let breaker = json!({
        "deploymentCircuitBreaker": {"enable": true, "rollback": true},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100
    });
    native_project(&stack)
        .service("/deploymentConfiguration", breaker.clone())
        .deploy(&[])
        .assert_exit(0);
    // Green's containers exit 1 at once: ECS's circuit breaker rolls the deployment back.
    let run = native_project(&stack)
        .image("v2")
        .service("/deploymentConfiguration", breaker)
        .task(
            "/containerDefinitions/0/environment",
            json!([{"name": "DEMO_CRASH_AFTER", "value": "0"}]),
        )
        .deploy(&["--output", "json", "--timeout", "20m"]);
    run.assert_exit(1);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    let stopped = lines(&out, "stopped_tasks");
    assert!(
        stopped
            .iter()
            .any(|s| s.contains("Essential container in task exited (web exited 1)")),
        "{stopped:?}"
    );
    run.assert_says(&["green tasks stopped:", "(web exited 1)"]);
    // Production stayed on the previous revision.
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_still_not_done_at_the_time_out_says_why_green_does_not_start() {
    // Without the circuit breaker ECS keeps replacing green's crashing tasks: the deployment never
    // ends by itself, and the time-out's ending says what AWS tells of green so far.
    let stack = native_stack().await;
    native_project(&stack).deploy(&[]).assert_exit(0);
    let run = native_project(&stack)
        .image("v2")
        .task(
            "/containerDefinitions/0/environment",
            json!([{"name": "DEMO_CRASH_AFTER", "value": "0"}]),
        )
        .deploy(&["--output", "json", "--timeout", "15s"]);
    run.assert_exit(3);
    let out = run.json();
    assert_eq!(out["result"], "timed_out", "{out:#}");
    assert_eq!(out["status"], "IN_PROGRESS");
    let stopped = lines(&out, "stopped_tasks");
    assert!(
        stopped.iter().any(|s| s.contains("(web exited 1)")),
        "{stopped:?}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

/// CloudWatch through boto3 (two calls; no other Rust SDK crate for them).
fn cloudwatch(stack: &Stack, script: &str) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import boto3\ncw = boto3.client('cloudwatch', endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test')\n{script}",
            stack.sandbox.url
        ))
        .status()
        .expect("python3");
    assert!(status.success(), "boto3 script failed: {script}");
}

/// Whether the service's newest service deployment waits at a hook.
fn paused(stack: &Stack) -> Option<()> {
    let listed = block_on(
        stack
            .ecs
            .list_service_deployments()
            .cluster("demo")
            .service("web")
            .send(),
    )
    .ok()?;
    let arn = listed
        .service_deployments()
        .first()?
        .service_deployment_arn()?;
    let described = block_on(
        stack
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send(),
    )
    .ok()?;
    described.service_deployments()[0]
        .lifecycle_hook_details()
        .iter()
        .any(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
        .then_some(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_that_rolls_the_deployment_back_is_shown_with_cloudwatchs_reason() {
    let stack = native_stack().await;
    cloudwatch(
        &stack,
        "cw.put_metric_alarm(AlarmName='web-5xx', MetricName='HTTPCode_Target_5XX_Count', Namespace='AWS/ApplicationELB', \
         Statistic='Sum', Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator='GreaterThanOrEqualToThreshold')",
    );
    let project = |tag: &str| {
        native_project(&stack).image(tag).config(
            "/ecs/alarms",
            json!({"names": ["web-5xx"], "rollback": true}),
        )
    };
    project("v1").deploy(&[]).assert_exit(0);
    // Held before production traffic, so the alarm fires mid-deployment.
    let v2 = project("v2").config(
        "/ecs/hooks",
        json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true}]),
    );
    let running = v2.spawn(&["--output", "json"]);
    wait_for("the deployment held at its pause", 60, || paused(&stack));
    cloudwatch(
        &stack,
        "cw.set_alarm_state(AlarmName='web-5xx', StateValue='ALARM', StateReason='test: 5xx from green')",
    );
    let run = running.wait();
    run.assert_exit(1);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(
        lines(&out, "alarms"),
        ["web-5xx is in ALARM (test: 5xx from green)"]
    );
    run.assert_says(&["alarms: web-5xx is in ALARM (test: 5xx from green)"]);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}
