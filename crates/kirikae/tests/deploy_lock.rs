//! One deploy at a time per service, through the binary: two concurrent `kirikae deploy` runs on one
//! service never both change it (the sandbox's call log shows one registration and one deployment),
//! and the other stops with exit 1 naming the first's who/where; a lock left by a run that died is
//! honoured until it expires (the refusal says how to remove it) and then cleared; `--wait-for-active`
//! queues behind a deployment already running, says so, and deploys once it ended.

mod deploy_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use deploy_support::{Project, Stack, block_on, wait_for};
use serde_json::{Value, json};

const CI_VARS: &[&str] = &["CI", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI"];

/// A project run by `user` on `host`, outside CI.
fn run_by(p: Project, user: &str, host: &str) -> Project {
    CI_VARS
        .iter()
        .fold(p, |p, v| p.unset(v))
        .env("USER", user)
        .env("HOSTNAME", host)
}

fn cluster_arn(stack: &Stack) -> String {
    let out = block_on(stack.ecs.describe_clusters().clusters("demo").send()).unwrap();
    out.clusters()[0].cluster_arn().unwrap().to_string()
}

fn lock_tags(stack: &Stack) -> Vec<String> {
    let out = block_on(
        stack
            .ecs
            .list_tags_for_resource()
            .resource_arn(cluster_arn(stack))
            .send(),
    )
    .unwrap();
    out.tags()
        .iter()
        .filter_map(|t| t.key())
        .filter(|k| k.starts_with("kirikae:lock/"))
        .map(str::to_string)
        .collect()
}

/// `kirikae deploy ARGS` started, its stderr collected line by line as it comes (to see what it says
/// while it waits).
fn spawn_reading_stderr(
    project: &Project,
    args: &[&str],
) -> (
    std::process::Child,
    Arc<Mutex<String>>,
    std::thread::JoinHandle<()>,
) {
    let mut child = project
        .kirikae("deploy")
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kirikae deploy");
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (pipe, stderr) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = stderr.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        })
    };
    (child, stderr, reader)
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_concurrent_deploys_one_changes_the_service_and_the_other_names_it() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let registered = stack.calls_of("ecs.RegisterTaskDefinition");
    let created = stack.calls_of("codedeploy.CreateDeployment");
    let updated =
        stack.calls_of("ecs.UpdateService") + stack.calls_of("codedeploy.UpdateDeploymentGroup");

    let a = run_by(stack.project(), "alice", "host-a");
    let b = run_by(stack.project(), "bob", "host-b");
    let run_a = a.spawn(&[
        "--image",
        "web=kirikae/demo:v2",
        "--no-wait",
        "--output",
        "json",
    ]);
    let run_b = b.spawn(&[
        "--image",
        "web=kirikae/demo:v3",
        "--no-wait",
        "--output",
        "json",
    ]);
    let (a, b) = (run_a.wait(), run_b.wait());

    let mut codes = [a.code, b.code];
    codes.sort();
    assert_eq!(
        codes,
        [0, 1],
        "one deploys, one is refused:\nA {}\nB {}",
        a.stderr,
        b.stderr
    );
    let (winner, loser, winner_from) = if a.code == 0 {
        (&a, &b, "alice@host-a")
    } else {
        (&b, &a, "bob@host-b")
    };
    // Only one changed anything in AWS: one task definition, one deployment, nothing else.
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), registered + 1);
    assert_eq!(stack.calls_of("codedeploy.CreateDeployment"), created + 1);
    assert_eq!(
        stack.calls_of("ecs.UpdateService") + stack.calls_of("codedeploy.UpdateDeploymentGroup"),
        updated
    );
    // The refused one names the first: its lock or its deployment, with who and from where.
    let refusal = loser.json();
    assert_eq!(refusal["exit_code"], 1);
    let message = refusal["message"].as_str().unwrap();
    // Which of the three places refused it (the checks, the lock, the check under the lock) depends on
    // how the two runs interleaved; each names the first.
    eprintln!("refused: {message}");
    assert!(
        message.contains(winner_from) && message.contains("arn:aws:iam::000000000000:root"),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    let id = winner.json()["deployment_id"].as_str().unwrap().to_string();
    if message.contains("active deployment") {
        assert!(message.contains(&id), "{message}");
    }
    assert!(
        lock_tags(&stack).is_empty(),
        "both runs released or never took the lock"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_left_by_a_dead_run_is_honoured_until_it_expires() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let arn = cluster_arn(&stack);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tag = |key: &str, expires: u64| {
        block_on(
            stack
                .ecs
                .tag_resource()
                .resource_arn(&arn)
                .tags(
                    aws_sdk_ecs::types::Tag::builder()
                        .key(key)
                        .value(format!(
                            "at={} expires={expires} by=arn:aws:iam::000000000000:role/ci from=acme/web@abc https://ci.example/runs/7",
                            now * 1000
                        ))
                        .build(),
                )
                .send(),
        )
        .unwrap();
    };
    tag("kirikae:lock/web/dead-run", now + 3600);
    let mutating = stack.mutating_calls();
    let refused = stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2", "--output", "json"]);
    refused.assert_exit(1);
    let message = refused.json()["message"].as_str().unwrap().to_string();
    for part in [
        "another deploy of demo/web is under way",
        "kirikae run dead-run",
        "arn:aws:iam::000000000000:role/ci",
        "acme/web@abc https://ci.example/runs/7",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    refused.assert_says(&[
        "aws ecs untag-resource --resource-arn",
        "--tag-keys kirikae:lock/web/dead-run",
    ]);
    assert_eq!(stack.mutating_calls(), mutating, "nothing changed");

    // Once expired, it is no longer honoured, and the next run removes it.
    tag("kirikae:lock/web/dead-run", now - 1);
    stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);
    assert!(lock_tags(&stack).is_empty(), "{:?}", lock_tags(&stack));

    // A run with nothing to deploy changes nothing, not even a lock, whoever holds one.
    tag("kirikae:lock/web/dead-run", now + 3600);
    let mutating = stack.mutating_calls();
    stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0)
        .assert_says(&["nothing to deploy"]);
    assert_eq!(stack.mutating_calls(), mutating);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_active_queues_behind_a_running_deployment_then_deploys() {
    let stack = Stack::new().await;
    // Deployments wait in Ready for an hour until someone continues them.
    let held = || {
        stack.project().config(
            "/codedeploy/ready",
            json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
        )
    };
    held().deploy(&[]).assert_exit(0);
    let first = held().deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--no-wait",
        "--output",
        "json",
    ]);
    first.assert_exit(0);
    let first_id = first.json()["deployment_id"].as_str().unwrap().to_string();

    // Without --wait-for-active: refused, naming it.
    held()
        .deploy(&["--image", "web=kirikae/demo:v3", "--no-wait"])
        .assert_exit(1)
        .assert_says(&["already has an active deployment", &first_id]);

    // With it: waits, saying for what, changing nothing meanwhile.
    let queued = run_by(held(), "carol", "host-c");
    let registered = stack.calls_of("ecs.RegisterTaskDefinition");
    let created = stack.calls_of("codedeploy.CreateDeployment");
    let (child, stderr, reader) = spawn_reading_stderr(
        &queued,
        &[
            "--image",
            "web=kirikae/demo:v3",
            "--no-wait",
            "--wait-for-active",
            "--output",
            "json",
        ],
    );
    wait_for("the queued deploy to say what it waits for", 60, || {
        stderr
            .lock()
            .unwrap()
            .contains(&format!("waiting for deployment {first_id}"))
            .then_some(())
    });
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), registered);
    assert_eq!(stack.calls_of("codedeploy.CreateDeployment"), created);

    // The first one is promoted and ends; the queued one then deploys.
    block_on(
        stack
            .codedeploy
            .continue_deployment()
            .deployment_id(&first_id)
            .deployment_wait_type(aws_sdk_codedeploy::types::DeploymentWaitType::ReadyWait)
            .send(),
    )
    .unwrap();
    let out = child.wait_with_output().expect("wait for kirikae deploy");
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"], "started", "{doc:#}");
    let second_id = doc["deployment_id"].as_str().unwrap();
    assert_ne!(second_id, first_id);
    assert!(
        stderr.contains("(--wait-for-active)")
            && stderr.contains("started by arn:aws:iam::000000000000:root"),
        "{stderr}"
    );
    assert_eq!(stack.calls_of("codedeploy.CreateDeployment"), created + 1);
    let first_status = block_on(
        stack
            .codedeploy
            .get_deployment()
            .deployment_id(&first_id)
            .send(),
    )
    .unwrap()
    .deployment_info()
    .unwrap()
    .status()
    .unwrap()
    .as_str()
    .to_string();
    assert_eq!(
        first_status, "Succeeded",
        "it deployed after the first ended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_active_queues_behind_another_runs_lock_until_it_is_released() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let arn = cluster_arn(&stack);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    block_on(
        stack
            .ecs
            .tag_resource()
            .resource_arn(&arn)
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("kirikae:lock/web/other-run")
                    .value(format!(
                        "at={} expires={} by=arn:aws:iam::000000000000:role/ci from=dave@host-d",
                        now * 1000,
                        now + 3600
                    ))
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let registered = stack.calls_of("ecs.RegisterTaskDefinition");
    let queued = stack.project();
    let (child, stderr, reader) = spawn_reading_stderr(
        &queued,
        &[
            "--image",
            "web=kirikae/demo:v2",
            "--no-wait",
            "--wait-for-active",
            "--output",
            "json",
        ],
    );
    wait_for(
        "the queued deploy to say whose lock it waits for",
        60,
        || {
            let said = stderr.lock().unwrap();
            (said.contains("waiting for another deploy of demo/web")
            && said.contains("kirikae run other-run (by arn:aws:iam::000000000000:role/ci, from dave@host-d)"))
        .then_some(())
        },
    );
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), registered);

    // The holder (or a person) releases it: the queued run goes on.
    block_on(
        stack
            .ecs
            .untag_resource()
            .resource_arn(&arn)
            .tag_keys("kirikae:lock/web/other-run")
            .send(),
    )
    .unwrap();
    let out = child.wait_with_output().expect("wait for kirikae deploy");
    reader.join().unwrap();
    let said = stderr.lock().unwrap().clone();
    assert_eq!(out.status.code(), Some(0), "{said}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"], "started", "{doc:#}");
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), registered + 1);
    assert!(lock_tags(&stack).is_empty(), "{:?}", lock_tags(&stack));
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_for_active_ends_at_the_timeout_or_on_ctrl_c_with_nothing_changed() {
    let stack = Stack::new().await;
    let held = || {
        stack.project().config(
            "/codedeploy/ready",
            json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
        )
    };
    held().deploy(&[]).assert_exit(0);
    let first = held().deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--no-wait",
        "--output",
        "json",
    ]);
    first.assert_exit(0);
    let first_id = first.json()["deployment_id"].as_str().unwrap().to_string();
    let mutating = stack.mutating_calls();

    let timed_out = held().deploy(&[
        "--image",
        "web=kirikae/demo:v3",
        "--wait-for-active",
        "--timeout",
        "3s",
        "--output",
        "json",
    ]);
    timed_out.assert_exit(3);
    let doc = timed_out.json();
    assert_eq!(doc["result"], "timed_out", "{doc:#}");
    let message = doc["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("deployment {first_id}"))
            && message.contains("nothing was changed"),
        "{message}"
    );
    assert_eq!(stack.mutating_calls(), mutating);

    let queued = held();
    let (child, stderr, reader) = spawn_reading_stderr(
        &queued,
        &[
            "--image",
            "web=kirikae/demo:v3",
            "--wait-for-active",
            "--output",
            "json",
        ],
    );
    wait_for("the queued deploy to say it waits", 60, || {
        stderr
            .lock()
            .unwrap()
            .contains(&format!("waiting for deployment {first_id}"))
            .then_some(())
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait for kirikae deploy");
    reader.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr.lock().unwrap());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"], "interrupted", "{doc:#}");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{doc:#}"
    );
    assert_eq!(stack.mutating_calls(), mutating);
    assert!(lock_tags(&stack).is_empty(), "{:?}", lock_tags(&stack));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_without_room_for_the_lock_tag_is_waited_out() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let arn = cluster_arn(&stack);
    // ECS allows 50 tags per resource: the team's own take them all.
    let tags: Vec<_> = (0..50)
        .map(|i| {
            aws_sdk_ecs::types::Tag::builder()
                .key(format!("team-{i}"))
                .value("x")
                .build()
        })
        .collect();
    block_on(
        stack
            .ecs
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send(),
    )
    .unwrap();
    let registered = stack.calls_of("ecs.RegisterTaskDefinition");
    let project = stack.project();
    let (child, stderr, reader) = spawn_reading_stderr(
        &project,
        &[
            "--image",
            "web=kirikae/demo:v2",
            "--no-wait",
            "--output",
            "json",
        ],
    );
    wait_for("the deploy to say it waits for room", 60, || {
        stderr
            .lock()
            .unwrap()
            .contains("waiting for room on cluster demo for the deploy lock")
            .then_some(())
    });
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), registered);
    block_on(
        stack
            .ecs
            .untag_resource()
            .resource_arn(&arn)
            .tag_keys("team-0")
            .send(),
    )
    .unwrap();
    let out = child.wait_with_output().expect("wait for kirikae deploy");
    reader.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr.lock().unwrap());
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), registered + 1);
    assert!(lock_tags(&stack).is_empty(), "{:?}", lock_tags(&stack));
}
