//! `--dry-run` checks everything, prints what would be done (text on stderr, JSON on stdout) and changes
//! nothing.

mod deploy_support;

use deploy_support::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_on_an_empty_account_plans_everything_and_changes_nothing() {
    let stack = Stack::new().await;
    let before = stack.mutating_calls();
    let run = stack.project().deploy(&["--dry-run", "--output", "json"]);
    run.assert_exit(0).assert_says(&[
        "Dry run of",
        "nothing was changed",
        "application       AppEcs-demo-web: would create",
        "deployment group  DgpEcs-demo-web: would create",
        "task definition   web: would register (web=kirikae/demo:v1)",
        "service           web: would create (CODE_DEPLOY controller, 2 task(s), container web:8080 behind web-blue)",
    ]);
    let plan = run.json();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["application"]["action"], "create");
    assert_eq!(plan["deployment_group"]["action"], "create");
    assert_eq!(
        plan["deployment_group"]["settings"]["production_listener"],
        stack.prod_listener.as_str()
    );
    assert_eq!(
        plan["deployment_group"]["settings"]["test_listener"],
        stack.test_listener.as_str()
    );
    assert_eq!(
        plan["deployment_group"]["settings"]["termination_wait_minutes"],
        2
    );
    assert_eq!(
        plan["deployment_group"]["settings"]["deployment_config"],
        "CodeDeployDefault.ECSAllAtOnce"
    );
    assert_eq!(
        plan["deployment_group"]["settings"]["auto_rollback_events"],
        json!(["DEPLOYMENT_FAILURE"])
    );
    assert_eq!(plan["service_action"]["action"], "create");
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a dry run changed something"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_of_a_new_image_shows_the_appspec_and_group_changes() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    let run = stack
        .project()
        .config("/codedeploy/termination_wait_minutes", json!(0))
        .deploy(&[
            "--dry-run",
            "--output",
            "json",
            "--image",
            "web=kirikae/demo:v2",
        ]);
    run.assert_exit(0).assert_says(&[
        "deployment group  DgpEcs-demo-web: would update",
        "termination wait: 2 minutes → 0 minutes",
        "deployment        would create a Blue/Green deployment of web",
    ]);
    let plan = run.json();
    assert_eq!(plan["service_action"]["action"], "deploy");
    assert_eq!(
        plan["deployment_group"]["changes"][0]["field"],
        "termination wait"
    );
    let props = &plan["appspec"]["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(
        props["LoadBalancerInfo"],
        json!({"ContainerName": "web", "ContainerPort": 8080})
    );
    assert_eq!(
        props["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"],
        json!(["subnet-a"])
    );
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a dry run changed something"
    );
}
