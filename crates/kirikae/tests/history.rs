//! `kirikae history` through the binary: every deployment kirikae creates records in AWS who started it
//! (the IAM caller identity, STS) and from where (CI context, or user@host), with kirikae's version, and
//! `history` reads it back next to what each deployment deployed; a deployment made without kirikae is
//! shown as such. History is read-only, and a bad config is refused with exit 2 before any AWS call.

mod deploy_support;

use deploy_support::{Project, Stack, block_on, step_outputs, wait_for};
use serde_json::Value;

/// Environment variables that would make a run look like CI (the test runner may be in one).
const CI_VARS: &[&str] = &["CI", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI"];

/// A project run from a workstation: user `user` on host `host`, no CI.
fn from_workstation(p: Project, user: &str, host: &str) -> Project {
    CI_VARS
        .iter()
        .fold(p, |p, v| p.unset(v))
        .env("USER", user)
        .env("HOSTNAME", host)
}

/// A project run by GitHub Actions.
fn from_github_actions(p: Project) -> Project {
    p.unset("GITLAB_CI")
        .unset("CIRCLECI")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/web")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_ACTOR", "octocat")
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn history(project: &Project, extra: &[&str]) -> Ran {
    let out = project
        .kirikae("history")
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .args(extra)
        .output()
        .expect("run kirikae history");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn history_shows_who_started_each_deployment_and_from_where() {
    let stack = Stack::new().await;
    // The first run creates the service (no deployment); the next two deploy Blue/Green.
    stack.project().deploy(&[]).assert_exit(0);
    from_github_actions(stack.project())
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);
    from_workstation(stack.project(), "ana", "ana-laptop")
        .deploy(&["--image", "web=kirikae/demo:v3"])
        .assert_exit(0);
    // A deployment made without kirikae (the console, `aws deploy create-deployment`): same revision,
    // no description.
    let ids = stack
        .codedeploy
        .list_deployments()
        .send()
        .await
        .unwrap()
        .deployments()
        .to_vec();
    let infos = stack
        .codedeploy
        .batch_get_deployments()
        .set_deployment_ids(Some(ids))
        .send()
        .await
        .unwrap();
    let last = infos
        .deployments_info()
        .iter()
        .max_by_key(|d| d.create_time().map(|t| t.secs()))
        .unwrap()
        .clone();
    let by_hand = stack
        .codedeploy
        .create_deployment()
        .application_name(last.application_name().unwrap())
        .deployment_group_name(last.deployment_group_name().unwrap())
        .revision(last.revision().unwrap().clone())
        .send()
        .await
        .unwrap()
        .deployment_id()
        .unwrap()
        .to_string();
    wait_for("the deployment made by hand to end", 120, || {
        let d = block_on(
            stack
                .codedeploy
                .get_deployment()
                .deployment_id(&by_hand)
                .send(),
        )
        .ok()?;
        let status = d.deployment_info()?.status()?.as_str().to_string();
        (status == "Succeeded").then_some(())
    });

    let mutating = stack.mutating_calls();
    let project = stack.project();
    let outputs = project.dir.join("github-output-history");
    let out = project
        .kirikae("history")
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .args(["--output", "json"])
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .expect("run kirikae history");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        stack.mutating_calls(),
        mutating,
        "history changed something"
    );
    assert_eq!(doc["result"], "history");
    assert_eq!(doc["exit_code"], 0);
    let steps = step_outputs(&outputs);
    assert_eq!(steps["exit-code"], "0");
    assert_eq!(steps["deployment-id"], by_hand, "the newest deployment");

    let list = doc["deployments"].as_array().expect("deployments");
    assert_eq!(list.len(), 3, "{doc:#}");
    let (hand, ana, ci) = (&list[0], &list[1], &list[2]);
    // Newest first.
    assert_eq!(hand["deployment_id"], by_hand.as_str());
    assert!(hand["created_at"].as_f64() >= ana["created_at"].as_f64());
    assert!(ana["created_at"].as_f64() >= ci["created_at"].as_f64());

    assert_eq!(hand["started_by_kirikae"], false);
    assert_eq!(hand["who"], "unknown (not started by kirikae)");
    assert_eq!(hand["audit"], Value::Null);

    for (d, image) in [(ana, "kirikae/demo:v3"), (ci, "kirikae/demo:v2")] {
        assert_eq!(d["status"], "Succeeded", "{d:#}");
        assert_eq!(d["started_by_kirikae"], true);
        assert_eq!(d["audit"]["by"], "arn:aws:iam::000000000000:root");
        assert_eq!(d["audit"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(d["images"][0]["container"], "web");
        assert_eq!(d["images"][0]["image"], image);
        assert!(
            d["task_definition"].as_str().unwrap().starts_with("web:"),
            "{d:#}"
        );
        assert!(d["duration_seconds"].as_f64().unwrap() > 0.0, "{d:#}");
        assert!(d["run_id"].as_str().is_some_and(|r| r.len() == 36));
    }
    assert_ne!(ana["task_definition"], ci["task_definition"]);
    // The one made by hand deployed the same revision as the last kirikae one.
    assert_eq!(hand["task_definition"], ana["task_definition"]);

    assert_eq!(ana["from"], "ana@ana-laptop");
    assert_eq!(ana["audit"]["user"], "ana");
    assert_eq!(ana["audit"]["ci"], Value::Null);

    assert_eq!(ci["audit"]["ci"], "github-actions");
    assert_eq!(ci["audit"]["repository"], "acme/web");
    assert_eq!(
        ci["audit"]["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(
        ci["audit"]["run_url"],
        "https://github.com/acme/web/actions/runs/4242"
    );
    assert_eq!(ci["who"], "arn:aws:iam::000000000000:root (octocat)");
    assert_eq!(ci["audit"]["user"], Value::Null, "no local user in CI");

    // --limit keeps the newest; the table says the same for a person.
    let one = history(&stack.project(), &["--limit", "1", "--output", "json"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    let one: Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(one["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(one["deployments"][0]["deployment_id"], by_hand.as_str());
    let table = history(&stack.project(), &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    for part in [
        "3 deployments of",
        by_hand.as_str(),
        "unknown (not started by kirikae)",
        "ana@ana-laptop",
        "acme/web@0123456789ab https://github.com/acme/web/actions/runs/4242",
        "web=kirikae/demo:v2",
    ] {
        assert!(table.stdout.contains(part), "{part}:\n{}", table.stdout);
    }
    assert_eq!(
        stack.mutating_calls(),
        mutating,
        "history changed something"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn history_of_a_bad_config_is_refused_with_exit_2_before_any_call() {
    let stack = Stack::new().await;
    let calls = stack.sandbox.calls()["total"].clone();
    let mutating = stack.mutating_calls();
    let bad = stack
        .project()
        .raw("kirikae.yml", "cluster: demo\nservice: [web\n");
    let ran = history(&bad, &["--output", "json"]);
    assert_eq!(ran.code, 2, "{}\n{}", ran.stdout, ran.stderr);
    let doc: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(doc["error"]["kind"], "config");
    assert_eq!(stack.sandbox.calls()["total"], calls, "no AWS call");

    // A group that has never been deployed has no history (exit 0).
    let none = history(&stack.project(), &["--output", "json"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    let doc: Value = serde_json::from_str(&none.stdout).unwrap();
    assert_eq!(doc["deployments"], serde_json::json!([]));
    assert_eq!(stack.mutating_calls(), mutating);
}

#[tokio::test(flavor = "multi_thread")]
async fn history_shows_a_rollback_from_both_sides() {
    let stack = Stack::new().await;
    // Deployments wait in Ready until someone continues (or rolls back) them.
    let held = || {
        stack.project().config(
            "/codedeploy/ready",
            serde_json::json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
        )
    };
    held().deploy(&[]).assert_exit(0);
    let started = held().deploy(&[
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
    wait_for("the deployment to wait in Ready", 60, || {
        let d = block_on(stack.codedeploy.get_deployment().deployment_id(&id).send()).ok()?;
        (d.deployment_info()?.status()?.as_str() == "Ready").then_some(())
    });
    let project = held();
    let rolled = project
        .kirikae("rollback")
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .output()
        .expect("run kirikae rollback");
    assert_eq!(
        rolled.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&rolled.stderr)
    );

    let ran = history(&held(), &["--output", "json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let doc: Value = serde_json::from_str(&ran.stdout).unwrap();
    let list = doc["deployments"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{doc:#}");
    let (rollback, original) = (&list[0], &list[1]);
    assert_eq!(original["deployment_id"], id.as_str());
    assert_eq!(original["status"], "Stopped");
    assert_eq!(original["started_by_kirikae"], true);
    let rollback_id = rollback["deployment_id"].as_str().unwrap();
    assert_eq!(
        original["rollback"]["rolled_back_by"], rollback_id,
        "{doc:#}"
    );
    assert_eq!(rollback["rollback"]["rolls_back"], id.as_str(), "{doc:#}");
    assert_eq!(rollback["creator"], "codeDeployRollback");
    // CodeDeploy's own, even though it carries the description of the one it rolls back.
    assert_eq!(rollback["who"], "CodeDeploy (automatic rollback)");
    assert_eq!(rollback["started_by_kirikae"], false);
    assert_eq!(rollback["audit"], Value::Null);
    assert_eq!(original["images"][0]["image"], "kirikae/demo:v2");
    let table = history(&held(), &[]);
    assert!(
        table
            .stdout
            .contains(&format!("rolled back by {rollback_id}"))
            && table.stdout.contains(&format!("rolls back {id}")),
        "{}",
        table.stdout
    );
}
