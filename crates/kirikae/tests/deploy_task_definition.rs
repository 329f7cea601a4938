//! Choosing the task definition: register the file's (default), `--revision N`, `--skip-task-definition`
//! (latest registered), and `--image` overrides.

mod deploy_support;

use deploy_support::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn revision_and_skip_task_definition_deploy_registered_revisions() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0); // web:1 = v1
    stack.project().image("v2").deploy(&[]).assert_exit(0); // web:2 = v2
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    let back = stack
        .project()
        .image("v2")
        .deploy(&["--revision", "1", "--output", "json"]);
    back.assert_exit(0)
        .assert_says(&["using task definition web:1"]);
    assert!(
        back.json()["task_definition_arn"]
            .as_str()
            .unwrap()
            .ends_with("web:1")
    );
    assert_eq!(back.json()["task_definition_registered"], false);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    let latest = stack
        .project()
        .deploy(&["--skip-task-definition", "--output", "json"]);
    latest.assert_exit(0);
    assert!(
        latest.json()["task_definition_arn"]
            .as_str()
            .unwrap()
            .ends_with("web:2")
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    let before = stack.mutating_calls();
    stack
        .project()
        .deploy(&["--revision", "99"])
        .assert_exit(2)
        .assert_says(&["--revision", "web:99", "does not exist"]);
    stack
        .project()
        .deploy(&["--revision", "1", "--image", "web=kirikae/demo:v9"])
        .assert_exit(2)
        .assert_says(&[
            "--image",
            "cannot change images of an already registered task definition",
        ]);
    assert_eq!(stack.mutating_calls(), before);
}
