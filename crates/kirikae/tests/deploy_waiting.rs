//! How long `kirikae deploy` waits: `--wait-until EVENT`, `--timeout` (exit 3), `--no-wait`, Ctrl-C (exit
//! 130); and a deploy while another is active is refused before anything changes.

mod deploy_support;

use std::time::Duration;

use deploy_support::{Project, Stack, block_on};
use serde_json::json;

/// A group that waits in Ready for someone to continue (STOP_DEPLOYMENT): deployments pause after test
/// traffic.
fn stop_deployment(p: Project) -> Project {
    p.config(
        "/codedeploy/ready",
        json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_until_after_allow_test_traffic_returns_while_production_is_still_blue() {
    let stack = Stack::new().await;
    stop_deployment(stack.project()).deploy(&[]).assert_exit(0);

    let run = stop_deployment(stack.project()).deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--wait-until",
        "AfterAllowTestTraffic",
        "--output",
        "json",
    ]);
    run.assert_exit(0)
        .assert_says(&["AfterAllowTestTraffic succeeded"]);
    let out = run.json();
    assert_eq!(out["result"], "reached", "{out:#}");
    let id = out["deployment_id"].as_str().unwrap().to_string();
    assert_eq!(
        stack.version_on(80).as_deref(),
        Some("v1"),
        "production must still be blue"
    );
    assert_eq!(
        stack.version_on(8080).as_deref(),
        Some("v2"),
        "the test listener serves green"
    );

    // Another deploy now is refused before anything changes.
    let before = stack.mutating_calls();
    let busy = stop_deployment(stack.project()).deploy(&["--image", "web=kirikae/demo:v3"]);
    busy.assert_exit(1)
        .assert_says(&["already has an active deployment", &id]);
    assert_eq!(stack.mutating_calls(), before);

    // Continuing it switches production to green.
    block_on(
        stack
            .codedeploy
            .continue_deployment()
            .deployment_id(&id)
            .deployment_wait_type(aws_sdk_codedeploy::types::DeploymentWaitType::ReadyWait)
            .send(),
    )
    .unwrap();
    deploy_support::wait_for("the continued deployment to switch production", 30, || {
        (stack.version_on(80).as_deref() == Some("v2")).then_some(())
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_exits_3_and_says_how_to_follow_or_stop() {
    let stack = Stack::new().await;
    stop_deployment(stack.project()).deploy(&[]).assert_exit(0);
    let args = [
        "--image",
        "web=kirikae/demo:v2",
        "--timeout",
        "3s",
        "--output",
        "json",
    ];
    let run = stop_deployment(stack.project()).deploy(&args);
    run.assert_exit(3).assert_says(&[
        "timed out",
        "still",
        "aws deploy stop-deployment --deployment-id d-",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "timed_out");
    let steps: Vec<&str> = out["next_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        steps
            .iter()
            .any(|s| s.contains("aws deploy stop-deployment")),
        "{steps:?}"
    );
    // Paused before production traffic (a very slow machine may still be installing green).
    if out["status"] == "Ready" {
        assert!(
            steps
                .iter()
                .any(|s| s.contains("aws deploy continue-deployment")),
            "{steps:?}"
        );
    } else {
        assert_eq!(out["status"], "InProgress", "{out:#}");
    }
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_wait_returns_once_the_deployment_exists() {
    let stack = Stack::new().await;
    stop_deployment(stack.project()).deploy(&[]).assert_exit(0);
    let run = stop_deployment(stack.project()).deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--no-wait",
        "--output",
        "json",
    ]);
    run.assert_exit(0);
    let out = run.json();
    assert_eq!(out["result"], "started");
    let id = out["deployment_id"].as_str().unwrap();
    let dep = block_on(stack.codedeploy.get_deployment().deployment_id(id).send()).unwrap();
    assert!(
        !dep.deployment_info()
            .unwrap()
            .status()
            .unwrap()
            .as_str()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_waiting_exits_130_and_leaves_the_deployment_running() {
    let stack = Stack::new().await;
    stop_deployment(stack.project()).deploy(&[]).assert_exit(0);
    let project = stop_deployment(stack.project());
    let running = project.spawn(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    // Interrupt once the deployment exists and waits in Ready.
    deploy_support::wait_for("the deployment to wait in Ready", 30, || {
        let ready = aws_sdk_codedeploy::types::DeploymentStatus::Ready;
        let list = block_on(
            stack
                .codedeploy
                .list_deployments()
                .include_only_statuses(ready)
                .send(),
        )
        .ok()?;
        (!list.deployments().is_empty()).then_some(())
    });
    running.interrupt();
    let run = running.wait();
    run.assert_exit(130)
        .assert_says(&["interrupted", "goes on in AWS"]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted");
    let id = out["deployment_id"].as_str().unwrap();
    let dep = block_on(stack.codedeploy.get_deployment().deployment_id(id).send()).unwrap();
    assert_eq!(
        dep.deployment_info().unwrap().status().unwrap().as_str(),
        "Ready"
    );
}
