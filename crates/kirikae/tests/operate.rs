//! The operator's commands against the sandbox, through the binary: `kirikae watch` re-attaches to a
//! deployment, `promote` shifts production of one waiting in Ready, `stop` stops one without rollback,
//! `rollback` stops one with CodeDeploy's rollback; the JSON document, `$GITHUB_OUTPUT` and the exit
//! status agree, as for `deploy`.

mod deploy_support;

use deploy_support::{Project, Stack, step_outputs, wait_for};
use serde_json::{Value, json};

/// Deployments pause in Ready (for an hour) until someone continues them.
fn held_at_ready(p: Project) -> Project {
    p.config(
        "/codedeploy/ready",
        json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
    )
}

/// Blue stays 30 AWS minutes after the switch (30 s at the tests' time scale).
fn long_termination_wait(p: Project) -> Project {
    p.config("/codedeploy/termination_wait_minutes", json!(30))
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    json: Value,
    steps: std::collections::BTreeMap<String, String>,
}

/// Runs `kirikae COMMAND -c <project>/kirikae.yml --output json EXTRA` against the sandbox.
fn kirikae(project: &Project, command: &str, extra: &[&str]) -> Ran {
    let config = project.dir.join("kirikae.yml");
    run(project, command, &["-c", config.to_str().unwrap()], extra)
}

/// Runs `kirikae COMMAND --output json WHICH EXTRA` (WHICH: `-c FILE` or `--deployment-id ID`).
fn run(project: &Project, command: &str, which: &[&str], extra: &[&str]) -> Ran {
    let outputs = project.dir.join(format!("github-output-{command}"));
    let _ = std::fs::remove_file(&outputs);
    let out = project
        .kirikae(command)
        .args(which)
        .args(["--output", "json"])
        .args(extra)
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .expect("run kirikae");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{command}: stdout is not JSON ({e}):\n{stdout}\n{stderr}"));
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        steps: step_outputs(&outputs),
        stdout,
        stderr,
        json,
    };
    // The three outputs agree.
    assert_eq!(
        ran.json["exit_code"].as_i64(),
        Some(ran.code as i64),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    assert_eq!(
        ran.steps["exit-code"],
        ran.code.to_string(),
        "{}",
        ran.stderr
    );
    ran
}

/// The group's deployment id once `ready(status, termination_wait_started)` holds.
fn deployment_when(stack: &Stack, what: &str, ready: impl Fn(&str, bool) -> bool) -> String {
    wait_for(what, 60, || {
        let list = deploy_support::block_on(stack.codedeploy.list_deployments().send()).ok()?;
        let id = list.deployments().first()?.clone();
        let dep =
            deploy_support::block_on(stack.codedeploy.get_deployment().deployment_id(&id).send())
                .ok()?;
        let info = dep.deployment_info()?;
        let status = info.status()?.as_str().to_string();
        ready(&status, info.instance_termination_wait_time_started()).then_some(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_reattaches_to_a_deployment_started_without_waiting() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let started = stack.project().deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--no-wait",
        "--output",
        "json",
    ]);
    started.assert_exit(0);
    let id = started.json()["deployment_id"]
        .as_str()
        .unwrap()
        .to_string();

    let watched = kirikae(&stack.project(), "watch", &[]);
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    assert_eq!(watched.json["result"], "succeeded", "{:#}", watched.json);
    assert_eq!(watched.json["deployment_id"], id.as_str());
    assert_eq!(watched.steps["deployment-id"], id);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    // Nothing runs now: exit 2, unless --last reports the one that ended.
    let none = kirikae(&stack.project(), "watch", &[]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("no deployment is running in"),
        "{}",
        none.stderr
    );
    let last = kirikae(&stack.project(), "watch", &["--last"]);
    assert_eq!(last.code, 0, "{}", last.stderr);
    assert_eq!(last.json["deployment_id"], id.as_str());
    // By id, without a config: the same deployment, as it ended.
    let by_id = run(&stack.project(), "watch", &["--deployment-id", &id], &[]);
    assert_eq!(by_id.code, 0, "{}", by_id.stderr);
    assert_eq!(by_id.json["result"], "succeeded", "{:#}", by_id.json);
    assert_eq!(by_id.json["deployment_id"], id.as_str());
    assert_eq!(by_id.json["service"], "web");
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_shifts_production_of_a_deployment_waiting_in_ready() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);

    // Nothing in Ready: refused, nothing changed.
    let before = stack.mutating_calls();
    let refused = kirikae(&held_at_ready(stack.project()), "promote", &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no deployment is running"),
        "{}",
        refused.stderr
    );
    assert_eq!(stack.mutating_calls(), before);

    held_at_ready(stack.project())
        .deploy(&["--image", "web=kirikae/demo:v2", "--no-wait"])
        .assert_exit(0);
    // (A promote before Ready is refused without a change: see the rollback test, which asks during
    // blue's termination wait.)
    let id = deployment_when(&stack, "the deployment to wait in Ready", |s, _| {
        s == "Ready"
    });
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    let before = stack.mutating_calls();
    let promoted = kirikae(&held_at_ready(stack.project()), "promote", &[]);
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    assert_eq!(promoted.json["result"], "succeeded");
    assert_eq!(promoted.json["deployment_id"], id.as_str());
    assert!(stack.mutating_calls() > before);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_skipping_the_termination_wait_ends_and_leaves_nothing_to_promote() {
    let stack = Stack::new().await;
    long_termination_wait(held_at_ready(stack.project()))
        .deploy(&[])
        .assert_exit(0);
    long_termination_wait(held_at_ready(stack.project()))
        .deploy(&["--image", "web=kirikae/demo:v2", "--no-wait"])
        .assert_exit(0);
    deployment_when(&stack, "Ready", |s, _| s == "Ready");
    let promoted = kirikae(
        &long_termination_wait(held_at_ready(stack.project())),
        "promote",
        &["--skip-termination-wait"],
    );
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    // Blue's 30-minute termination wait was ended by a second ContinueDeployment: by AWS's own
    // timestamps, the deployment completed well before 30 AWS minutes after traffic moved.
    assert_eq!(stack.calls_of("codedeploy.ContinueDeployment"), 2);
    let id = promoted.json["deployment_id"].as_str().unwrap().to_string();
    let info =
        deploy_support::block_on(stack.codedeploy.get_deployment().deployment_id(&id).send())
            .unwrap();
    let info = info.deployment_info().unwrap();
    let ready_at = info.create_time().unwrap().as_secs_f64();
    let completed = info.complete_time().unwrap().as_secs_f64();
    // At the tests' time scale (60), 30 AWS minutes last 30 s.
    assert!(completed - ready_at < 30.0, "{}", completed - ready_at);
    assert!(
        promoted.stderr.contains("termination wait skipped"),
        "{}",
        promoted.stderr
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    // Ended: a second promote has nothing in Ready, and changes nothing.
    let before = stack.mutating_calls();
    let again = kirikae(
        &long_termination_wait(held_at_ready(stack.project())),
        "promote",
        &[],
    );
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_in_the_termination_wait_puts_production_back_on_blue() {
    let stack = Stack::new().await;
    long_termination_wait(stack.project())
        .deploy(&[])
        .assert_exit(0);
    // Bound: a project's files go when it is dropped.
    let project = long_termination_wait(stack.project());
    let running = project.spawn(&["--image", "web=kirikae/demo:v2"]);
    deployment_when(&stack, "blue's termination wait", |s, waiting| {
        s == "InProgress" && waiting
    });
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    // Running but not in Ready: promote is refused, nothing changed.
    let before = stack.mutating_calls();
    let early = kirikae(&long_termination_wait(stack.project()), "promote", &[]);
    assert_eq!(early.code, 2, "{}", early.stderr);
    assert!(
        early.stderr.contains("is InProgress, not Ready"),
        "{}",
        early.stderr
    );
    assert_eq!(early.json["result"], "error");
    assert_eq!(stack.mutating_calls(), before);

    let dry = kirikae(
        &long_termination_wait(stack.project()),
        "rollback",
        &["--dry-run"],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stderr.contains("would roll back"), "{}", dry.stderr);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    let rolled = kirikae(&long_termination_wait(stack.project()), "rollback", &[]);
    assert_eq!(rolled.code, 1, "{}", rolled.stderr);
    assert_eq!(rolled.json["result"], "rolled_back", "{:#}", rolled.json);
    assert_eq!(rolled.steps["result"], "rolled_back");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    running.wait();

    // Nothing runs now, and v1 came with the service itself (CreateService, no deployment): the group's
    // history holds nothing earlier to roll back to, and says so.
    let before = stack.mutating_calls();
    let none = kirikae(&long_termination_wait(stack.project()), "rollback", &[]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("no successful deployment of it"),
        "{}",
        none.stderr
    );
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_leaves_traffic_where_it_is_and_exits_1() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    held_at_ready(stack.project())
        .deploy(&["--image", "web=kirikae/demo:v2", "--no-wait"])
        .assert_exit(0);
    deployment_when(&stack, "Ready", |s, _| s == "Ready");
    let stopped = kirikae(&held_at_ready(stack.project()), "stop", &[]);
    assert_eq!(stopped.code, 1, "{}", stopped.stderr);
    assert_eq!(stopped.json["result"], "stopped", "{:#}", stopped.json);
    assert_eq!(stopped.steps["result"], "stopped");
    let message = stopped.json["message"].as_str().unwrap();
    assert!(
        message.contains("production traffic is still on blue"),
        "{message}"
    );
    assert!(
        stopped.stderr.contains("production traffic stays"),
        "{}",
        stopped.stderr
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}
