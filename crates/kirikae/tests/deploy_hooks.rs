//! AppSpec hooks from kirikae.yml run in the deployment; a hook that reports failure fails the
//! deployment, which rolls back. (The sandbox runs hook "Lambda functions" as local commands.)

mod deploy_support;

use deploy_support::Stack;
use serde_json::json;

/// A hook command reporting `status` for the lifecycle event it was invoked for, as a Lambda would.
fn reporting(status: &str) -> String {
    format!(
        "python3 -c 'import os, json, boto3; p = json.loads(os.environ[\"KIRIKAE_HOOK_PAYLOAD\"]); \
         boto3.client(\"codedeploy\").put_lifecycle_event_hook_execution_status(deploymentId=p[\"DeploymentId\"], \
         lifecycleEventHookExecutionId=p[\"LifecycleEventHookExecutionId\"], status=\"{status}\")'"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_run_and_a_failing_hook_rolls_back() {
    let ok = format!("smoke-ok={}", reporting("Succeeded"));
    let fail = format!("smoke-fail={}", reporting("Failed"));
    let stack = Stack::with_sandbox("60", &["--hook", &ok, "--hook", &fail]).await;
    stack.project().deploy(&[]).assert_exit(0);

    let passing = stack.project().image("v2").config(
        "/codedeploy/hooks",
        json!({"AfterAllowTestTraffic": "smoke-ok"}),
    );
    let run = passing.deploy(&["--output", "json"]);
    run.assert_exit(0);
    assert_eq!(run.json()["result"], "succeeded");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    let failing = stack.project().image("v3").config(
        "/codedeploy/hooks",
        json!({"AfterAllowTestTraffic": "smoke-fail"}),
    );
    let run = failing.deploy(&["--output", "json"]);
    run.assert_exit(1)
        .assert_says(&["rolled back by", "production traffic is back on blue"]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    let failed: Vec<&str> = out["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "Failed")
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["AfterAllowTestTraffic"]);
    // CodeDeploy's diagnostics of the failed event are in the outcome.
    let lifecycle = out["diagnosis"]["lifecycle"].to_string();
    assert!(
        lifecycle.contains("AfterAllowTestTraffic failed"),
        "{out:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}
