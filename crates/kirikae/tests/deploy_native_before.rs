//! Before the change on ECS-native services (a config with an `ecs:` block), through the binary against
//! the sandbox, as on CodeDeploy: the deploy lock (two concurrent deploys start one service deployment;
//! a live lock left by another run is refused with the untag command), a running service deployment
//! refused naming who started it, `--wait-for-active` queueing behind it, the `before_switch:` task
//! with the new task definition before UpdateService / CreateService, and the audit record (a tag on
//! the service per service deployment, the newest ten kept) that `kirikae history` shows; a service
//! deployment started by someone else while the task ran is not followed by a second. Every refusal
//! changes nothing.

mod deploy_support;
mod onboarding;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use deploy_support::{Project, Stack, block_on, wait_for};
use onboarding::{native_project, native_stack_with as native_stack};
use serde_json::{Value, json};

const CI_VARS: &[&str] = &["CI", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI"];

/// The stack's project with an `ecs:` block, run by `user` on `host` outside CI.
fn native(stack: &Stack, user: &str, host: &str) -> Project {
    CI_VARS
        .iter()
        .fold(native_project(stack), |p, v| p.unset(v))
        .env("USER", user)
        .env("HOSTNAME", host)
}

/// Held at a pause before production traffic until `kirikae promote`.
fn paused(p: Project) -> Project {
    p.config(
        "/ecs/hooks",
        json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true}]),
    )
}

fn migration(p: Project, code: u8) -> Project {
    p.config(
        "/before_switch",
        json!({"command": ["exit", code.to_string()]}),
    )
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

/// The service's tags, as `aws ecs list-tags-for-resource` shows them.
fn service_tags(stack: &Stack) -> Vec<(String, String)> {
    let service = block_on(
        stack
            .ecs
            .describe_services()
            .cluster("demo")
            .services("web")
            .send(),
    )
    .unwrap();
    let arn = service.services()[0].service_arn().unwrap().to_string();
    let out = block_on(stack.ecs.list_tags_for_resource().resource_arn(arn).send()).unwrap();
    out.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn service_deployments(stack: &Stack) -> usize {
    block_on(
        stack
            .ecs
            .list_service_deployments()
            .cluster("demo")
            .service("web")
            .send(),
    )
    .unwrap()
    .service_deployments()
    .len()
}

/// `kirikae deploy ARGS` started, its stderr collected line by line as it comes.
fn spawn_reading_stderr(
    project: &Project,
    args: &[&str],
) -> (
    std::process::Child,
    Arc<Mutex<String>>,
    std::thread::JoinHandle<()>,
) {
    project.write();
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

fn kirikae_on(project: &Project, command: &str, args: &[&str]) -> std::process::Output {
    project.write();
    project
        .kirikae(command)
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .args(args)
        .output()
        .expect("run kirikae")
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_concurrent_native_deploys_one_updates_the_service_and_the_other_names_it() {
    let stack = native_stack(&[]).await;
    native(&stack, "ana", "host-0").deploy(&[]).assert_exit(0);
    let registered = stack.calls_of("ecs.RegisterTaskDefinition");
    let updated = stack.calls_of("ecs.UpdateService");

    let a = native(&stack, "alice", "host-a").image("v2");
    let b = native(&stack, "bob", "host-b").image("v3");
    let run_a = a.spawn(&["--no-wait", "--output", "json"]);
    let run_b = b.spawn(&["--no-wait", "--output", "json"]);
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
    // One task definition, one UpdateService: one service deployment.
    assert_eq!(stack.calls_of("ecs.RegisterTaskDefinition"), registered + 1);
    assert_eq!(stack.calls_of("ecs.UpdateService"), updated + 1);
    let id = winner.json()["deployment_id"].as_str().unwrap().to_string();
    let refusal = loser.json();
    assert_eq!(refusal["exit_code"], 1);
    let message = refusal["message"].as_str().unwrap();
    eprintln!("refused: {message}");
    // Refused by the other's lock (naming who and where) or by its service deployment (naming it);
    // which depends on how the two runs interleaved.
    assert!(
        message.contains(winner_from) || message.contains(&id),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(
        lock_tags(&stack).is_empty(),
        "both released or never took it"
    );

    // The winner's service deployment carries its record, on the service.
    let deployment_id = id.rsplit('/').next().unwrap();
    let tags = service_tags(&stack);
    let (_, record) = tags
        .iter()
        .find(|(k, _)| k == &format!("kirikae:deployment/{deployment_id}"))
        .unwrap_or_else(|| panic!("no record of {id}: {tags:?}"));
    assert!(
        record.contains("by=arn:aws:iam::000000000000:root"),
        "{record}"
    );
    assert!(record.ends_with(&format!("from={winner_from}")), "{record}");

    // A live lock another run left: refused, naming it and how to remove it, nothing changed.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    block_on(
        stack
            .ecs
            .tag_resource()
            .resource_arn(cluster_arn(&stack))
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("kirikae:lock/web/dead-run")
                    .value(format!(
                        "at={} expires={} by=arn:aws:iam::000000000000:role/ci from=acme/web@abc",
                        now * 1000,
                        now + 3600
                    ))
                    .build(),
            )
            .send(),
    )
    .unwrap();
    wait_for("the winner's service deployment to end", 120, || {
        (stack.calls_of("ecs.UpdateService") > 0
            && block_on(
                stack
                    .ecs
                    .describe_service_deployments()
                    .service_deployment_arns(&id)
                    .send(),
            )
            .ok()?
            .service_deployments()[0]
                .status()
                .is_some_and(|s| s.as_str() == "SUCCESSFUL"))
        .then_some(())
    });
    let mutating = stack.mutating_calls();
    let refused = native(&stack, "carol", "host-c")
        .image("v4")
        .deploy(&["--output", "json"]);
    refused.assert_exit(1).assert_says(&[
        "another deploy of demo/web is under way",
        "kirikae run dead-run",
        "acme/web@abc",
        "aws ecs untag-resource --resource-arn",
        "--tag-keys kirikae:lock/web/dead-run",
    ]);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    assert_eq!(stack.mutating_calls(), mutating, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_service_deployment_is_refused_naming_who_and_wait_for_active_queues_behind_it() {
    let stack = native_stack(&[]).await;
    native(&stack, "ana", "host-0").deploy(&[]).assert_exit(0);
    // Alice's deployment waits at its pause until someone promotes it.
    let alice = paused(native(&stack, "alice", "host-a")).image("v2");
    let held = alice.deploy(&["--wait-until", "paused", "--output", "json"]);
    held.assert_exit(0);
    let first = held.json()["deployment_id"].as_str().unwrap().to_string();

    // Without --wait-for-active: refused, naming it and who started it; nothing changed.
    let mutating = stack.mutating_calls();
    let refused = native(&stack, "bob", "host-b")
        .image("v3")
        .deploy(&["--output", "json"]);
    refused.assert_exit(1).assert_says(&[
        &format!("service deployment {first} is IN_PROGRESS on demo/web"),
        "started by arn:aws:iam::000000000000:root, from alice@host-a",
        "--wait-for-active",
    ]);
    assert_eq!(stack.mutating_calls(), mutating, "nothing changed");

    // With it: waits, saying for what, changing nothing meanwhile.
    let carol = native(&stack, "carol", "host-c").image("v3");
    let (child, stderr, reader) = spawn_reading_stderr(
        &carol,
        &["--wait-for-active", "--no-wait", "--output", "json"],
    );
    wait_for("the queued deploy to say what it waits for", 60, || {
        stderr
            .lock()
            .unwrap()
            .contains(&format!("waiting for deployment {first}"))
            .then_some(())
    });
    assert_eq!(
        stack.mutating_calls(),
        mutating,
        "nothing changed while queued"
    );

    // Alice's is promoted and ends; Carol's then deploys, after checking everything again.
    let promoted = kirikae_on(&alice, "promote", &[]);
    assert_eq!(
        promoted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    let out = child.wait_with_output().expect("wait for kirikae deploy");
    reader.join().unwrap();
    let said = stderr.lock().unwrap().clone();
    assert_eq!(out.status.code(), Some(0), "{said}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"], "started", "{doc:#}");
    let second = doc["deployment_id"].as_str().unwrap();
    assert_ne!(second, first);
    assert!(
        said.contains("(--wait-for-active)") && said.contains("from alice@host-a"),
        "{said}"
    );
    let status = block_on(
        stack
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(&first)
            .send(),
    )
    .unwrap()
    .service_deployments()[0]
        .status()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(status, "SUCCESSFUL", "it deployed after the first ended");

    // kirikae history: the service's deployments, newest first, with who started each.
    let history = kirikae_on(&carol, "history", &["--output", "json"]);
    assert_eq!(
        history.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    let doc: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(doc["deployment_id"], second, "{doc:#}");
    let entries = doc["deployments"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{doc:#}");
    let by_from: Vec<&str> = entries
        .iter()
        .map(|e| e["from"].as_str().unwrap())
        .collect();
    assert_eq!(by_from, ["carol@host-c", "alice@host-a", "ana@host-0"]);
    assert_eq!(entries[1]["status"], "SUCCESSFUL");
    assert_eq!(entries[1]["who"], "arn:aws:iam::000000000000:root");
    assert_eq!(entries[1]["started_by_kirikae"], true);
    assert_eq!(entries[1]["images"][0]["image"], "kirikae/demo:v2");
    assert!(
        entries[1]["task_definition"]
            .as_str()
            .unwrap()
            .starts_with("web:"),
        "{doc:#}"
    );
    assert!(entries[1]["duration_seconds"].as_f64().is_some());
    let table = kirikae_on(&carol, "history", &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    for part in [
        "3 service deployments of demo/web, newest first",
        &first,
        "  from      alice@host-a",
        "  images    web=kirikae/demo:v2",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn before_switch_runs_the_new_task_definition_before_the_service_changes() {
    let stack = native_stack(&[]).await;
    // A new service: created only once its task passed.
    let run = migration(native(&stack, "ana", "host-0"), 1).deploy(&["--output", "json"]);
    run.assert_exit(1)
        .assert_says(&["exited 1", "service demo/web was not created"]);
    assert_eq!(stack.calls_of("ecs.CreateService"), 0);
    let run = migration(native(&stack, "ana", "host-0"), 0).deploy(&["--output", "json"]);
    run.assert_exit(0);
    assert_eq!(run.json()["before_switch"]["exit_code"], 0);
    assert_eq!(stack.calls_of("ecs.CreateService"), 1);

    // A dry run says it would run first, and runs nothing.
    let before = stack.mutating_calls();
    migration(native(&stack, "ana", "host-0"), 3)
        .image("v2")
        .deploy(&["--dry-run"])
        .assert_exit(0)
        .assert_says(&[
            "would run `exit 3` in container web with the new task definition (RunTask) and update the service only once it exits 0",
        ]);
    assert_eq!(stack.mutating_calls(), before);
    assert_eq!(stack.calls_of("ecs.RunTask"), 2);

    // A failing one: exit 1, no UpdateService, no service deployment, production still on v1.
    let (updated, deployments) = (
        stack.calls_of("ecs.UpdateService"),
        service_deployments(&stack),
    );
    let run = migration(native(&stack, "ana", "host-0"), 3)
        .image("v2")
        .deploy(&["--output", "json"]);
    run.assert_exit(1).assert_says(&[
        "(container web, `exit 3`)",
        "exited 3",
        "no service deployment was started: demo/web still runs web:",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "failed", "{out:#}");
    assert_eq!(out["before_switch"]["passed"], false);
    assert!(out["deployment_id"].is_null(), "{out:#}");
    assert_eq!(stack.calls_of("ecs.UpdateService"), updated);
    assert_eq!(service_deployments(&stack), deployments);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));

    // A passing one: RunTask with the NEW task definition, then the service deployment.
    let run = migration(native(&stack, "ana", "host-0"), 0)
        .image("v2")
        .deploy(&["--output", "json"]);
    run.assert_exit(0);
    let out = run.json();
    assert_eq!(out["result"], "succeeded", "{out:#}");
    assert_eq!(out["before_switch"]["passed"], true);
    assert_eq!(out["timeline"][0]["event"], "BeforeSwitch");
    let task_arn = out["before_switch"]["task_arn"].as_str().unwrap();
    let task = block_on(
        stack
            .ecs
            .describe_tasks()
            .cluster("demo")
            .tasks(task_arn)
            .send(),
    )
    .unwrap();
    let t = &task.tasks()[0];
    assert_eq!(t.task_definition_arn(), out["task_definition_arn"].as_str());
    assert_eq!(t.group(), Some("kirikae:before-switch"));
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupt_during_before_switch_leaves_the_task_and_says_how_to_see_and_stop_it() {
    let stack = native_stack(&["--image-command", "example/migrate=exec sleep 600"]).await;
    native(&stack, "ana", "host-0").deploy(&[]).assert_exit(0);
    let updated = stack.calls_of("ecs.UpdateService");
    let project = native(&stack, "ana", "host-0")
        .task(
            "/containerDefinitions",
            json!([
                {"name": "web", "image": "kirikae/demo:v2", "essential": true,
                 "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
                {"name": "migrate", "image": "example/migrate:1", "essential": false}
            ]),
        )
        .config(
            "/before_switch",
            json!({"container": "migrate", "command": ["up"]}),
        );
    let running = project.spawn(&["--output", "json"]);
    let task_arn = wait_for("the task to run", 60, || {
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
        "it keeps running in ECS; no service deployment was started",
        &format!("aws ecs stop-task --cluster demo --task {task_arn}"),
    ]);
    let out = run.json();
    assert_eq!(out["result"], "interrupted", "{out:#}");
    assert_eq!(out["before_switch"]["still_running"], true);
    assert_eq!(stack.calls_of("ecs.UpdateService"), updated);
    assert!(lock_tags(&stack).is_empty(), "the lock is released");
    // The task goes on in ECS: kirikae never stops a migration half-way.
    let described = block_on(
        stack
            .ecs
            .describe_tasks()
            .cluster("demo")
            .tasks(&task_arn)
            .send(),
    )
    .unwrap();
    assert_eq!(described.tasks()[0].last_status(), Some("RUNNING"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_before_switch_container_the_task_definition_lacks_is_refused_before_any_change() {
    let stack = native_stack(&[]).await;
    native(&stack, "ana", "host-0").deploy(&[]).assert_exit(0);
    let before = stack.mutating_calls();
    let run = native(&stack, "ana", "host-0")
        .image("v2")
        .config(
            "/before_switch",
            json!({"container": "wbe", "command": ["./migrate", "up"]}),
        )
        .deploy(&["--output", "json"]);
    run.assert_exit(2).assert_says(&[
        "before_switch.container",
        "task definition family web has no container `wbe` (it has: web)",
    ]);
    assert_eq!(stack.mutating_calls(), before, "nothing may change");
    // With --revision, the container is checked in that revision (in AWS), before any change: the
    // file's task definition has it, revision 1 does not.
    let run = native(&stack, "ana", "host-0")
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
async fn a_service_deployment_started_while_before_switch_ran_is_not_followed_by_a_second() {
    let gate = std::env::temp_dir().join(format!("kirikae-native-before-{}", std::process::id()));
    let _ = std::fs::remove_file(&gate);
    let wait = format!(
        "example/migrate=exec sh -c 'while [ ! -f {} ]; do sleep 0.1; done' sh",
        gate.display()
    );
    let stack = native_stack(&["--image-command", &wait]).await;
    native(&stack, "ana", "host-0").deploy(&[]).assert_exit(0);
    // The service's deployments now pause before production traffic until someone continues them.
    let alice = paused(native(&stack, "alice", "host-a")).image("v2");
    alice.deploy(&["--wait-until", "paused"]).assert_exit(0);
    let promoted = kirikae_on(&alice, "promote", &[]);
    assert_eq!(promoted.status.code(), Some(0));
    wait_for("alice's deployment to end", 120, || {
        (block_on(
            stack
                .ecs
                .list_service_deployments()
                .cluster("demo")
                .service("web")
                .status(aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress)
                .send(),
        )
        .ok()?
        .service_deployments()
        .is_empty())
        .then_some(())
    });

    let carol = paused(native(&stack, "carol", "host-c"))
        .task(
            "/containerDefinitions",
            json!([
                {"name": "web", "image": "kirikae/demo:v3", "essential": false,
                 "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
                {"name": "migrate", "image": "example/migrate:1", "essential": true}
            ]),
        )
        .config(
            "/before_switch",
            json!({"container": "migrate", "command": ["up"]}),
        );
    // The task stops when its essential container (the migration) exits.
    let running = carol.spawn(&["--no-wait", "--output", "json"]);
    wait_for("the task to run", 60, || {
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
        (described.tasks()[0].last_status() == Some("RUNNING")).then_some(())
    });
    // Someone else (not kirikae: no lock) starts a service deployment meanwhile; it waits at its pause.
    let other = block_on(
        stack
            .ecs
            .update_service()
            .cluster("demo")
            .service("web")
            .force_new_deployment(true)
            .send(),
    )
    .unwrap();
    let other = other
        .service()
        .and_then(|s| s.current_service_deployment())
        .expect("the deployment it started")
        .to_string();
    let updates = stack.calls_of("ecs.UpdateService");
    std::fs::write(&gate, "").unwrap();
    let run = running.wait();
    let _ = std::fs::remove_file(&gate);
    run.assert_exit(1).assert_says(&[
        &format!("service deployment {other} is IN_PROGRESS on demo/web"),
        "started by unknown (not started by kirikae)",
    ]);
    let out = run.json();
    assert_eq!(out["before_switch"]["passed"], true, "{out:#}");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("changed so far: registered task definition"),
        "{out:#}"
    );
    assert_eq!(
        stack.calls_of("ecs.UpdateService"),
        updates,
        "no second one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_keeps_the_records_of_its_newest_ten_deployments() {
    let stack = native_stack(&[]).await;
    native(&stack, "ana", "host-0").deploy(&[]).assert_exit(0);
    let service_arn = block_on(
        stack
            .ecs
            .describe_services()
            .cluster("demo")
            .services("web")
            .send(),
    )
    .unwrap()
    .services()[0]
        .service_arn()
        .unwrap()
        .to_string();
    // Ten older records (as earlier runs left them) and a team's own tag.
    let mut tags: Vec<aws_sdk_ecs::types::Tag> = (1..=10)
        .map(|i| {
            aws_sdk_ecs::types::Tag::builder()
                .key(format!("kirikae:deployment/old{i}"))
                .value(format!(
                    "at={i} run=r{i} kirikae=0.1.0 by=arn:aws:iam::000000000000:root from=ci"
                ))
                .build()
        })
        .collect();
    tags.push(
        aws_sdk_ecs::types::Tag::builder()
            .key("team")
            .value("payments")
            .build(),
    );
    block_on(
        stack
            .ecs
            .tag_resource()
            .resource_arn(&service_arn)
            .set_tags(Some(tags))
            .send(),
    )
    .unwrap();
    let run = native(&stack, "ana", "host-0")
        .image("v2")
        .deploy(&["--output", "json"]);
    run.assert_exit(0);
    let id = run.json()["deployment_id"].as_str().unwrap().to_string();
    let mut records: Vec<String> = service_tags(&stack)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("kirikae:deployment/"))
        .collect();
    records.sort();
    let mut expected: Vec<String> = (3..=10)
        .map(|i| format!("kirikae:deployment/old{i}"))
        .collect();
    // The two oldest go; the first deploy's record and this one's stay.
    assert_eq!(records.len(), 10, "{records:?}");
    expected.push(format!(
        "kirikae:deployment/{}",
        id.rsplit('/').next().unwrap()
    ));
    for k in &expected {
        assert!(records.contains(k), "{k} kept: {records:?}");
    }
    for gone in ["old1", "old2"] {
        assert!(
            !records.contains(&format!("kirikae:deployment/{gone}")),
            "{gone}: {records:?}"
        );
    }
    assert!(
        service_tags(&stack)
            .iter()
            .any(|(k, v)| k == "team" && v == "payments"),
        "the team's own tag stays"
    );
}
