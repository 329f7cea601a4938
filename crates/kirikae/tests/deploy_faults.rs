//! `kirikae deploy` under the faults production brings, produced by the sandbox's fault injection: a
//! network blip while blue waits to be terminated, an outage that outlasts the run, credentials that
//! expire, a CI runner cancelling the job, an ambiguous CreateDeployment. Whatever ends the run, the
//! exit status, the JSON document and `$GITHUB_OUTPUT` agree and carry the deployment id.

mod deploy_support;

use std::path::PathBuf;

use deploy_support::{Project, Stack, block_on, step_outputs, wait_for};
use serde_json::json;

/// Blue stays 30 AWS minutes after the switch: 30 s at the tests' time scale, long enough to break
/// something in.
fn long_termination_wait(p: Project) -> Project {
    p.config("/codedeploy/termination_wait_minutes", json!(30))
}

/// Deployments pause in Ready (for an hour) until someone continues them.
fn held_at_ready(p: Project) -> Project {
    p.config(
        "/codedeploy/ready",
        json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
    )
}

/// The project writing its step outputs to a file of its own.
fn with_step_outputs(p: Project) -> (Project, PathBuf) {
    let path = p.dir.join("github-output");
    let p = p.env("GITHUB_OUTPUT", path.to_str().unwrap());
    (p, path)
}

/// The id of the group's deployment once `ready(status, termination_wait_started)` holds.
fn deployment_when(stack: &Stack, what: &str, ready: impl Fn(&str, bool) -> bool) -> String {
    wait_for(what, 60, || {
        let list = block_on(stack.codedeploy.list_deployments().send()).ok()?;
        let id = list.deployments().first()?.clone();
        let dep = block_on(stack.codedeploy.get_deployment().deployment_id(&id).send()).ok()?;
        let info = dep.deployment_info()?;
        let status = info.status()?.as_str().to_string();
        ready(&status, info.instance_termination_wait_time_started()).then_some(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ten_second_outage_while_blue_waits_is_ridden_out_and_the_deploy_succeeds() {
    let stack = Stack::new().await;
    long_termination_wait(stack.project())
        .deploy(&[])
        .assert_exit(0);
    let (project, outputs) = with_step_outputs(long_termination_wait(stack.project()));
    let running = project.spawn(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    let id = deployment_when(&stack, "blue's termination wait", |status, waiting| {
        status == "InProgress" && waiting
    });
    stack
        .sandbox
        .fault(json!({"action": "refuse", "seconds": 10}));

    let run = running.wait();
    run.assert_exit(0).assert_says(&[
        "lost contact with AWS at",
        "retrying until the deadline",
        "contact with AWS is back",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["exit_code"], 0);
    assert_eq!(out["deployment_id"], id.as_str());
    let steps = step_outputs(&outputs);
    assert_eq!(steps["exit-code"], "0");
    assert_eq!(steps["result"], "succeeded");
    assert_eq!(steps["deployment-id"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_that_outlasts_the_run_exits_3_with_the_id_and_how_to_follow_it() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    let (project, outputs) = with_step_outputs(held_at_ready(stack.project()));
    let running = project.spawn(&[
        "--image",
        "web=kirikae/demo:v2",
        "--timeout",
        "40s",
        "--output",
        "json",
    ]);
    let id = deployment_when(&stack, "the deployment to wait in Ready", |s, _| {
        s == "Ready"
    });
    // kirikae polls every second at first: let it see Ready before the network goes.
    std::thread::sleep(std::time::Duration::from_secs(3));
    stack
        .sandbox
        .fault(json!({"action": "refuse", "seconds": 600}));

    let run = running.wait();
    run.assert_exit(3).assert_says(&[
        "lost contact with AWS at",
        "did not come back in time",
        &format!("deployment {id} is still Ready"),
        &format!("aws deploy stop-deployment --deployment-id {id} --auto-rollback-enabled"),
        "aws deploy continue-deployment",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "lost_contact", "{out:#}");
    assert_eq!(out["exit_code"], 3);
    assert_eq!(out["deployment_id"], id.as_str());
    assert_eq!(out["failure"]["kind"], "lost_contact");
    let steps = step_outputs(&outputs);
    assert_eq!(steps["exit-code"], "3");
    assert_eq!(steps["result"], "lost_contact");
    assert_eq!(steps["deployment-id"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_that_expire_while_waiting_end_the_watch_with_exit_3_not_a_failure() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    let (project, outputs) = with_step_outputs(held_at_ready(stack.project()));
    let running = project.spawn(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    let id = deployment_when(&stack, "the deployment to wait in Ready", |s, _| {
        s == "Ready"
    });
    stack.sandbox.fault(json!({
        "action": "error", "service": "codedeploy", "code": "ExpiredTokenException",
        "message": "The security token included in the request is expired"
    }));

    let run = running.wait();
    run.assert_exit(3).assert_says(&[
        "AWS refused codedeploy:BatchGetDeployments",
        "ExpiredTokenException",
        &id,
    ]);
    let out = run.json();
    assert_eq!(out["result"], "lost_contact", "{out:#}");
    assert_eq!(out["failure"]["code"], "ExpiredTokenException");
    assert_eq!(out["deployment_id"], id.as_str());
    assert_eq!(step_outputs(&outputs)["exit-code"], "3");
    // The deployment itself goes on, untouched.
    stack.sandbox.clear_faults();
    let dep = block_on(stack.codedeploy.get_deployment().deployment_id(&id).send()).unwrap();
    assert_eq!(
        dep.deployment_info().unwrap().status().unwrap().as_str(),
        "Ready"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_from_a_ci_runner_reports_the_deployment_everywhere_and_exits_143() {
    let stack = Stack::new().await;
    let hook = deploy_support::Receiver::start(200);
    let notify = |p: Project| p.config("/notifications", json!({"webhook": {"url": hook.url}}));
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    let (project, outputs) = with_step_outputs(notify(held_at_ready(stack.project())));
    let running = project.spawn(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    let id = deployment_when(&stack, "the deployment to wait in Ready", |s, _| {
        s == "Ready"
    });
    running.signal(libc::SIGTERM);

    let run = running.wait();
    run.assert_exit(143)
        .assert_says(&["SIGTERM", "interrupted", &id, "goes on in AWS"]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted", "{out:#}");
    assert_eq!(out["exit_code"], 143);
    assert_eq!(out["deployment_id"], id.as_str());
    let steps = step_outputs(&outputs);
    assert_eq!(steps["exit-code"], "143");
    assert_eq!(steps["deployment-id"], id);
    // The finish notification carries the same result.
    let bodies = hook.bodies();
    let finish = bodies.last().expect("a finish notification");
    assert_eq!(finish["outcome"]["result"], "interrupted", "{bodies:#?}");
    assert_eq!(finish["outcome"]["exit_code"], 143);
    assert_eq!(finish["outcome"]["deployment_id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once_and_still_writes_the_outputs() {
    let stack = Stack::new().await;
    held_at_ready(stack.project()).deploy(&[]).assert_exit(0);
    // The finish notification hangs, so the first signal alone cannot end the run quickly.
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging = format!("http://{}/hook", sink.local_addr().unwrap());
    let (project, outputs) = with_step_outputs(
        held_at_ready(stack.project())
            .config("/notifications", json!({"webhook": {"url": hanging}})),
    );
    let running = project.spawn(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    let id = deployment_when(&stack, "the deployment to wait in Ready", |s, _| {
        s == "Ready"
    });
    running.signal(libc::SIGHUP);
    std::thread::sleep(std::time::Duration::from_millis(500));
    running.signal(libc::SIGTERM);

    let run = running.wait();
    run.assert_exit(129)
        .assert_says(&["SIGTERM again: exiting now"]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted", "{out:#}");
    assert_eq!(out["deployment_id"], id.as_str());
    let steps = step_outputs(&outputs);
    assert_eq!(steps["exit-code"], "129");
    assert_eq!(steps["deployment-id"], id);
    drop(sink);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_create_deployment_is_followed_never_made_twice() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    // CodeDeploy creates the deployment, then the answer is lost: the SDK retries, and the retry meets
    // DeploymentLimitExceededException — caused by our own deployment.
    stack.sandbox.fault(json!({
        "action": "ambiguous", "service": "codedeploy", "operation": "CreateDeployment",
        "code": "ServiceUnavailable", "count": 1
    }));

    let run = stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["had created deployment", "following it"]);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert!(
        stack.calls_of("codedeploy.CreateDeployment") >= 2,
        "the call was retried"
    );
    let all = block_on(stack.codedeploy.list_deployments().send()).unwrap();
    assert_eq!(all.deployments(), [out["deployment_id"].as_str().unwrap()]);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_create_service_is_retried_with_the_same_client_token() {
    let stack = Stack::new().await;
    stack.sandbox.fault(json!({
        "action": "ambiguous", "service": "ecs", "operation": "CreateService",
        "code": "ServerException", "status": 500, "count": 1
    }));
    let run = stack.project().deploy(&["--output", "json"]);
    run.assert_exit(0);
    assert_eq!(run.json()["result"], "succeeded");
    assert!(
        stack.calls_of("ecs.CreateService") >= 2,
        "the call was retried"
    );
    let services = block_on(stack.ecs.list_services().cluster("demo").send()).unwrap();
    assert_eq!(services.service_arns().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_before_any_change_writes_every_output_with_its_exit_code() {
    let stack = Stack::new().await;
    let before = stack.mutating_calls();
    let (project, outputs) = with_step_outputs(stack.project().config("/clustr", json!("demo")));
    let run = project.deploy(&["--output", "json"]);
    run.assert_exit(2);
    let out = run.json();
    assert_eq!(out["result"], "error");
    assert_eq!(out["exit_code"], 2);
    let steps = step_outputs(&outputs);
    assert_eq!(steps["exit-code"], "2");
    assert_eq!(steps["result"], "error");
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_after_a_change_says_what_was_changed_and_how_to_pick_up() {
    let stack = Stack::new().await;
    stack.sandbox.fault(json!({
        "action": "error", "service": "codedeploy", "operation": "CreateDeploymentGroup",
        "code": "InvalidRoleException", "message": "The service role cannot be assumed"
    }));
    let (project, outputs) = with_step_outputs(stack.project());
    let run = project.deploy(&["--output", "json"]);
    run.assert_exit(1).assert_says(&[
        "InvalidRoleException",
        "changed so far:",
        "created service demo/web",
        "run kirikae deploy again",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "error", "{out:#}");
    assert_eq!(out["service_created"], true);
    assert_eq!(
        out["failure"]["operation"],
        "codedeploy:CreateDeploymentGroup"
    );
    assert_eq!(step_outputs(&outputs)["exit-code"], "1");

    // Picking up: the same command, once the cause is gone, finishes the job without a second service.
    stack.sandbox.clear_faults();
    stack.project().deploy(&[]).assert_exit(0);
    let services = block_on(stack.ecs.list_services().cluster("demo").send()).unwrap();
    assert_eq!(services.service_arns().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_create_deployment_group_is_taken_as_created_and_made_as_configured() {
    let stack = Stack::new().await;
    stack.sandbox.fault(json!({
        "action": "ambiguous", "service": "codedeploy", "operation": "CreateDeploymentGroup",
        "code": "ServiceUnavailable", "count": 1
    }));
    let run = stack.project().deploy(&["--output", "json"]);
    run.assert_exit(0);
    assert!(
        stack.calls_of("codedeploy.CreateDeploymentGroup") >= 2,
        "the call was retried"
    );
    assert_eq!(stack.calls_of("codedeploy.UpdateDeploymentGroup"), 1);
    stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);
}
