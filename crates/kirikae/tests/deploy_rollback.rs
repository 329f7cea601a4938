//! A green task set that never passes its health checks: CodeDeploy fails the deployment and rolls back;
//! kirikae exits 1, says why and that traffic is back on blue.

mod deploy_support;

use deploy_support::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn unhealthy_green_fails_rolls_back_and_traffic_stays_on_blue() {
    // CodeDeploy gives green an hour to become healthy: at 600x that is 6 s.
    let stack = Stack::with_time_scale("600").await;
    stack.project().deploy(&[]).assert_exit(0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    let run = stack
        .project()
        .image("v2")
        .task(
            "/containerDefinitions/0/environment",
            json!([{"name": "DEMO_HEALTH", "value": "fail"}]),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(1)
        .assert_says(&["rolled back by", "production traffic is back on blue"]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["status"], "Failed");
    assert!(out["error"]["code"].is_string(), "{out:#}");
    assert!(out["error"]["message"].is_string(), "{out:#}");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains(out["error"]["code"].as_str().unwrap()),
        "{out:#}"
    );
    // Why, as far as AWS tells: green's tasks failed their health checks.
    let diagnosis = &out["diagnosis"];
    assert!(
        !diagnosis["stopped_tasks"].as_array().unwrap().is_empty()
            || !diagnosis["target_health"].as_array().unwrap().is_empty()
            || !diagnosis["service_events"].as_array().unwrap().is_empty(),
        "{out:#}"
    );
    assert!(
        run.stderr.contains("green tasks stopped:") || run.stderr.contains("service events:"),
        "{}",
        run.stderr
    );
    assert_eq!(out["rollback"]["status"], "Succeeded");
    assert_eq!(out["rollback"]["traffic_on_blue"], true);
    assert!(
        out["rollback"]["deployment_id"]
            .as_str()
            .unwrap()
            .starts_with("d-")
    );
    for _ in 0..10 {
        assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    }
}
