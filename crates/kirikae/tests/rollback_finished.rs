//! `kirikae rollback` once the deployment has finished and blue is gone: a new Blue/Green deployment of
//! the task definition that ran before, found from the deployment group's history, with every check
//! `deploy` makes; `--dry-run` says so and changes nothing.

mod deploy_support;

use deploy_support::{Stack, step_outputs};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn rollback_after_success_deploys_the_previous_revision_blue_green() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0); // creates the service on v1 (revision 1)
    for tag in ["v2", "v3"] {
        let image = format!("web=kirikae/demo:{tag}");
        stack.project().deploy(&["--image", &image]).assert_exit(0);
    }
    assert_eq!(stack.version_on(80).as_deref(), Some("v3"));

    let project = stack.project();
    let config = project.dir.join("kirikae.yml");
    let before = stack.mutating_calls();
    let dry = project
        .kirikae("rollback")
        .args(["-c", config.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    let dry_err = String::from_utf8_lossy(&dry.stderr);
    assert_eq!(dry.status.code(), Some(0), "{dry_err}");
    assert!(
        dry_err.contains("rolling back would create a new Blue/Green deployment of web:2"),
        "{dry_err}"
    );
    assert!(
        dry_err.contains("would create a Blue/Green deployment"),
        "{dry_err}"
    );
    assert_eq!(stack.mutating_calls(), before, "a dry run changes nothing");

    let outputs = project.dir.join("github-output");
    let out = project
        .kirikae("rollback")
        .args(["-c", config.to_str().unwrap(), "--output", "json"])
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let doc = if doc.is_array() { doc[0].clone() } else { doc };
    assert_eq!(doc["result"], "succeeded", "{doc:#}");
    assert!(
        doc["task_definition_arn"]
            .as_str()
            .is_some_and(|t| t.ends_with("task-definition/web:2")),
        "{doc:#}"
    );
    assert_eq!(step_outputs(&outputs)["result"], "succeeded");
    // Blue/Green: no new revision registered, production back on v2.
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_of_the_first_deployment_returns_to_what_the_service_was_created_with() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0); // CreateService with v1: no deployment in the group
    stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);
    let project = stack.project();
    let config = project.dir.join("kirikae.yml");
    let out = project
        .kirikae("rollback")
        .args(["-c", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The deployment of v2 recorded what the service ran before it.
    assert!(
        stderr.contains("new Blue/Green deployment of web:1 (the service ran it when deployment"),
        "{stderr}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    // Rolling back again undoes the rollback: v2, which the first deployment brought.
    let again = project
        .kirikae("rollback")
        .args(["-c", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}
