//! The gate before production traffic (config `gate:`), through the binary against the sandbox: at Ready,
//! kirikae checks green through the test listener, then shifts production (passed) or stops the
//! deployment with rollback (failed: nothing of green ever serves production); with `approve: true` it
//! holds in Ready until `kirikae promote` from another process (or `--auto-promote-after`). A gate
//! that cannot work is refused before any change.

mod deploy_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use deploy_support::{Project, Receiver, Stack, block_on, wait_for};
use serde_json::{Value, json};

/// A group that waits in Ready (an hour: a minute of real time at the tests' scale) and a gate.
fn gated(p: Project, gate: Value) -> Project {
    p.config(
        "/codedeploy/ready",
        json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
    )
    .config("/gate", gate)
}

/// The target groups production traffic goes to, from the production listener's rule in AWS.
fn production_target_groups(stack: &Stack) -> Vec<String> {
    let out = block_on(
        stack
            .elb
            .describe_listeners()
            .listener_arns(&stack.prod_listener)
            .send(),
    )
    .expect("describe the production listener");
    let action = out.listeners()[0].default_actions()[0].clone();
    match action.forward_config() {
        Some(f) => f
            .target_groups()
            .iter()
            .filter(|t| t.weight().unwrap_or(1) > 0)
            .filter_map(|t| t.target_group_arn().map(str::to_string))
            .collect(),
        None => action
            .target_group_arn()
            .map(str::to_string)
            .into_iter()
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passing_gate_shifts_production_to_green_and_says_what_it_checked() {
    let stack = Stack::new().await;
    let receiver = Receiver::start(200);
    let gate = json!({
        "http": [{"path": "/", "body": "\"version\":\"v2\"", "requests": 5}],
        "command": "echo \"$KIRIKAE_TEST_URL $KIRIKAE_IMAGE_WEB $KIRIKAE_DEPLOYMENT_ID\" > gate-env.txt",
    });
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);

    let project = gated(stack.project(), gate)
        .image("v2")
        .config("/notifications", json!({"webhook": {"url": receiver.url}}));
    // A dry run says where the gate would check green, and what.
    let dry = project.deploy(&["--dry-run", "--output", "json"]);
    dry.assert_exit(0).assert_says(&[
        &format!(
            "gate              at Ready, through http://{}:8080: GET / → 200",
            stack.dns
        ),
        "×5, command `echo",
    ]);
    assert_eq!(
        dry.json()["gate"]["test_url"],
        format!("http://{}:8080", stack.dns)
    );
    let run = project.deploy(&["--output", "json"]);
    run.assert_exit(0).assert_says(&[
        "gate: checking green through the test listener",
        "✓ gate: GET / → 200 matching /\"version\":\"v2\"/: 5/5 requests passed",
        "✓ gate passed",
        "shifting production traffic to green",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    let gate = &out["gate"];
    assert_eq!(gate["verdict"], "passed", "{gate:#}");
    assert_eq!(gate["checks"][0]["failures"], 0);
    assert_eq!(gate["command"]["exit_code"], 0);
    assert_eq!(gate["test_url"], format!("http://{}:8080", stack.dns));
    // The command ran in the config's directory, with the test URL, green's image and the deployment.
    let env = std::fs::read_to_string(project.path("gate-env.txt")).expect("the command ran");
    let id = out["deployment_id"].as_str().unwrap();
    assert_eq!(
        env.trim(),
        format!("http://{}:8080 kirikae/demo:v2 {id}", stack.dns)
    );
    // In the timeline, between test traffic and production traffic.
    let events: Vec<&str> = out["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["event"].as_str().unwrap())
        .collect();
    let at = |e: &str| {
        events
            .iter()
            .position(|x| *x == e)
            .unwrap_or_else(|| panic!("{e} in {events:?}"))
    };
    assert!(at("AfterAllowTestTraffic") < at("Gate") && at("Gate") < at("AllowTraffic"));
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    // The finish notification carries the gate's results.
    let finished = receiver
        .bodies()
        .into_iter()
        .find(|b| b["event"] == "success")
        .expect("a finish notification");
    assert_eq!(finished["outcome"]["gate"]["verdict"], "passed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_gate_rolls_back_and_nothing_of_green_ever_serves_production() {
    let stack = Stack::new().await;
    // Green answers as v2; the gate wants v3.
    let gate = json!({"http": [{"path": "/", "body": "\"version\":\"v3\"", "requests": 3}]});
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);
    let blue = production_target_groups(&stack);

    // Production is sampled for the whole deploy: no answer may come from green.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        let dns = stack.dns.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                if let Some(v) = Stack::version_at(&dns, 80) {
                    seen.push(v);
                }
            }
            seen
        })
    };
    let outputs = std::env::temp_dir().join(format!("kirikae-gate-outputs-{}", std::process::id()));
    let _ = std::fs::remove_file(&outputs);
    let project = gated(stack.project(), gate)
        .image("v2")
        .env("GITHUB_OUTPUT", outputs.to_str().unwrap());
    let run = project.deploy(&["--output", "json"]);
    done.store(true, Ordering::SeqCst);
    let seen = sampler.join().unwrap();

    run.assert_exit(1).assert_says(&[
        "✗ gate: GET /",
        "0/3 requests passed",
        "✗ gate failed",
        "stopping deployment",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "failed");
    assert_eq!(out["rollback"]["traffic_on_blue"], true, "{out:#}");
    let message = out["message"].as_str().unwrap();
    assert!(message.starts_with("the gate failed"), "{message}");
    assert!(message.contains("does not match"), "{message}");
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|v| v == "v1"),
        "production served {:?}",
        seen.iter().filter(|v| *v != "v1").collect::<Vec<_>>()
    );
    assert_eq!(production_target_groups(&stack), blue);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    // The step outputs say the same.
    let steps = deploy_support::step_outputs(&outputs);
    assert_eq!(steps["result"], "rolled_back");
    assert_eq!(steps["exit-code"], "1");
    let _ = std::fs::remove_file(&outputs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_command_rolls_back_and_its_last_lines_are_shown() {
    let stack = Stack::new().await;
    let gate = json!({"command": "echo checking $KIRIKAE_TEST_URL; echo 'smoke test: login page broken' >&2; exit 3"});
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);
    let run = gated(stack.project(), gate)
        .image("v2")
        .deploy(&["--output", "json"]);
    run.assert_exit(1)
        .assert_says(&["exited 3", "smoke test: login page broken", "✗ gate failed"]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    let command = &out["gate"]["command"];
    assert_eq!(command["exit_code"], 3, "{command:#}");
    // Both streams, each in its order (they are read side by side).
    let tail: Vec<&str> = command["output_tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let checking = format!("checking http://{}:8080", stack.dns);
    assert_eq!(tail.len(), 2, "{tail:?}");
    assert!(tail.contains(&checking.as_str()), "{tail:?}");
    assert!(tail.contains(&"smoke test: login page broken"), "{tail:?}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

/// `kirikae deploy` started in the background; its stderr is collected as it comes.
struct Background {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Background {
    fn start(project: &Project, args: &[&str]) -> Background {
        let mut child = project
            .kirikae("deploy")
            .arg("-c")
            .arg(project.path("kirikae.yml"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kirikae deploy");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Background {
            child,
            stderr,
            reader,
        }
    }

    fn said(&self, what: &str) -> bool {
        self.stderr.lock().unwrap().contains(what)
    }

    /// Exit status, stdout (JSON) and stderr.
    fn wait(mut self) -> (i32, Value, String) {
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        self.reader.join().unwrap();
        let stderr = self.stderr.lock().unwrap().clone();
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\n{stderr}"));
        (code, json, stderr)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_holds_in_ready_until_kirikae_promote_from_another_process() {
    let stack = Stack::new().await;
    let gate = json!({"http": [{"path": "/", "requests": 2}], "approve": true});
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);

    let project = gated(stack.project(), gate).image("v2");
    let deploy = Background::start(&project, &["--output", "json"]);
    wait_for("the deploy to wait for approval", 60, || {
        deploy
            .said("waiting for approval: kirikae promote -c")
            .then_some(())
    });
    // Held: checked green serves the test listener, production is still blue.
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    assert_eq!(stack.version_on(8080).as_deref(), Some("v2"));

    let promoted = project
        .kirikae("promote")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .output()
        .expect("run kirikae promote");
    assert_eq!(
        promoted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    let (code, out, stderr) = deploy.wait();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "passed");
    assert_eq!(out["gate"]["approval"]["state"], "promoted", "{out:#}");
    assert!(stderr.contains("approval: promoted"), "{stderr}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_waiting_for_approval_leaves_it_in_ready_and_says_how_to_promote() {
    let stack = Stack::new().await;
    let gate = json!({"approve": true});
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);
    let project = gated(stack.project(), gate).image("v2");
    let deploy = Background::start(&project, &["--output", "json"]);
    wait_for("the deploy to wait for approval", 60, || {
        deploy.said("waiting for approval").then_some(())
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(deploy.child.id() as i32, libc::SIGINT) };
    let (code, out, stderr) = deploy.wait();
    assert_eq!(code, 130, "{stderr}");
    assert_eq!(out["status"], "Ready", "{out:#}");
    assert_eq!(out["gate"]["approval"]["state"], "not_given", "{out:#}");
    let first = out["next_steps"][0].as_str().unwrap();
    assert!(
        first.starts_with("shift production traffic: kirikae promote -c "),
        "{out:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    // As said: promote shifts it.
    let (code, out, stderr) = promote(&project);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_waiting_for_approval_rolls_back_with_on_interrupt_rollback() {
    let stack = Stack::new().await;
    let gate = json!({"http": [{"path": "/", "requests": 2}], "approve": true});
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);
    let project = gated(stack.project(), gate).image("v2");
    let deploy = Background::start(
        &project,
        &["--on-interrupt", "rollback", "--output", "json"],
    );
    wait_for("the deploy to wait for approval", 60, || {
        deploy.said("waiting for approval").then_some(())
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(deploy.child.id() as i32, libc::SIGTERM) };
    let (code, out, stderr) = deploy.wait();
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(out["result"], "interrupted", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "passed");
    assert_eq!(out["gate"]["approval"]["state"], "not_given", "{out:#}");
    assert_eq!(out["rollback"]["traffic_on_blue"], true, "{out:#}");
    assert_eq!(stack.calls_of("codedeploy.ContinueDeployment"), 0);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}

/// `kirikae promote -c FILE --output json` of the project's deployment.
fn promote(project: &Project) -> (i32, Value, String) {
    let out = project
        .kirikae("promote")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .args(["--output", "json"])
        .output()
        .expect("run kirikae promote");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("promote: stdout is not JSON ({e}):\n{stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn wait_for_ready(stack: &Stack) {
    wait_for("the deployment to wait in Ready", 60, || {
        let ready = aws_sdk_codedeploy::types::DeploymentStatus::Ready;
        let list = block_on(
            stack
                .codedeploy
                .list_deployments()
                .include_only_statuses(ready)
                .send(),
        )
        .ok()?;
        (!list.deployments().is_empty()).then_some(())
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_no_wait_then_promote_runs_the_gate_checks_before_production_moves() {
    let stack = Stack::new().await;
    // Green must answer as v2.
    let gate = json!({"http": [{"path": "/", "body": "\"version\":\"v2\"", "requests": 3}], "approve": true});
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);

    // Job 1: start, and return.
    let project = gated(stack.project(), gate.clone()).image("v2");
    let started = project.deploy(&["--no-wait", "--output", "json"]);
    started.assert_exit(0);
    let out = started.json();
    assert_eq!(out["result"], "started");
    let message = out["message"].as_str().unwrap();
    assert!(
        message.contains("holds in Ready") && message.contains("runs the gate's checks first"),
        "{message}"
    );
    wait_for_ready(&stack);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    // Job 2: the checks pass, then production moves.
    let (code, out, stderr) = promote(&project);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "passed", "{out:#}");
    assert!(stderr.contains("✓ gate: GET /"), "{stderr}");
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));

    // v3 does not answer as v2: promote's checks fail, and it rolls back instead.
    let project = gated(stack.project(), gate).image("v3");
    project.deploy(&["--no-wait"]).assert_exit(0);
    wait_for_ready(&stack);
    let continued = stack.calls_of("codedeploy.ContinueDeployment");
    let (code, out, stderr) = promote(&project);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["gate"]["verdict"], "failed");
    assert_eq!(out["rollback"]["traffic_on_blue"], true, "{out:#}");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .starts_with("the gate failed"),
        "{out:#}"
    );
    assert_eq!(stack.calls_of("codedeploy.ContinueDeployment"), continued);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_promote_after_promotes_a_held_deployment_by_itself() {
    let stack = Stack::new().await;
    let gate = json!({"approve": true});
    gated(stack.project(), gate.clone())
        .deploy(&[])
        .assert_exit(0);
    let run = gated(stack.project(), gate).image("v2").deploy(&[
        "--auto-promote-after",
        "1s",
        "--output",
        "json",
    ]);
    run.assert_exit(0)
        .assert_says(&["waiting for approval", "auto-promoting deployment"]);
    let out = run.json();
    assert_eq!(out["gate"]["approval"]["state"], "auto_promoted", "{out:#}");
    assert_eq!(stack.calls_of("codedeploy.ContinueDeployment"), 1);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_that_cannot_work_is_refused_before_any_change() {
    let stack = Stack::new().await;
    let checks = json!({"http": [{"path": "/"}]});
    let before = stack.mutating_calls();
    let refused = |p: Project, args: &[&str], says: &[&str]| {
        let run = p.deploy(args);
        run.assert_exit(2).assert_says(says);
        assert_eq!(stack.mutating_calls(), before, "{}", run.stderr);
    };
    refused(
        gated(stack.project(), checks.clone()).config("/codedeploy/test_listener", Value::Null),
        &[],
        &["gate", "no test_listener"],
    );
    refused(
        stack.project().config("/gate", checks.clone()),
        &[],
        &["codedeploy.ready", "STOP_DEPLOYMENT"],
    );
    refused(
        gated(stack.project(), checks.clone()),
        &["--wait-until", "AfterAllowTestTraffic"],
        &["--wait-until", "stops waiting before it can decide"],
    );
    refused(
        gated(stack.project(), checks.clone()),
        &["--auto-promote-after", "1m"],
        &["--auto-promote-after", "no `approve: true`"],
    );
    refused(
        gated(stack.project(), json!({"approve": true})),
        &["--auto-promote-after", "1m", "--no-wait"],
        &[
            "--auto-promote-after",
            "--no-wait and --wait-until stop waiting before",
        ],
    );
    refused(
        gated(stack.project(), json!({"http": [{"body": "(["}]})),
        &[],
        &["gate.http[0].body", "not a regular expression"],
    );
    refused(
        gated(
            stack.project(),
            json!({"http": [{"duration_seconds": 3600}]}),
        ),
        &[],
        &["CodeDeploy stops the deployment after ready.wait_minutes"],
    );
    // kirikae verify makes the same checks, and says where a gate that can work checks green.
    let project = gated(stack.project(), checks.clone());
    let verified = project
        .kirikae("verify")
        .arg("-c")
        .arg(project.path("kirikae.yml"))
        .output()
        .expect("run kirikae verify");
    let said = String::from_utf8_lossy(&verified.stderr);
    assert_eq!(verified.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "the gate reaches the test listener at http://{}:8080",
            stack.dns
        )),
        "{said}"
    );
    // JSON output says the same.
    let run = gated(stack.project(), checks)
        .config("/codedeploy/test_listener", Value::Null)
        .deploy(&["--output", "json"]);
    run.assert_exit(2);
    assert_eq!(run.json()["error"]["field"], "gate");
    assert_eq!(stack.mutating_calls(), before);
}
