//! `kirikae diff` on configs with an `ecs:` block (ECS-native Blue/Green), through the binary against the
//! sandbox: nothing after a deploy of the same files (exit 0, and deploy then says "nothing to deploy"),
//! the image line of the task definition (exit 1), the deployment settings field by field (strategy,
//! bake time, canary, hooks), the settings UpdateService sends, a new service shown as all new, the
//! files `kirikae init` writes (exit 0), `--output json`, and a failed check (exit 2). Never a mutating
//! call.

mod deploy_support;
mod onboarding;

use std::path::Path;
use std::process::Output;

use deploy_support::Project;
use onboarding::{native_project, native_stack};
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

    #[track_caller]
    fn says(&self, what: &[&str]) -> &Self {
        let all = format!("{}\n{}", self.stdout, self.stderr);
        for w in what {
            assert!(
                all.contains(w),
                "kirikae diff does not say {w:?}\n--- stderr\n{}\n--- stdout\n{}",
                self.stderr,
                self.stdout
            );
        }
        self
    }
}

fn out(o: Output) -> Out {
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `kirikae diff -c <project>/kirikae.yml EXTRA` as a user runs it.
fn diff(project: &Project, extra: &[&str]) -> Out {
    diff_of(project, &project.dir.join("kirikae.yml"), extra)
}

/// `kirikae diff -c CONFIG EXTRA` with `project`'s environment.
fn diff_of(project: &Project, config: &Path, extra: &[&str]) -> Out {
    out(project
        .kirikae("diff")
        .arg("-c")
        .arg(config)
        .args(extra)
        .output()
        .expect("run kirikae diff"))
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_native_deploy_only_what_changed_shows() {
    let stack = native_stack().await;
    native_project(&stack).deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();

    // The same files: nothing would change, nothing on stdout; and deploy agrees.
    let same = diff(&native_project(&stack), &[]);
    same.exit(0).says(&["demo/web: nothing would change"]);
    assert_eq!(same.stdout, "", "stderr:\n{}", same.stderr);

    // Another image: the image line and nothing else, although ECS reports defaults the file leaves out.
    let image = diff(&native_project(&stack).image("v2"), &[]);
    image
        .exit(1)
        .says(&["a deploy would replace task definition web:1, start a service deployment"]);
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

    // The bake time: one deployment setting, the task definition kept.
    let bake = diff(
        &native_project(&stack).config("/ecs/bake_time_minutes", json!(5)),
        &[],
    );
    // ECS starts no service deployment for a deployment setting alone (no new service revision).
    bake.exit(1).says(&[
        "a deploy would change 1 deployment setting, start no service deployment (ECS starts none for these)",
    ]);
    assert_eq!(
        bake.changed_lines(),
        vec!["-bakeTimeInMinutes: 1", "+bakeTimeInMinutes: 5"],
        "{}",
        bake.stdout
    );
    assert!(
        bake.stdout
            .starts_with("--- current: deployment settings of service demo/web\n+++ "),
        "{}",
        bake.stdout
    );

    // Another strategy with its steps, and a pause hook: each setting that changes, leaf by leaf.
    let canary = diff(
        &native_project(&stack)
            .config("/ecs/strategy", json!("CANARY"))
            .config(
                "/ecs/canary",
                json!({"canary_percent": 20.0, "canary_bake_time_minutes": 3}),
            )
            .config(
                "/ecs/hooks",
                json!([{"stages": ["POST_TEST_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 30}]),
            ),
        &[],
    );
    canary.exit(1);
    let lines = canary.changed_lines();
    for line in [
        "-strategy: BLUE_GREEN",
        "+strategy: CANARY",
        "+canaryConfiguration.canaryPercent: 20.0",
        "+canaryConfiguration.canaryBakeTimeInMinutes: 3",
        "+lifecycleHooks[0].targetType: PAUSE",
        "+lifecycleHooks[0].lifecycleStages: POST_TEST_TRAFFIC_SHIFT",
        "+lifecycleHooks[0].timeoutConfiguration.timeoutInMinutes: 30",
    ] {
        assert!(lines.contains(&line), "no {line:?} in\n{}", canary.stdout);
    }
    // What the service does not have yet is only added; nothing else changes.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with('-'))
            .collect::<Vec<_>>(),
        vec![&"-strategy: BLUE_GREEN"],
        "{}",
        canary.stdout
    );
    assert!(
        !lines.iter().any(|l| l.contains("image")),
        "{}",
        canary.stdout
    );

    // The same, as JSON: the CodeDeploy diff's shape, with the deployment settings as changes.
    let doc = diff(
        &native_project(&stack)
            .image("v2")
            .config("/ecs/bake_time_minutes", json!(5)),
        &["--output", "json"],
    );
    doc.exit(1);
    let doc = doc.json();
    assert_eq!(doc["changed"], true, "{doc:#}");
    assert_eq!(doc["exit_code"], 1);
    let one = &doc["configs"][0];
    assert_eq!(one["controller"], "ECS", "{one:#}");
    assert_eq!(one["changed"], true);
    assert_eq!(one["error"], Value::Null);
    assert_eq!(one["service"]["action"], "deploy");
    assert_eq!(one["task_definition"]["changed"], true);
    assert!(
        one["task_definition"]["unified_diff"]
            .as_str()
            .unwrap()
            .contains(r#"+      "image": "kirikae/demo:v2""#),
        "{one:#}"
    );
    assert_eq!(
        one["deployment_settings"],
        json!([{"field": "bakeTimeInMinutes", "from": "1", "to": "5"}])
    );
    let same = diff(&native_project(&stack), &["--output", "json"]);
    same.exit(0);
    let same = same.json();
    assert_eq!(same["changed"], false, "{same:#}");
    assert_eq!(same["configs"][0]["service"]["action"], "none");
    assert_eq!(same["configs"][0]["deployment_settings"], json!([]));

    assert_eq!(
        stack.mutating_calls(),
        before,
        "kirikae diff changed something: {}",
        stack.sandbox.calls()
    );

    // What diff said is what deploy does: the same files are nothing to deploy; after a deploy of a
    // new bake time, its diff is empty again.
    native_project(&stack)
        .deploy(&[])
        .assert_exit(0)
        .assert_says(&["nothing to deploy"]);
    assert_eq!(stack.mutating_calls(), before);
    let bake2 = native_project(&stack).config("/ecs/bake_time_minutes", json!(2));
    diff(&bake2, &[]).exit(1);
    bake2.deploy(&[]).assert_exit(0);
    let after = stack.mutating_calls();
    diff(&bake2, &[]).exit(0);
    assert_eq!(stack.mutating_calls(), after);
}

#[tokio::test(flavor = "multi_thread")]
async fn service_settings_show_and_deploy_applies_them_without_a_service_deployment() {
    let stack = native_stack().await;
    native_project(&stack).deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    let three = || {
        native_project(&stack)
            .config("/sync_desired_count", json!(true))
            .service("/desiredCount", json!(3))
    };

    // Same task definition and deployment settings: the count is a change that a deploy applies with
    // one UpdateService, without a service deployment (it is no part of a service revision).
    let alone = diff(&three(), &[]);
    alone.exit(1).says(&[
        "a deploy would update service demo/web's settings (desiredCount) without a service deployment",
        "start no service deployment",
    ]);
    let alone_json = diff(&three(), &["--output", "json"]).json();
    assert_eq!(
        alone_json["configs"][0]["starts_service_deployment"], false,
        "{alone_json:#}"
    );
    let lines = alone.changed_lines();
    assert!(
        lines.contains(&"-desiredCount: 2") && lines.contains(&"+desiredCount: 3"),
        "{}",
        alone.stdout
    );

    // With a new image the UpdateService carries it too.
    let with_image = diff(&three().image("v2"), &[]);
    with_image.exit(1).says(&["change desiredCount"]);
    assert!(
        with_image
            .stdout
            .contains("--- current: service demo/web\n+++ "),
        "{}",
        with_image.stdout
    );
    // Without sync_desired_count the count is the service's own (autoscaling's): never compared.
    let unsynced = diff(
        &native_project(&stack)
            .image("v2")
            .service("/desiredCount", json!(3)),
        &[],
    );
    unsynced.exit(1);
    assert!(
        !unsynced.stdout.contains("desiredCount"),
        "{}",
        unsynced.stdout
    );
    let unsynced_alone = diff(
        &native_project(&stack).service("/desiredCount", json!(3)),
        &[],
    );
    unsynced_alone.exit(0);
    assert_eq!(stack.mutating_calls(), before);

    // The deploy applies the count and starts no service deployment; then nothing differs.
    let deployments = stack.calls_of("ecs.UpdateService");
    let run = three().deploy(&["--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["no service deployment", "desiredCount"]);
    let doc = run.json();
    assert_eq!(doc["result"], "succeeded", "{doc:#}");
    assert_eq!(doc["deployment_id"], Value::Null, "{doc:#}");
    assert_eq!(stack.calls_of("ecs.UpdateService"), deployments + 1);
    let live = stack
        .ecs
        .describe_services()
        .cluster("demo")
        .services("web")
        .send()
        .await
        .expect("DescribeServices");
    assert_eq!(live.services()[0].desired_count(), 3);
    diff(&three(), &[]).exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_native_service_is_all_new() {
    let stack = native_stack().await;
    let before = stack.mutating_calls();
    let new = diff(&native_project(&stack), &[]);
    new.exit(1)
        .says(&["demo/web: a deploy would create service demo/web with the ECS controller"]);
    assert!(
        new.stdout.starts_with(
            "--- current: task definition (none: service demo/web does not exist)\n+++ "
        ),
        "{}",
        new.stdout
    );
    // The task definition and every deployment setting only added.
    assert!(
        new.changed_lines().iter().all(|l| l.starts_with('+')),
        "{}",
        new.stdout
    );
    let lines = new.changed_lines();
    for line in [
        r#"+      "image": "kirikae/demo:v1","#,
        "+strategy: BLUE_GREEN",
        "+bakeTimeInMinutes: 1",
        "+target group pair: web-blue, web-green",
        "+advancedConfiguration.roleArn: arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers",
        "+would create service demo/web (ECS controller, BLUE_GREEN, 2 task(s), container web:8080 behind web-blue, alternate web-green)",
    ] {
        assert!(lines.contains(&line), "no {line:?} in\n{}", new.stdout);
    }
    for rule in ["productionListenerRule", "testListenerRule"] {
        let prefix = format!("+advancedConfiguration.{rule}: arn:aws:elasticloadbalancing:");
        assert!(
            lines.iter().any(|l| l.starts_with(&prefix)),
            "no {prefix} in\n{}",
            new.stdout
        );
    }
    // What the new service leaves empty is not a line.
    assert!(
        !lines.iter().any(|l| l.starts_with("+lifecycleHooks")),
        "{}",
        new.stdout
    );

    let doc = diff(&native_project(&stack), &["--output", "json"]);
    doc.exit(1);
    let one = &doc.json()["configs"][0];
    assert_eq!(one["creates"], json!(["service demo/web"]), "{one:#}");
    assert_eq!(one["service"]["action"], "create");
    assert_eq!(one["task_definition"]["current"], Value::Null);
    assert!(
        one["deployment_settings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["from"] == ""),
        "{one:#}"
    );
    assert_eq!(stack.mutating_calls(), before, "{}", stack.sandbox.calls());
    let services = stack
        .ecs
        .describe_services()
        .cluster("demo")
        .services("web")
        .send()
        .await
        .unwrap();
    assert!(
        services
            .services()
            .iter()
            .all(|s| s.status() == Some("INACTIVE")),
        "diff created the service"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_the_files_init_writes_from_a_native_service_nothing_would_change() {
    let stack = native_stack().await;
    let team = || {
        native_project(&stack).task(
            "/containerDefinitions/0/environment",
            json!([{"name": "MODE", "value": "native"}]),
        )
    };
    team().deploy(&[]).assert_exit(0);
    team()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);

    let dir = std::env::temp_dir().join(format!("kirikae-diff-native-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runner = stack.project();
    let before = stack.mutating_calls();
    let init = runner
        .kirikae("init")
        .args(["--cluster", "demo", "--service", "web", "--dir"])
        .arg(&dir)
        .output()
        .expect("run kirikae init");
    onboarding::assert_exit(&init, 0, "kirikae init on an ECS-native service");

    let same = diff_of(&runner, &dir.join("kirikae.yml"), &[]);
    same.exit(0).says(&["demo/web: nothing would change"]);
    assert_eq!(same.stdout, "");
    // And with another image, the image only.
    let image = diff_of(
        &runner,
        &dir.join("kirikae.yml"),
        &["--image", "web=kirikae/demo:v3"],
    );
    image.exit(1);
    assert_eq!(image.changed_lines().len(), 2, "{}", image.stdout);
    assert_eq!(stack.mutating_calls(), before, "{}", stack.sandbox.calls());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_check_is_exit_2_with_the_deploys_message_and_no_change() {
    let stack = native_stack().await;
    native_project(&stack).deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    let bad = native_project(&stack).config("/ecs/target_groups", json!(["web-blue", "web-nope"]));
    diff(&bad, &[]).exit(2).says(&[
        "ecs.target_groups[1]",
        "target group `web-nope` does not exist",
    ]);
    let doc = diff(&bad, &["--output", "json"]);
    doc.exit(2);
    let doc = doc.json();
    assert_eq!(doc["exit_code"], 2, "{doc:#}");
    assert_eq!(doc["configs"][0]["changed"], Value::Null);
    assert!(
        doc["configs"][0]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("web-nope")),
        "{doc:#}"
    );
    // A CodeDeploy config against this ECS service: refused as deploy refuses it.
    diff(&stack.project().image("v2"), &[])
        .exit(2)
        .says(&["exists with the ECS deployment controller"]);
    assert_eq!(stack.mutating_calls(), before);
}

/// The network configuration is part of a service revision: ECS starts a service deployment when it
/// changes, so a change there alone is something to deploy — diff shows it, deploy deploys it.
#[tokio::test(flavor = "multi_thread")]
async fn a_revision_setting_alone_is_a_change_that_deploy_deploys() {
    let stack = native_stack().await;
    native_project(&stack).deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    let subnets = || {
        native_project(&stack).service(
            "/networkConfiguration",
            json!({"awsvpcConfiguration": {"subnets": ["subnet-a", "subnet-b"], "assignPublicIp": "DISABLED"}}),
        )
    };
    let shown = diff(&subnets(), &[]);
    shown.exit(1).says(&["start a service deployment"]);
    assert!(
        shown
            .changed_lines()
            .iter()
            .any(|l| l.starts_with('+') && l.contains("subnet-b")),
        "{}",
        shown.stdout
    );
    assert_eq!(stack.mutating_calls(), before);

    let updates = stack.calls_of("ecs.UpdateService");
    let run = subnets().deploy(&["--output", "json"]);
    run.assert_exit(0);
    let doc = run.json();
    assert_eq!(doc["result"], "succeeded", "{doc:#}");
    assert!(
        doc["deployment_id"]
            .as_str()
            .is_some_and(|d| d.contains(":service-deployment/")),
        "a service deployment was followed: {doc:#}"
    );
    assert_eq!(stack.calls_of("ecs.UpdateService"), updates + 1);
    diff(&subnets(), &[]).exit(0);
}

/// The deployment configuration is not part of a service revision: ECS applies a new bake time without
/// a service deployment. The deploy says so, and does not present the last deployment as its own.
#[tokio::test(flavor = "multi_thread")]
async fn deployment_settings_alone_are_applied_without_a_service_deployment() {
    let stack = native_stack().await;
    let first = native_project(&stack).deploy(&["--output", "json"]);
    first.assert_exit(0);
    let first_deployment = first.json()["deployment_id"].clone();
    let bake = native_project(&stack).config("/ecs/bake_time_minutes", json!(3));
    bake.deploy(&["--dry-run"]).assert_exit(0).assert_says(&[
        "would update the settings of service demo/web (bakeTimeInMinutes); ECS starts no service deployment",
    ]);
    let updates = stack.calls_of("ecs.UpdateService");
    let run = bake.deploy(&["--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["no service deployment", "bakeTimeInMinutes"]);
    let doc = run.json();
    assert_eq!(doc["result"], "succeeded", "{doc:#}");
    assert_ne!(doc["deployment_id"], first_deployment, "{doc:#}");
    assert_eq!(doc["deployment_id"], Value::Null, "{doc:#}");
    assert_eq!(stack.calls_of("ecs.UpdateService"), updates + 1);
    let live = stack
        .ecs
        .describe_services()
        .cluster("demo")
        .services("web")
        .send()
        .await
        .expect("DescribeServices");
    let dc = live.services()[0].deployment_configuration().unwrap();
    assert_eq!(dc.bake_time_in_minutes(), Some(3));
    diff(&bake, &[]).exit(0);

    // --force starts a service deployment all the same, and follows that one.
    let forced = native_project(&stack)
        .config("/ecs/bake_time_minutes", json!(2))
        .deploy(&["--force", "--output", "json"]);
    forced.assert_exit(0);
    let doc = forced.json();
    assert!(
        doc["deployment_id"]
            .as_str()
            .is_some_and(|d| d != first_deployment),
        "{doc:#}"
    );
}
