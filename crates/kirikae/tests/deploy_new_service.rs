//! A new service whose tasks never become healthy fails the deploy as soon as ECS's own circuit-breaker
//! rule would (half the desired count, at least 3 tasks stopped), not at the timeout.

mod deploy_support;

use deploy_support::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_new_service_whose_tasks_keep_failing_ends_the_deploy_with_the_reason() {
    let stack = Stack::new().await;
    let run = stack
        .project()
        .task(
            "/containerDefinitions/0/environment",
            json!([{"name": "DEMO_HEALTH", "value": "fail"}]),
        )
        // Far beyond what failing fast needs; hitting it would exit 3, not 1.
        .deploy(&["--timeout", "2m", "--output", "json"]);
    run.assert_exit(1)
        .assert_says(&["created service demo/web, but it is not starting"]);
    let out = run.json();
    assert_eq!(out["result"], "failed", "{out:#}");
    assert_eq!(out["service_created"], true);
    let message = out["message"].as_str().unwrap();
    assert!(
        message.contains("of its tasks stopped") && message.contains("health checks"),
        "{message}"
    );
    let stopped = stack
        .ecs
        .list_tasks()
        .cluster("demo")
        .service_name("web")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert!(stopped.task_arns().len() >= 3, "{stopped:?}");
}
