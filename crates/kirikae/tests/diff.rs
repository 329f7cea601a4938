//! `kirikae diff` shows what a deploy would change against what runs, through the binary against the
//! sandbox: nothing after a deploy of the same files (exit 0), the image line of the task definition for
//! `--image` (exit 1), group settings, a new service, the AppSpec inputs after a Blue/Green deployment;
//! a broken config is exit 2 with deploy's message. It never changes anything.

mod deploy_support;

use deploy_support::{Project, Stack};
use serde_json::{Value, json};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "kirikae diff exited {} (expected {code})\n--- stderr\n{}\n--- stdout\n{}",
            self.code, self.stderr, self.stdout
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    /// The diff's `-` and `+` lines, headers left out.
    fn changed_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| {
                (l.starts_with('-') || l.starts_with('+'))
                    && !l.starts_with("---")
                    && !l.starts_with("+++")
            })
            .collect()
    }
}

/// The diff's changed lines about `AssignPublicIp`.
fn appspec_lines(out: &Out) -> Vec<&str> {
    out.changed_lines()
        .into_iter()
        .filter(|l| l.contains("AssignPublicIp"))
        .collect()
}

/// `kirikae diff` as a user runs it: the same environment as the deploy tests.
fn diff(project: &Project, extra: &[&str]) -> Out {
    let out = project
        .kirikae("diff")
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .args(extra)
        .output()
        .expect("run kirikae diff");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_deploy_only_what_changed_shows() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();

    // The same files: nothing would change, and nothing is printed on stdout.
    let same = diff(&stack.project(), &[]);
    same.exit(0);
    assert_eq!(same.stdout, "", "stderr:\n{}", same.stderr);
    assert!(
        same.stderr.contains("demo/web: nothing would change"),
        "{}",
        same.stderr
    );

    // --image: the image line and nothing else, although ECS reports defaults the file leaves out.
    let image = diff(&stack.project(), &["--image", "web=kirikae/demo:v2"]);
    image.exit(1);
    assert!(
        image
            .stdout
            .starts_with("--- current: task definition web:1\n+++ "),
        "{}",
        image.stdout
    );
    let lines: Vec<String> = image
        .changed_lines()
        .iter()
        .map(|l| l.trim_end_matches(',').to_string())
        .collect();
    assert_eq!(
        lines,
        vec![
            r#"-      "image": "kirikae/demo:v1""#,
            r#"+      "image": "kirikae/demo:v2""#
        ],
        "{}",
        image.stdout
    );
    assert!(
        image
            .stderr
            .contains("a deploy would replace task definition web:1"),
        "{}",
        image.stderr
    );

    // A deployment group setting.
    let group = diff(
        &stack
            .project()
            .config("/codedeploy/termination_wait_minutes", json!(5)),
        &[],
    );
    group.exit(1);
    assert_eq!(
        group.changed_lines(),
        vec![
            "-termination wait: 2 minutes",
            "+termination wait: 5 minutes"
        ],
        "{}",
        group.stdout
    );
    assert!(
        group
            .stdout
            .starts_with("--- current: deployment group DgpEcs-demo-web\n+++ "),
        "{}",
        group.stdout
    );

    // The revision a deploy would use instead of registering: the one running, so nothing.
    for flags in [&["--skip-task-definition"][..], &["--revision", "1"]] {
        let kept = diff(&stack.project(), flags);
        kept.exit(0);
        assert_eq!(kept.stdout, "", "{flags:?}: {}", kept.stderr);
    }

    // The desired count, when the config makes the deploy apply it.
    let count = diff(
        &stack
            .project()
            .config("/sync_desired_count", json!(true))
            .service("/desiredCount", json!(3)),
        &[],
    );
    count.exit(1);
    assert_eq!(
        count.changed_lines(),
        vec!["-desired count: 2", "+desired count: 3"],
        "{}",
        count.stdout
    );

    // JSON: one document, the same facts.
    let doc = diff(
        &stack
            .project()
            .config("/codedeploy/termination_wait_minutes", json!(5)),
        &["--image", "web=kirikae/demo:v2", "--output", "json"],
    );
    doc.exit(1);
    let doc = doc.json();
    assert_eq!(doc["changed"], true);
    assert_eq!(doc["exit_code"], 1);
    let c = &doc["configs"][0];
    assert!(c["config"].as_str().unwrap().ends_with("kirikae.yml"));
    assert_eq!(c["changed"], true);
    assert_eq!(c["task_definition"]["changed"], true);
    assert!(
        c["task_definition"]["current"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/web:1")
    );
    let unified = c["task_definition"]["unified_diff"].as_str().unwrap();
    assert!(
        unified.contains("+      \"image\": \"kirikae/demo:v2\""),
        "{unified}"
    );
    assert_eq!(
        c["deployment_group"],
        json!([{"field": "termination wait", "from": "2 minutes", "to": "5 minutes"}])
    );
    assert_eq!(c["service"]["action"], "deploy");
    assert_eq!(c["service"]["changes"], json!([]));
    assert_eq!(c["creates"], json!([]));
    assert_eq!(c["error"], Value::Null);
    let same = diff(&stack.project(), &["--output", "json"]);
    same.exit(0);
    let same = same.json();
    assert_eq!(same["changed"], false);
    assert_eq!(same["exit_code"], 0);
    assert_eq!(same["configs"][0]["task_definition"]["changed"], false);
    assert_eq!(same["configs"][0]["task_definition"]["unified_diff"], "");
    assert_eq!(same["configs"][0]["service"]["action"], "none");

    // Before any deployment, the AppSpec inputs are compared with the service as it was created.
    let public = diff(
        &stack.project().service(
            "/networkConfiguration/awsvpcConfiguration/assignPublicIp",
            json!("ENABLED"),
        ),
        &[],
    );
    public.exit(1);
    assert!(
        public.stdout.starts_with(
            "--- current: service demo/web as created (no deployment yet; hooks left out)\n"
        ),
        "{}",
        public.stdout
    );
    assert_eq!(
        appspec_lines(&public),
        vec![r#"+      "AssignPublicIp": "ENABLED","#],
        "{}",
        public.stdout
    );

    assert_eq!(stack.mutating_calls(), before, "diff changed something");
}

#[tokio::test(flavor = "multi_thread")]
async fn before_any_deploy_everything_would_be_created() {
    let stack = Stack::new().await;
    let before = stack.mutating_calls();
    let out = diff(&stack.project(), &[]);
    out.exit(1);
    assert!(
        out.stdout.contains(
            "+would create service demo/web (CODE_DEPLOY controller, 2 task(s), container web:8080 behind web-blue)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--- current: task definition (none: service demo/web does not exist)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("+      \"image\": \"kirikae/demo:v1\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("+termination wait: 2 minutes"));
    assert!(
        out.stderr.contains(
            "demo/web: a deploy would create application AppEcs-demo-web, create deployment group DgpEcs-demo-web, create service demo/web"
        ),
        "{}",
        out.stderr
    );
    let doc = diff(&stack.project(), &["--output", "json"]);
    doc.exit(1);
    let c = &doc.json()["configs"][0];
    assert_eq!(
        c["creates"],
        json!([
            "application AppEcs-demo-web",
            "deployment group DgpEcs-demo-web",
            "service demo/web"
        ])
    );
    assert_eq!(c["service"]["action"], "create");
    assert_eq!(stack.mutating_calls(), before, "diff changed something");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_config_is_exit_2_with_the_message_deploy_gives() {
    let stack = Stack::new().await;
    let before = stack.mutating_calls();
    // Found by a check against AWS.
    let missing_tg = stack
        .project()
        .config("/codedeploy/target_groups", json!(["web-blue", "web-nope"]));
    let out = diff(&missing_tg, &[]);
    out.exit(2);
    assert_eq!(out.stdout, "");
    let says = "target group `web-nope` does not exist in us-east-1";
    assert!(out.stderr.contains(says), "{}", out.stderr);
    missing_tg
        .deploy(&["--dry-run"])
        .assert_exit(2)
        .assert_says(&[says]);

    // Found in the files, before any AWS call; and in JSON.
    let bad_image = diff(&stack.project(), &["--image", "wbe=kirikae/demo:v2"]);
    bad_image.exit(2);
    assert!(
        bad_image.stderr.contains("no container `wbe`"),
        "{}",
        bad_image.stderr
    );
    let malformed = stack.project().raw("task-definition.json", "{\"family\": ");
    let doc = diff(&malformed, &["--output", "json"]);
    doc.exit(2);
    let doc = doc.json();
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(doc["configs"][0]["error"]["kind"], "config");
    assert!(
        doc["configs"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON"),
        "{doc:#}"
    );
    assert_eq!(stack.mutating_calls(), before, "diff changed something");
}

#[tokio::test(flavor = "multi_thread")]
async fn appspec_inputs_are_compared_with_the_last_deployment() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    stack.project().image("v2").deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();

    let same = diff(&stack.project().image("v2"), &[]);
    same.exit(0);
    assert_eq!(same.stdout, "", "stderr:\n{}", same.stderr);

    let public = stack.project().image("v3").service(
        "/networkConfiguration/awsvpcConfiguration/assignPublicIp",
        json!("ENABLED"),
    );
    let out = diff(&public, &[]);
    out.exit(1);
    assert!(
        out.stdout.contains("--- current: AppSpec of deployment d-"),
        "{}",
        out.stdout
    );
    assert_eq!(
        appspec_lines(&out),
        vec![r#"+      "AssignPublicIp": "ENABLED","#],
        "{}",
        out.stdout
    );
    let doc = diff(&public, &["--output", "json"]);
    let c = &doc.json()["configs"][0];
    assert_eq!(c["appspec"]["changed"], true);
    assert!(
        c["appspec"]["last_deployment"]
            .as_str()
            .unwrap()
            .starts_with("d-")
    );

    // The same task definition: a deploy creates a deployment for the AppSpec inputs alone.
    let same_image = diff(
        &stack.project().image("v2").service(
            "/networkConfiguration/awsvpcConfiguration/assignPublicIp",
            json!("ENABLED"),
        ),
        &[],
    );
    same_image.exit(1);
    assert!(
        !same_image.stdout.contains("--- current: task definition"),
        "{}",
        same_image.stdout
    );
    assert_eq!(
        appspec_lines(&same_image),
        vec![r#"+      "AssignPublicIp": "ENABLED","#]
    );
    assert!(
        same_image.stderr.contains(
            "demo/web: a deploy would change the AppSpec inputs, create a Blue/Green deployment"
        ),
        "{}",
        same_image.stderr
    );
    assert_eq!(stack.mutating_calls(), before, "diff changed something");
}
