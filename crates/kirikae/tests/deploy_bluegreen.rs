//! The mission, end to end: a first run on an empty account creates application, deployment group and
//! service; a second run with a new image deploys Blue/Green; a third identical run changes nothing.

mod deploy_support;

use deploy_support::{BLUE, GREEN, Stack, block_on, read, wait_for};
use serde_json::json;

/// Operations that create something; an idempotent run calls none of them.
const CREATES: &[&str] = &[
    "codedeploy.CreateApplication",
    "codedeploy.CreateDeploymentGroup",
    "codedeploy.UpdateDeploymentGroup",
    "codedeploy.CreateDeployment",
    "ecs.CreateService",
    "ecs.RegisterTaskDefinition",
];

#[tokio::test(flavor = "multi_thread")]
async fn first_run_creates_second_deploys_blue_green_third_changes_nothing() {
    let stack = Stack::new().await;
    let project = stack.project();

    // 1. Empty account: everything is created; the service answers on the production listener.
    let first = project.deploy(&["--output", "json"]);
    first.assert_exit(0).assert_says(&[
        "created CodeDeploy application AppEcs-demo-web (ECS)",
        "registered task definition web:1",
        "created service demo/web (CODE_DEPLOY controller)",
        "created deployment group DgpEcs-demo-web",
    ]);
    let out = first.json();
    assert_eq!(out["result"], "succeeded");
    assert_eq!(out["service_created"], true);
    assert_eq!(out["application_created"], true);
    assert_eq!(out["deployment_group_action"], "created");
    assert!(out["deployment_id"].is_null());
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    // 2. A new image: Blue/Green through CodeDeploy.
    let outputs = project.path("github-output");
    let second = stack
        .project()
        .env("GITHUB_OUTPUT", outputs.to_str().unwrap())
        .deploy(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    second.assert_exit(0);
    let out = second.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["status"], "Succeeded");
    assert_eq!(out["service_created"], false);
    assert_eq!(out["deployment_group_action"], "unchanged");
    let id = out["deployment_id"]
        .as_str()
        .expect("a deployment id")
        .to_string();
    assert!(id.starts_with("d-") && id.len() == 11, "{id}");
    assert!(
        out["task_definition_arn"]
            .as_str()
            .unwrap()
            .ends_with(":task-definition/web:2")
    );
    assert_eq!(out["images"][0]["image"], "kirikae/demo:v2");
    let events: Vec<&str> = out["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "BeforeInstall",
            "Install",
            "AfterInstall",
            "AllowTestTraffic",
            "AfterAllowTestTraffic",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic"
        ]
    );
    assert!(
        out["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "Succeeded")
    );
    // Blue was kept for the termination wait (2 AWS minutes = 2 s at 60x) before the deployment ended.
    assert!(
        second.elapsed.as_secs_f64() >= 2.0,
        "ended after {:?}",
        second.elapsed
    );
    second.assert_says(&[
        &format!("created deployment {id}"),
        "production traffic on green",
        "blue terminated",
    ]);
    // Production serves only the new version.
    for _ in 0..20 {
        assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    }
    // Blue is gone: one task set left, PRIMARY, behind the other target group.
    let sets = wait_for("blue task set deleted", 30, || {
        let svc = block_on(
            stack
                .ecs
                .describe_services()
                .cluster("demo")
                .services("web")
                .send(),
        )
        .unwrap();
        let sets = svc.services()[0].task_sets().to_vec();
        (sets.iter().all(|s| s.status() == Some("PRIMARY"))).then_some(sets)
    });
    assert_eq!(sets.len(), 1);
    assert!(
        sets[0].load_balancers()[0]
            .target_group_arn()
            .unwrap()
            .contains(GREEN),
        "{sets:?}"
    );
    let gh = read(&outputs);
    assert!(gh.contains(&format!("deployment-id={id}\n")), "{gh}");
    assert!(
        gh.contains("result=succeeded\n") && gh.contains("exit-code=0\n"),
        "{gh}"
    );

    // 3. The same again: idempotent, nothing created, no deployment.
    let before: Vec<u64> = CREATES.iter().map(|op| stack.calls_of(op)).collect();
    let third = stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    third
        .assert_exit(0)
        .assert_says(&["task definition web:2 is unchanged", "nothing to deploy"]);
    assert_eq!(third.json()["result"], "succeeded");
    assert!(third.json()["deployment_id"].is_null());
    let after: Vec<u64> = CREATES.iter().map(|op| stack.calls_of(op)).collect();
    assert_eq!(
        before, after,
        "an identical run created something ({CREATES:?})"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    // And a fourth run back to v1 flips traffic to the other target group again.
    stack.project().deploy(&[]).assert_exit(0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    let _ = BLUE;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_only_to_the_appspec_inputs_deploys_with_the_same_task_definition() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let moved = || {
        stack.project().service(
            "/networkConfiguration/awsvpcConfiguration/subnets",
            json!(["subnet-b"]),
        )
    };
    // Only the subnets differ: a Blue/Green deployment, reusing the registered task definition.
    let run = moved().deploy(&["--output", "json"]);
    run.assert_exit(0);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert!(
        out["deployment_id"].is_string(),
        "a deployment was made: {out:#}"
    );
    assert_eq!(out["task_definition_registered"], false, "{out:#}");
    // The same again: nothing to deploy.
    let again = moved().deploy(&["--output", "json"]);
    again.assert_exit(0).assert_says(&["nothing to deploy"]);
    assert!(again.json()["deployment_id"].is_null());
}
