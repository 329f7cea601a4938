//! Changing the deployment group in kirikae.yml updates it, and says what changed.

mod deploy_support;

use deploy_support::{Stack, block_on};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_deployment_group_is_updated_and_the_changes_are_shown() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);

    let run = stack
        .project()
        .config("/codedeploy/termination_wait_minutes", json!(5))
        .config("/codedeploy/test_listener", json!(null))
        .config(
            "/codedeploy/auto_rollback",
            json!(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(0).assert_says(&[
        "updated deployment group DgpEcs-demo-web:",
        &format!("test listener: {} → (none)", stack.test_listener),
        "termination wait: 2 minutes → 5 minutes",
        "auto-rollback: DEPLOYMENT_FAILURE → DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_REQUEST",
    ]);
    let out = run.json();
    assert_eq!(out["deployment_group_action"], "updated");
    assert_eq!(
        out["deployment_group_changes"].as_array().unwrap().len(),
        3,
        "{out:#}"
    );

    let group = block_on(
        stack
            .codedeploy
            .get_deployment_group()
            .application_name("AppEcs-demo-web")
            .deployment_group_name("DgpEcs-demo-web")
            .send(),
    )
    .unwrap();
    let info = group.deployment_group_info().unwrap();
    let bg = info.blue_green_deployment_configuration().unwrap();
    assert_eq!(
        bg.terminate_blue_instances_on_deployment_success()
            .unwrap()
            .termination_wait_time_in_minutes(),
        5
    );
    let pair = &info
        .load_balancer_info()
        .unwrap()
        .target_group_pair_info_list()[0];
    assert!(
        pair.test_traffic_route()
            .is_none_or(|r| r.listener_arns().is_empty()),
        "{pair:?}"
    );

    // Once matching, the group is left alone.
    let again = stack
        .project()
        .config("/codedeploy/termination_wait_minutes", json!(5))
        .config("/codedeploy/test_listener", json!(null))
        .config(
            "/codedeploy/auto_rollback",
            json!(["DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_FAILURE"]),
        )
        .deploy(&["--output", "json"]);
    again.assert_exit(0);
    assert_eq!(again.json()["deployment_group_action"], "unchanged");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_desired_count_follows_the_service_definition() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let dry = stack
        .project()
        .service("/desiredCount", json!(3))
        .deploy(&["--dry-run"]);
    dry.assert_exit(0)
        .assert_says(&["service           web: would update desired count: 2 → 3"]);

    let run = stack
        .project()
        .service("/desiredCount", json!(3))
        .deploy(&["--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["desired count of demo/web: 2 → 3", "nothing to deploy"]);
    assert_eq!(run.json()["service_changes"][0]["to"], "3");
    let svc = block_on(
        stack
            .ecs
            .describe_services()
            .cluster("demo")
            .services("web")
            .send(),
    )
    .unwrap();
    assert_eq!(svc.services()[0].desired_count(), 3);

    // Without desiredCount in the definition (an autoscaler owns it), the count is left alone.
    let run = stack
        .project()
        .service("/desiredCount", json!(null))
        .deploy(&["--output", "json"]);
    run.assert_exit(0);
    assert_eq!(run.json()["service_changes"], json!([]));
}
