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
async fn a_scaled_out_service_keeps_its_count_unless_the_config_syncs_it() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let count = || {
        block_on(
            stack
                .ecs
                .describe_services()
                .cluster("demo")
                .services("web")
                .send(),
        )
        .unwrap()
        .services()[0]
            .desired_count()
    };
    // Application Auto Scaling grew the service to 4.
    block_on(
        stack
            .ecs
            .update_service()
            .cluster("demo")
            .service("web")
            .desired_count(4)
            .send(),
    )
    .unwrap();
    let run = stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    run.assert_exit(0);
    assert_eq!(run.json()["service_changes"], json!([]));
    assert_eq!(
        count(),
        4,
        "the deploy must not cut the service back to the file's 2"
    );

    // With sync_desired_count, the definition's count is applied (and previewed).
    let synced = || {
        stack
            .project()
            .config("/sync_desired_count", json!(true))
            .service("/desiredCount", json!(3))
    };
    synced()
        .deploy(&["--dry-run"])
        .assert_exit(0)
        .assert_says(&["service           web: would update desired count: 4 → 3"]);
    let run = synced().deploy(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["desired count of demo/web: 4 → 3", "nothing to deploy"]);
    assert_eq!(run.json()["service_changes"][0]["to"], "3");
    assert_eq!(count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_drift_fail_refuses_before_any_change_and_warn_deploys_with_the_group_as_it_is() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let drifted = || {
        stack
            .project()
            .config("/codedeploy/termination_wait_minutes", json!(5))
    };
    let before = stack.mutating_calls();
    drifted()
        .deploy(&["--image", "web=kirikae/demo:v2", "--group-drift", "fail"])
        .assert_exit(2)
        .assert_says(&[
            "differs from the config",
            "termination wait: 2 minutes → 5 minutes",
            "--group-drift update",
        ]);
    assert_eq!(stack.mutating_calls(), before, "nothing may change");

    let preview = drifted().deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--group-drift",
        "warn",
        "--dry-run",
    ]);
    preview.assert_exit(0).assert_says(&[
        "DgpEcs-demo-web: differs from the config, would be left as it is (--group-drift warn)",
    ]);
    assert!(
        !preview.stderr.contains("would update"),
        "a dry run under --group-drift warn must not promise an update"
    );
    assert_eq!(stack.mutating_calls(), before, "a dry run changes nothing");

    let run = drifted().deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--group-drift",
        "warn",
        "--output",
        "json",
    ]);
    run.assert_exit(0)
        .assert_says(&["warning:", "left as it is (--group-drift warn)"]);
    assert_eq!(run.json()["deployment_group_action"], "unchanged");
    let group = block_on(
        stack
            .codedeploy
            .get_deployment_group()
            .application_name("AppEcs-demo-web")
            .deployment_group_name("DgpEcs-demo-web")
            .send(),
    )
    .unwrap();
    let wait = group
        .deployment_group_info()
        .and_then(|g| g.blue_green_deployment_configuration())
        .and_then(|b| b.terminate_blue_instances_on_deployment_success())
        .map(|t| t.termination_wait_time_in_minutes());
    assert_eq!(wait, Some(2), "the group is left as it was");
}

#[tokio::test(flavor = "multi_thread")]
async fn service_settings_a_code_deploy_service_may_change_follow_the_definition() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let changed = || {
        stack
            .project()
            .service("/healthCheckGracePeriodSeconds", json!(45))
            .service("/propagateTags", json!("SERVICE"))
    };
    changed()
        .deploy(&["--dry-run"])
        .assert_exit(0)
        .assert_says(&["would update health check grace period"]);
    let run = changed().deploy(&["--output", "json"]);
    run.assert_exit(0).assert_says(&[
        "updated service demo/web: health check grace period",
        "→ 45 s",
        "updated service demo/web: tag propagation: NONE → SERVICE",
    ]);
    let svc = block_on(
        stack
            .ecs
            .describe_services()
            .cluster("demo")
            .services("web")
            .send(),
    )
    .unwrap();
    let svc = &svc.services()[0];
    assert_eq!(svc.health_check_grace_period_seconds(), Some(45));
    assert_eq!(svc.propagate_tags().map(|p| p.as_str()), Some("SERVICE"));
    // Applied once: the same definition again changes nothing.
    let again = changed().deploy(&["--output", "json"]);
    again.assert_exit(0);
    assert_eq!(again.json()["service_changes"], json!([]));
}
