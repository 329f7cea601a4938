//! What AWS would refuse later is refused before the first change: a deployment config that does not
//! exist, a service role that does not exist or does not trust CodeDeploy, an alarm that does not exist,
//! a production listener that splits traffic. Each ends with exit 2 and zero mutating calls, for a new
//! service and for an existing one. A hook the managed role may not invoke is a warning. A new service
//! starts behind the target group the production listener forwards to.

mod deploy_support;

use deploy_support::{Project, Stack, block_on, wait_for};
use serde_json::json;

/// Runs `project` (for a new service, then, after a first deploy, for an existing one) and checks it is
/// refused before anything changes, saying `says`.
async fn refused_for_new_and_existing_service(edit: impl Fn(Project) -> Project, says: &[&str]) {
    let stack = Stack::new().await;
    let before = stack.mutating_calls();
    let run = edit(stack.project()).deploy(&["--output", "json"]);
    run.assert_exit(2).assert_says(says);
    assert_eq!(run.json()["exit_code"], 2);
    assert_eq!(
        stack.mutating_calls(),
        before,
        "a new service: nothing may change"
    );

    stack.project().deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    edit(stack.project())
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(2)
        .assert_says(says);
    assert_eq!(
        stack.mutating_calls(),
        before,
        "an existing service: nothing may change"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_deployment_config_is_refused_with_the_right_name() {
    refused_for_new_and_existing_service(
        |p| {
            p.config(
                "/codedeploy/deployment_config",
                json!("CodeDeployDefault.ECSAllAtOnse"),
            )
        },
        &[
            "codedeploy.deployment_config",
            "does not exist",
            "did you mean `CodeDeployDefault.ECSAllAtOnce`?",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_role_that_does_not_exist_is_refused() {
    refused_for_new_and_existing_service(
        |p| {
            p.config(
                "/codedeploy/service_role",
                json!("arn:aws:iam::000000000000:role/ecsCodeDeployRol"),
            )
        },
        &[
            "codedeploy.service_role",
            "IAM role `ecsCodeDeployRol` does not exist",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_role_codedeploy_cannot_assume_is_refused() {
    // The task execution role every account has trusts ecs-tasks.amazonaws.com, not CodeDeploy.
    refused_for_new_and_existing_service(
        |p| {
            p.config(
                "/codedeploy/service_role",
                json!("arn:aws:iam::000000000000:role/ecsTaskExecutionRole"),
            )
        },
        &["does not trust codedeploy.amazonaws.com"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_that_does_not_exist_is_refused() {
    refused_for_new_and_existing_service(
        |p| p.config("/codedeploy/alarms", json!({"names": ["web-5xx-typo"]})),
        &["codedeploy.alarms.names", "web-5xx-typo do not exist"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_the_managed_role_may_not_invoke_is_a_warning_not_a_failure() {
    let stack = Stack::new().await;
    let run = stack
        .project()
        .config(
            "/codedeploy/hooks",
            json!({"AfterAllowTestTraffic": "validate-web"}),
        )
        .deploy(&["--dry-run"]);
    run.assert_exit(0).assert_says(&[
        "warning: hook AfterAllowTestTraffic calls `validate-web`",
        "only functions named CodeDeployHook_*",
    ]);
    // A function named as the managed policy expects passes without a word.
    let run = stack
        .project()
        .config(
            "/codedeploy/hooks",
            json!({"AfterAllowTestTraffic": "CodeDeployHook_validate"}),
        )
        .deploy(&["--dry-run"]);
    run.assert_exit(0);
    assert!(!run.stderr.contains("warning: hook"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_service_starts_behind_the_group_the_production_listener_forwards_to() {
    let stack = Stack::new().await;
    // As after a service was deleted and recreated once a deploy had swapped the groups: production
    // forwards to the second group of the pair.
    let green = &stack.target_groups[1];
    for listener in [&stack.prod_listener, &stack.test_listener] {
        block_on(
            stack
                .elb
                .modify_listener()
                .listener_arn(listener)
                .default_actions(
                    aws_sdk_elasticloadbalancingv2::types::Action::builder()
                        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                        .target_group_arn(green)
                        .build(),
                )
                .send(),
        )
        .unwrap();
    }
    let run = stack.project().deploy(&["--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["behind target group web-green"]);
    wait_for("v1 to answer on the production listener", 30, || {
        (stack.version_on(80).as_deref() == Some("v1")).then_some(())
    });
    // And the first Blue/Green deployment moves it to the other group.
    stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_production_listener_that_splits_traffic_is_refused_for_a_new_service() {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
    };
    let stack = Stack::new().await;
    let split = ForwardActionConfig::builder()
        .target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(&stack.target_groups[0])
                .weight(50)
                .build(),
        )
        .target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(&stack.target_groups[1])
                .weight(50)
                .build(),
        )
        .build();
    block_on(
        stack
            .elb
            .modify_listener()
            .listener_arn(&stack.prod_listener)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(split)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let before = stack.mutating_calls();
    stack
        .project()
        .deploy(&[])
        .assert_exit(2)
        .assert_says(&["splits its traffic across web-blue (50) and web-green (50)"]);
    assert_eq!(stack.mutating_calls(), before);
}

/// `kirikae verify` as a user runs it: the same environment as the deploy tests.
fn verify(project: &Project, extra: &[&str]) -> (i32, String, String) {
    let out = project
        .kirikae("verify")
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .args(extra)
        .output()
        .expect("run kirikae verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_shows_every_check_and_changes_nothing() {
    let stack = Stack::new().await;
    let before = stack.mutating_calls();
    let good = stack.project();
    let (code, stdout, stderr) = verify(&good, &["--output", "json"]);
    assert_eq!(code, 0, "{stderr}");
    for says in [
        "✓ ECS cluster demo is active",
        "✓ target groups web-blue and web-green exist",
        "✓ deployment config CodeDeployDefault.ECSAllAtOnce exists (ECS)",
        "✓ service role ecsCodeDeployRole exists and trusts codedeploy.amazonaws.com",
        "✓ service demo/web will be created",
        "every check passed: nothing was changed",
    ] {
        assert!(stderr.contains(says), "stderr lacks {says:?}:\n{stderr}");
    }
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["exit_code"], 0);
    assert!(
        doc["configs"][0]["passed"].as_array().unwrap().len() >= 6,
        "{doc:#}"
    );

    let broken = stack.project().config(
        "/codedeploy/deployment_config",
        json!("CodeDeployDefault.ECSAllAtOnse"),
    );
    let (code, stdout, stderr) = verify(&broken, &["--output", "json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("✓ target groups web-blue and web-green exist"),
        "{stderr}"
    );
    assert!(
        stderr.contains("✗ ") && stderr.contains("did you mean"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(
        doc["configs"][0]["error"]["field"],
        "codedeploy.deployment_config"
    );

    let bad_file = stack.project().config("/clustr", json!("demo"));
    let (code, _, stderr) = verify(&bad_file, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("✗ ") && stderr.contains("clustr"),
        "{stderr}"
    );

    assert_eq!(stack.mutating_calls(), before, "verify changes nothing");
}
