//! A task before the switch (config `before_switch:`), through the binary against the sandbox: the
//! migration runs as a one-off ECS task with the new task definition (RunTask, the container's command
//! overridden) and must exit 0 before the deployment is created. A failing one ends the run with
//! nothing switched (exit 1, no CreateDeployment, production still on blue) and says what ran and how
//! it ended; a config naming a container the task definition lacks is refused before any change.
//!
//! The sandbox's `kirikae/demo` image runs the command `exit N` as a one-off task ending with code N.

mod deploy_support;

use deploy_support::{Project, Receiver, Stack, block_on, step_outputs, wait_for};
use serde_json::{Value, json};

fn migration(p: Project, code: u8) -> Project {
    p.config(
        "/before_switch",
        json!({"command": ["exit", code.to_string()], "environment": {"MIGRATION": "2026-12-add-index"}}),
    )
}

/// The before_switch tasks kirikae ran in the cluster, as ECS describes them.
fn before_switch_tasks(stack: &Stack) -> Vec<aws_sdk_ecs::types::Task> {
    let listed = block_on(
        stack
            .ecs
            .list_tasks()
            .cluster("demo")
            .started_by("kirikae")
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .send(),
    )
    .expect("list tasks");
    if listed.task_arns().is_empty() {
        return Vec::new();
    }
    block_on(
        stack
            .ecs
            .describe_tasks()
            .cluster("demo")
            .set_tasks(Some(listed.task_arns().to_vec()))
            .send(),
    )
    .expect("describe tasks")
    .tasks()
    .to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passing_migration_runs_with_the_new_task_definition_then_the_deployment_switches() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    let project = migration(stack.project(), 0).image("v2");
    // A dry run says what would run first, and runs nothing.
    let before = stack.mutating_calls();
    let dry = project.deploy(&["--dry-run", "--output", "json"]);
    dry.assert_exit(0).assert_says(&[
        "before switch     would run `exit 0` in container web with the new task definition (RunTask) and create the deployment only once it exits 0",
    ]);
    assert_eq!(dry.json()["before_switch"]["container"], "web");
    assert_eq!(stack.mutating_calls(), before);
    assert_eq!(stack.calls_of("ecs.RunTask"), 0);
    let outputs = project.path("outputs.txt");
    let project = project.env("GITHUB_OUTPUT", outputs.to_str().unwrap());
    let run = project.deploy(&["--output", "json"]);
    run.assert_exit(0).assert_says(&[
        "before_switch: started task",
        "(container web, `exit 0`) with the new task definition",
        "exited 0 (EssentialContainerExited: Essential container in task exited)",
    ]);
    let out = run.json();
    let task = &out["before_switch"];
    assert_eq!(task["passed"], true, "{out:#}");
    assert_eq!(task["exit_code"], 0);
    assert_eq!(task["last_status"], "STOPPED");
    assert_eq!(task["stop_code"], "EssentialContainerExited");
    assert_eq!(task["container"], "web");
    assert_eq!(task["command"], json!(["exit", "0"]));
    assert!(task["duration_seconds"].as_f64().unwrap() >= 0.0);
    // It ran before the deployment: first in the timeline, which then has the lifecycle events.
    assert_eq!(out["timeline"][0]["event"], "BeforeSwitch");
    assert_eq!(out["timeline"][0]["status"], "Succeeded");
    assert!(
        out["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "AllowTraffic"),
        "{out:#}"
    );
    assert_eq!(out["result"], "succeeded");
    assert!(out["deployment_id"].is_string());
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(stack.calls_of("codedeploy.CreateDeployment"), 1);
    assert_eq!(step_outputs(&outputs)["exit-code"], "0");

    // ECS ran it with the NEW task definition, the override and the service's network settings.
    let tasks = before_switch_tasks(&stack);
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t.task_definition_arn(), out["task_definition_arn"].as_str());
    assert_eq!(t.group(), Some("kirikae:before-switch"));
    assert_eq!(t.containers()[0].exit_code(), Some(0));
    let over = &t.overrides().unwrap().container_overrides()[0];
    assert_eq!(over.name(), Some("web"));
    assert_eq!(over.command(), ["exit", "0"]);
    assert_eq!(over.environment()[0].name(), Some("MIGRATION"));
    assert!(t.attachments().iter().any(|a| {
        a.details()
            .iter()
            .any(|d| d.name() == Some("subnetId") && d.value() == Some("subnet-a"))
    }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_creates_no_deployment_and_production_stays_on_blue() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let deployments_before = stack.calls_of("codedeploy.CreateDeployment");

    let (slack, hook) = (Receiver::start(200), Receiver::start(200));
    let project = migration(stack.project(), 3).image("v2").config(
        "/notifications",
        json!({"slack": {"webhook_url": slack.url}, "webhook": {"url": hook.url}}),
    );
    let outputs = project.path("outputs.txt");
    let project = project.env("GITHUB_OUTPUT", outputs.to_str().unwrap());
    let run = project.deploy(&["--output", "json"]);
    run.assert_exit(1).assert_says(&[
        "(container web, `exit 3`) exited 3 (EssentialContainerExited: Essential container in task exited)",
        "no deployment was created: demo/web still runs web:1",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "failed", "{out:#}");
    assert_eq!(out["exit_code"], 1);
    assert!(out["deployment_id"].is_null());
    let task = &out["before_switch"];
    assert_eq!(task["passed"], false);
    assert_eq!(task["exit_code"], 3);
    assert_eq!(task["stop_code"], "EssentialContainerExited");
    assert_eq!(task["stopped_reason"], "Essential container in task exited");
    assert_eq!(out["timeline"][0]["event"], "BeforeSwitch");
    assert_eq!(out["timeline"][0]["status"], "Failed");
    let message = out["message"].as_str().unwrap();
    assert!(message.contains("exited 3"), "{message}");
    assert!(message.contains("no deployment was created"), "{message}");
    let steps = step_outputs(&outputs);
    assert_eq!(steps["exit-code"], "1");
    assert_eq!(steps["result"], "failed");
    assert_eq!(steps["deployment-id"], "");

    assert_eq!(
        stack.calls_of("codedeploy.CreateDeployment"),
        deployments_before,
        "no deployment may be created"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    // The migration ran with the new revision, which nothing else runs.
    let tasks = before_switch_tasks(&stack);
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].task_definition_arn(),
        out["task_definition_arn"].as_str()
    );
    assert_eq!(tasks[0].containers()[0].exit_code(), Some(3));

    // The finish notification says it too (nothing started, so there is no start notification).
    let finished = hook
        .bodies()
        .into_iter()
        .last()
        .expect("a finish notification");
    assert_eq!(finished["outcome"]["result"], "failed", "{finished:#}");
    assert_eq!(finished["outcome"]["before_switch"]["exit_code"], 3);
    let slack = slack.bodies().into_iter().last().expect("a Slack message");
    let fields = &slack["attachments"][0]["fields"];
    let before_switch = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["title"] == "Before switch")
        .unwrap_or_else(|| panic!("{slack:#}"));
    assert!(
        before_switch["value"]
            .as_str()
            .unwrap()
            .contains("exited 3 (EssentialContainerExited"),
        "{before_switch:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_service_is_created_only_after_its_migration_passes() {
    let stack = Stack::new().await;
    let run = migration(stack.project(), 1).deploy(&["--output", "json"]);
    run.assert_exit(1)
        .assert_says(&["exited 1", "service demo/web was not created"]);
    assert_eq!(stack.calls_of("ecs.CreateService"), 0);
    let out = run.json();
    assert_eq!(out["service_created"], false);
    assert_eq!(out["before_switch"]["exit_code"], 1);

    let run = migration(stack.project(), 0).deploy(&["--output", "json"]);
    run.assert_exit(0);
    assert_eq!(run.json()["before_switch"]["exit_code"], 0);
    assert_eq!(stack.calls_of("ecs.CreateService"), 1);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_the_task_definition_lacks_is_refused_before_any_change() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    let run = stack
        .project()
        .image("v2")
        .config(
            "/before_switch",
            json!({"container": "wbe", "command": ["./migrate", "up"]}),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(2).assert_says(&[
        "before_switch.container",
        "task definition family web has no container `wbe` (it has: web)",
        "did you mean `web`?",
    ]);
    let out: Value = run.json();
    assert_eq!(out["exit_code"], 2);
    assert_eq!(stack.mutating_calls(), before, "nothing may change");

    // So is a migration without a command.
    let run = stack
        .project()
        .config("/before_switch", json!({"command": []}))
        .deploy(&[]);
    run.assert_exit(2)
        .assert_says(&["before_switch.command", "must name the command to run"]);
    assert_eq!(stack.mutating_calls(), before, "nothing may change");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupt_stops_the_waiting_never_the_migration_and_says_how_to_see_and_stop_it() {
    // A migration that takes long: a second container, mapped to a local command that sleeps.
    let stack =
        Stack::with_sandbox("60", &["--image-command", "example/migrate=exec sleep 600"]).await;
    let project = stack
        .project()
        .task(
            "/containerDefinitions",
            json!([
                {"name": "web", "image": "kirikae/demo:v1", "essential": true,
                 "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
                {"name": "migrate", "image": "example/migrate:1", "essential": false}
            ]),
        )
        .config(
            "/before_switch",
            json!({"container": "migrate", "command": ["up"]}),
        );
    let running = project.spawn(&["--output", "json"]);
    let task_arn = wait_for("the migration to run", 60, || {
        let listed = block_on(
            stack
                .ecs
                .list_tasks()
                .cluster("demo")
                .started_by("kirikae")
                .send(),
        )
        .ok()?;
        let arn = listed.task_arns().first()?.clone();
        let described = block_on(
            stack
                .ecs
                .describe_tasks()
                .cluster("demo")
                .tasks(&arn)
                .send(),
        )
        .ok()?;
        (described.tasks()[0].last_status() == Some("RUNNING")).then_some(arn)
    });
    running.interrupt();
    let run = running.wait();
    run.assert_exit(130).assert_says(&[
        "(container migrate, `up`) had not stopped (ECS last showed it",
        "it keeps running in ECS; service demo/web was not created",
        &format!("aws ecs stop-task --cluster demo --task {task_arn}"),
    ]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted", "{out:#}");
    assert_eq!(out["before_switch"]["still_running"], true);
    assert_eq!(out["timeline"][0]["status"], "InProgress");
    let steps: Vec<&str> = out["next_steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        steps.iter().any(|s| s.contains(&format!(
            "aws ecs describe-tasks --cluster demo --tasks {task_arn}"
        ))),
        "{steps:?}"
    );
    assert_eq!(stack.calls_of("ecs.CreateService"), 0);
    // kirikae left it running.
    let t = block_on(
        stack
            .ecs
            .describe_tasks()
            .cluster("demo")
            .tasks(&task_arn)
            .send(),
    )
    .expect("describe the migration")
    .tasks()[0]
        .clone();
    assert_eq!(t.last_status(), Some("RUNNING"));
    assert_eq!(t.desired_status(), Some("RUNNING"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_that_cannot_start_says_why_and_switches_nothing() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let deployments_before = stack.calls_of("codedeploy.CreateDeployment");
    // Its image is one the sandbox cannot run: ECS fails the task before any container exits.
    let run = stack
        .project()
        .task(
            "/containerDefinitions",
            json!([
                {"name": "web", "image": "kirikae/demo:v2", "essential": true,
                 "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
                {"name": "migrate", "image": "example/unknown:1", "essential": false}
            ]),
        )
        .config(
            "/before_switch",
            json!({"container": "migrate", "command": ["up"]}),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(1).assert_says(&[
        "(container migrate, `up`) stopped without an exit code (TaskFailedToStart: CannotPullContainerError",
        "no deployment was created: demo/web still runs web:1",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "failed", "{out:#}");
    assert_eq!(out["before_switch"]["stop_code"], "TaskFailedToStart");
    assert!(out["before_switch"]["exit_code"].is_null());
    assert_eq!(
        stack.calls_of("codedeploy.CreateDeployment"),
        deployments_before
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_revision_the_container_is_checked_in_that_revision_before_any_change() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    // The file's task definition has the container; revision 1, which --revision deploys, does not.
    let run = stack
        .project()
        .task(
            "/containerDefinitions",
            json!([
                {"name": "web", "image": "kirikae/demo:v1", "essential": true,
                 "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
                {"name": "migrate", "image": "kirikae/demo:v1", "essential": false}
            ]),
        )
        .config(
            "/before_switch",
            json!({"container": "migrate", "command": ["exit", "0"]}),
        )
        .deploy(&["--revision", "1", "--force"]);
    run.assert_exit(2).assert_says(&[
        "before_switch.container",
        "task definition web:1 has no container `migrate` to run the task in (it has: web)",
    ]);
    assert_eq!(stack.mutating_calls(), before, "nothing may change");
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_tasks_failing_for_a_while_is_retried_and_the_migration_still_decides() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    // Every DescribeTasks fails until the SDK's attempts of a poll are used up (one attempt a poll).
    stack.sandbox.fault(json!({
        "action": "error", "service": "ecs", "operation": "DescribeTasks",
        "code": "ServerException", "message": "Service unavailable", "count": 2
    }));
    let run = migration(stack.project(), 0).image("v2").deploy(&[
        "--output",
        "json",
        "--max-attempts",
        "1",
    ]);
    run.assert_exit(0).assert_says(&[
        "lost contact with AWS",
        "ecs:DescribeTasks",
        "contact with AWS is back",
        "exited 0",
    ]);
    assert_eq!(run.json()["before_switch"]["exit_code"], 0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_deployment_names_the_exit_code_of_greens_crashed_containers() {
    // ECS's stoppedReason is a fixed sentence; the diagnosis adds each container's exitCode.
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let run = stack
        .project()
        .image("v2")
        .task(
            "/containerDefinitions/0/environment",
            json!([{"name": "DEMO_CRASH_AFTER", "value": "0"}]),
        )
        .deploy(&["--output", "json", "--timeout", "20m"]);
    run.assert_exit(1);
    let out = run.json();
    let stopped: Vec<&str> = out["diagnosis"]["stopped_tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("{out:#}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        stopped
            .iter()
            .any(|s| s.contains("Essential container in task exited (web exited 1)")),
        "{stopped:?}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}
