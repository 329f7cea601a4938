//! `--on-interrupt leave|rollback` and `--on-timeout leave|rollback`, through the binary against the
//! sandbox: `rollback` stops the deployment with CodeDeploy's rollback and follows the rollback to its end
//! before exiting (production back on blue, verified through the listener and in AWS); `leave` (the
//! default) stops only the waiting.

mod deploy_support;

use aws_sdk_codedeploy::types::DeploymentStatus;
use deploy_support::{Project, Stack, block_on, wait_for};
use serde_json::json;

/// Deployments pause in Ready (an hour) until someone continues them: a deploy waits there.
fn held_at_ready(p: Project) -> Project {
    p.config(
        "/codedeploy/ready",
        json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
    )
}

fn status_of(stack: &Stack, id: &str) -> String {
    let dep = block_on(stack.codedeploy.get_deployment().deployment_id(id).send()).unwrap();
    dep.deployment_info()
        .unwrap()
        .status()
        .unwrap()
        .as_str()
        .to_string()
}

fn wait_for_ready(stack: &Stack) {
    wait_for("the deployment to wait in Ready", 60, || {
        let list = block_on(
            stack
                .codedeploy
                .list_deployments()
                .include_only_statuses(DeploymentStatus::Ready)
                .send(),
        )
        .ok()?;
        (!list.deployments().is_empty()).then_some(())
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn on_interrupt_rollback_stops_the_deployment_and_follows_the_rollback() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    let project = held_at_ready(stack.project()).image("v2");
    let running = project.spawn(&["--on-interrupt", "rollback", "--output", "json"]);
    wait_for_ready(&stack);
    assert_eq!(stack.version_on(8080).as_deref(), Some("v2"));
    running.signal(libc::SIGTERM);
    let run = running.wait();
    run.assert_exit(143).assert_says(&[
        "--on-interrupt rollback: a running deployment is stopped with rollback",
        "stopping deployment",
        "is rolled back by",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted", "{out:#}");
    let message = out["message"].as_str().unwrap();
    assert!(
        message.starts_with("interrupted; --on-interrupt rollback:"),
        "{message}"
    );
    assert!(message.contains("back on blue"), "{message}");
    assert_eq!(out["rollback"]["traffic_on_blue"], true, "{out:#}");
    assert_eq!(out["next_steps"], json!([]), "nothing goes on in AWS");
    let id = out["deployment_id"].as_str().unwrap();
    assert_eq!(status_of(&stack, id), "Stopped");
    let rollback = out["rollback"]["deployment_id"].as_str().unwrap();
    assert_eq!(status_of(&stack, rollback), "Succeeded");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_interrupt_leave_stops_only_the_waiting() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    let project = held_at_ready(stack.project()).image("v2");
    let running = project.spawn(&["--on-interrupt", "leave", "--output", "json"]);
    wait_for_ready(&stack);
    running.signal(libc::SIGTERM);
    let run = running.wait();
    run.assert_exit(143).assert_says(&["goes on in AWS"]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted");
    assert!(out["rollback"].is_null(), "{out:#}");
    let id = out["deployment_id"].as_str().unwrap();
    assert_eq!(status_of(&stack, id), "Ready");
    assert_eq!(stack.calls_of("codedeploy.StopDeployment"), 0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    assert_eq!(stack.version_on(8080).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_timeout_rollback_rolls_back_and_exits_1() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    // The deployment waits in Ready for an AWS hour; kirikae waits 3 s.
    let run = held_at_ready(stack.project()).image("v2").deploy(&[
        "--timeout",
        "3s",
        "--on-timeout",
        "rollback",
        "--output",
        "json",
    ]);
    run.assert_exit(1)
        .assert_says(&["--on-timeout rollback: stopping deployment"]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    let message = out["message"].as_str().unwrap();
    assert!(
        message.starts_with("timed out; --on-timeout rollback:"),
        "{message}"
    );
    assert_eq!(out["rollback"]["traffic_on_blue"], true, "{out:#}");
    let id = out["deployment_id"].as_str().unwrap();
    assert_eq!(status_of(&stack, id), "Stopped");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_on_interrupt_rollback_rolls_back_the_deployment_it_follows() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    let project = held_at_ready(stack.project()).image("v2");
    project.deploy(&["--no-wait"]).assert_exit(0);
    wait_for_ready(&stack);
    let watch = project
        .kirikae("watch")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .args(["--on-interrupt", "rollback", "--output", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kirikae watch");
    // Interrupt once it follows the deployment (its first poll: the group's deployment was read).
    wait_for("watch to follow the deployment", 30, || {
        (stack.calls_of("codedeploy.GetDeploymentTarget") > 0).then_some(())
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(watch.id() as i32, libc::SIGINT) };
    let out = watch.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"], "interrupted", "{doc:#}");
    assert_eq!(doc["rollback"]["traffic_on_blue"], true, "{doc:#}");
    assert!(
        stderr.contains("--on-interrupt rollback: stopping deployment"),
        "{stderr}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}
