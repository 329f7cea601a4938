//! The README's "Rehearse on the sandbox" commands, as written: a sandbox, `kirikae demo` against it
//! (which provisions examples/demo-stack.json), then `kirikae deploy -c examples/kirikae.yml` with the
//! endpoint and credentials from the environment only.

mod support;

use std::process::{Command, Output};

use support::{SandboxProcess, http_get};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/kirikae.yml");

fn kirikae(sandbox: &SandboxProcess, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kirikae"))
        .args(args)
        .env("AWS_ENDPOINT_URL", &sandbox.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .envs(env.iter().copied())
        .output()
        .expect("run kirikae");
    assert!(
        out.status.success(),
        "kirikae {args:?} exited {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_readme_rehearsal_deploys_the_examples_on_a_sandbox() {
    let sandbox = SandboxProcess::start();
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

    kirikae(
        &sandbox,
        &["deploy", "-c", EXAMPLES],
        &[("DEMO_VERSION", "v3")],
    );
    // The production listener the demo reported now serves v3 only.
    for _ in 0..10 {
        let (status, body) = http_get(&url).expect("production listener answers");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"v3\""), "{body}");
    }
}
