//! The README's commands, as written, on a sandbox: "Rehearse on the sandbox" (`kirikae demo` against a
//! running sandbox, which provisions examples/demo-stack.json, then `kirikae deploy -c
//! examples/kirikae.yml` with endpoint and credentials from the environment only), and "Quick start"
//! (`init` from the running service, `setup`, `diff`: nothing to create, nothing would change; a task
//! definition exactly as `aws ecs describe-task-definition` prints it, `--dry-run`, `--image`).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{SandboxProcess, http_get};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

/// The environment the README exports.
fn with_aws_env<'c>(cmd: &'c mut Command, sandbox: &SandboxProcess) -> &'c mut Command {
    cmd.env("AWS_ENDPOINT_URL", &sandbox.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1") // the AWS CLI v1 reads only this one
        .env_remove("AWS_PROFILE")
}

#[track_caller]
fn succeeded(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} exited {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[track_caller]
fn kirikae(sandbox: &SandboxProcess, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kirikae"));
    with_aws_env(&mut cmd, sandbox)
        .args(args)
        .envs(env.iter().copied());
    succeeded(
        &format!("kirikae {args:?}"),
        cmd.output().expect("run kirikae"),
    )
}

fn serves_only(url: &str, version: &str) {
    for _ in 0..10 {
        let (status, body) = http_get(url).expect("production listener answers");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&format!("\"{version}\"")), "{body}");
    }
}

fn mutating(sandbox: &SandboxProcess) -> u64 {
    sandbox.calls()["mutating"].as_u64().unwrap()
}

#[test]
fn the_readme_commands_deploy_the_examples_on_a_sandbox() {
    let sandbox = SandboxProcess::start();

    // Rehearse on the sandbox.
    let demo = kirikae(
        &sandbox,
        &["demo", "--endpoint-url", &sandbox.url, "--output", "json"],
        &[],
    );
    let report: serde_json::Value = serde_json::from_slice(&demo.stdout).expect("JSON report");
    let url = report["load"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no production URL in the demo's report: {report:#}"))
        .to_string();
    let config = format!("{EXAMPLES}/kirikae.yml");
    kirikae(
        &sandbox,
        &["deploy", "-c", &config],
        &[("DEMO_VERSION", "v3")],
    );
    serves_only(&url, "v3");

    // Quick start for a team that runs the service: init from what runs, setup (nothing is missing
    // behind the demo's stack), diff (nothing would change); only read calls.
    let onboard = std::env::temp_dir().join(format!("kirikae-readme-init-{}", std::process::id()));
    let onboard_dir = onboard.to_str().unwrap();
    let onboard_config = onboard.join("kirikae.yml");
    let onboard_config = onboard_config.to_str().unwrap();
    let before = mutating(&sandbox);
    kirikae(
        &sandbox,
        &[
            "init",
            "--cluster",
            "demo",
            "--service",
            "web",
            "--dir",
            onboard_dir,
        ],
        &[],
    );
    kirikae(&sandbox, &["setup", "-c", onboard_config, "--dry-run"], &[]);
    kirikae(&sandbox, &["setup", "-c", onboard_config], &[]);
    kirikae(&sandbox, &["diff", "-c", onboard_config], &[]);
    assert_eq!(
        mutating(&sandbox),
        before,
        "init, setup and diff changed something on a stack with nothing missing"
    );
    let _ = std::fs::remove_dir_all(&onboard);

    // Quick start: the task definition as the AWS CLI prints it, next to a kirikae.yml.
    let dir = std::env::temp_dir().join(format!("kirikae-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["kirikae.yml", "service-definition.json"] {
        std::fs::copy(Path::new(EXAMPLES).join(file), dir.join(file)).unwrap();
    }
    let mut aws = Command::new("python3");
    with_aws_env(&mut aws, &sandbox).args([
        "-m",
        "awscli",
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "demo-web",
        "--query",
        "taskDefinition",
    ]);
    let described = succeeded(
        "aws ecs describe-task-definition",
        aws.output().expect("run the AWS CLI (pip install awscli)"),
    );
    std::fs::write(dir.join("task-definition.json"), &described.stdout).unwrap();
    let config = dir.join("kirikae.yml");
    let config = config.to_str().unwrap();

    let before = mutating(&sandbox);
    let dry = kirikae(&sandbox, &["deploy", "-c", config, "--dry-run"], &[]);
    assert_eq!(
        mutating(&sandbox),
        before,
        "--dry-run changed something:\n{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    kirikae(
        &sandbox,
        &["deploy", "-c", config, "--image", "web=kirikae/demo:v4"],
        &[],
    );
    serves_only(&url, "v4");
    let _ = std::fs::remove_dir_all(&dir);
}
