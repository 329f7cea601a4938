//! `kirikae demo` through the binary: the README's first command must show what it promises, at a high
//! time scale so it stays quick: a Blue/Green deploy under load with no failed request and nothing stale
//! after the switch; with `--fail`, a rollback with production left on v1.

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::SandboxProcess;

/// A finished `kirikae demo`.
struct Demo {
    code: i32,
    report: Value,
    stderr: String,
    svg: String,
    elapsed: Duration,
}

impl Demo {
    #[track_caller]
    fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "kirikae demo exited {} (expected {code}) after {:?}\n--- stderr\n{}\n--- report\n{:#}",
            self.code, self.elapsed, self.stderr, self.report
        );
        self
    }

    fn check(&self, name: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no check {name:?} in {:#}", self.report["checks"]))
    }
}

/// Runs `kirikae demo --output json ARGS` with the report written to a temp file.
fn demo(name: &str, args: &[&str]) -> Demo {
    let svg_path: PathBuf = std::env::temp_dir().join(format!(
        "kirikae-demo-test-{name}-{}.svg",
        std::process::id()
    ));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kirikae"))
        .arg("demo")
        .args(["--output", "json", "--report"])
        .arg(&svg_path)
        .args(args)
        // Nothing of the caller's AWS setup may matter to the demo.
        .env("AWS_PROFILE", "does-not-exist")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kirikae demo");
    let mut err_pipe = child.stderr.take().expect("stderr piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    let _ = child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_string(&mut stdout);
    let status = child.wait().expect("wait for kirikae demo");
    let stderr = err_thread.join().unwrap_or_default();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("stdout is not one JSON document ({e}):\n{stdout}\n--- stderr\n{stderr}")
    });
    let svg = std::fs::read_to_string(&svg_path).unwrap_or_default();
    let _ = std::fs::remove_file(&svg_path);
    Demo {
        code: status.code().unwrap_or(-1),
        report,
        stderr,
        svg,
        elapsed: started.elapsed(),
    }
}

#[test]
fn demo_switches_all_traffic_at_one_instant_without_a_failed_or_stale_request() {
    let run = demo("switch", &["--time-scale", "120"]);
    run.assert_exit(0);
    let r = &run.report;
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(r["result"], "succeeded");
    assert_eq!(r["v2"]["status"], "Succeeded");
    assert_eq!(r["v1"]["result"], "succeeded");
    assert_eq!(r["requests"]["failed"], 0, "{:#}", r["requests"]);
    assert_eq!(r["stale_after_switch"], 0);
    assert!(r["requests"]["by_version"]["v1"].as_u64().unwrap() > 0);
    assert!(r["requests"]["by_version"]["v2"].as_u64().unwrap() > 0);
    assert_eq!(r["last_version"], "v2");
    // While v2 deploys, the load is shown as it goes (timestamped lines off a terminal), ending on v2.
    let live: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("load: ") && l.contains("answering now"))
        .collect();
    assert!(
        live.last()
            .is_some_and(|l| l.ends_with("answering now: v2") && l.contains("0 failed")),
        "{}",
        run.stderr
    );
    // The switch: seen on the production listener, inside the load, after the change could happen.
    let switch = &r["switch"];
    let at = switch["at"].as_f64().expect("a switch instant");
    assert!(switch["not_before"].as_f64().unwrap() <= at, "{switch:#}");
    assert!(
        at > 0.0 && at < r["load"]["seconds"].as_f64().unwrap(),
        "{r:#}"
    );
    assert_eq!(switch["target_group"], "demo-green");
    assert!(
        switch["definition"]
            .as_str()
            .unwrap()
            .contains("DescribeListeners")
    );
    // Requests per second by version: blue alone first, green alone last.
    let buckets = r["series"]["buckets"].as_array().unwrap();
    assert_eq!(r["series"]["versions"][0], "v1");
    assert!(buckets.first().unwrap()["rps"][1] == 0.0, "{buckets:?}");
    assert!(buckets.last().unwrap()["rps"][0] == 0.0, "{buckets:?}");
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{:#}",
        r["checks"]
    );
    // For people: the chart, the timeline, the checks, the file.
    for part in [
        "requests per second by version",
        "AllowTraffic",
        "switch: at +",
        "stale: 0 responses from v1",
        "✓ the deploy did what it promised",
    ] {
        assert!(
            run.stderr.contains(part),
            "stderr lacks {part:?}:\n{}",
            run.stderr
        );
    }
    assert!(run.svg.starts_with("<svg") && run.svg.contains("switch +"));
    eprintln!("demo took {:?}", run.elapsed);
}

#[test]
fn demo_fail_rolls_back_and_production_stays_on_v1() {
    let run = demo("fail", &["--fail"]);
    run.assert_exit(1);
    let r = &run.report;
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(r["result"], "rolled_back");
    assert_eq!(r["v2"]["rollback"]["traffic_on_blue"], true);
    assert_eq!(r["requests"]["failed"], 0, "{:#}", r["requests"]);
    assert!(r["requests"]["by_version"].get("v2").is_none(), "{r:#}");
    assert_eq!(r["last_version"], "v1");
    assert!(r["switch"].is_null());
    assert_eq!(run.check("deployment")["ok"], true);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    eprintln!("demo --fail took {:?}", run.elapsed);
}

#[test]
fn demo_gate_passes_under_load_before_production_moves() {
    let run = demo("gate", &["--gate", "--time-scale", "120"]);
    run.assert_exit(0);
    let r = &run.report;
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(
        r["v2"]["gate"]["verdict"], "passed",
        "{:#}",
        r["v2"]["gate"]
    );
    assert_eq!(r["v2"]["gate"]["checks"][0]["requests"], 20);
    assert_eq!(r["v2"]["gate"]["checks"][0]["failures"], 0);
    let gate = run.check("gate");
    assert_eq!(gate["ok"], true, "{gate:#}");
    assert!(
        gate["actual"]
            .as_str()
            .unwrap()
            .ends_with("0 before the gate passed"),
        "{gate:#}"
    );
    assert_eq!(r["requests"]["failed"], 0, "{:#}", r["requests"]);
    assert_eq!(r["last_version"], "v2");
    for part in [
        "gate: checking green through the test listener",
        "✓ gate passed",
        "✓ the deploy did what it promised",
    ] {
        assert!(
            run.stderr.contains(part),
            "stderr lacks {part:?}:\n{}",
            run.stderr
        );
    }
}

#[test]
fn demo_on_a_running_sandbox_with_a_canary_twice() {
    let sandbox = SandboxProcess::start_scaled("120", &[]);
    // Twice on the same sandbox: the second run finds the stack and v2, and deploys v1 back first.
    for round in ["first", "second"] {
        let run = demo(
            &format!("canary-{round}"),
            &[
                "--endpoint-url",
                &sandbox.url,
                "--deployment-config",
                "canary",
            ],
        );
        run.assert_exit(0);
        let r = &run.report;
        assert_eq!(
            r["deployment_config"],
            "CodeDeployDefault.ECSCanary10Percent5Minutes"
        );
        assert_eq!(r["requests"]["failed"], 0, "{:#}", r["requests"]);
        assert_eq!(r["stale_after_switch"], 0);
        // The canary: 10% on green for a while, then all of it.
        let green = r["switch"]["target_group"].as_str().expect("a switch");
        let weights: Vec<f64> = r["listener"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["weights"][green].as_f64().unwrap_or(0.0))
            .collect();
        assert!(weights.contains(&10.0), "{weights:?}");
        assert_eq!(weights.last(), Some(&100.0), "{weights:?}");
        let v1_created = r["v1"]["service_created"] == true;
        assert_eq!(v1_created, round == "first", "{:#}", r["v1"]);
        eprintln!("demo (canary, {round} run) took {:?}", run.elapsed);
    }
}

#[test]
fn demo_on_the_ecs_controller_switches_under_load_without_a_failed_or_stale_request() {
    let run = demo("ecs", &["--controller", "ecs", "--time-scale", "120"]);
    run.assert_exit(0);
    let r = &run.report;
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(r["result"], "succeeded");
    // ECS ran it: a service deployment, not a CodeDeploy deployment.
    assert_eq!(r["v2"]["status"], "SUCCESSFUL", "{:#}", r["v2"]);
    assert!(
        r["v2"]["deployment_id"]
            .as_str()
            .is_some_and(|id| id.contains(":service-deployment/demo/web/")),
        "{:#}",
        r["v2"]
    );
    assert_eq!(r["requests"]["failed"], 0, "{:#}", r["requests"]);
    assert_eq!(r["stale_after_switch"], 0);
    assert!(r["requests"]["by_version"]["v1"].as_u64().unwrap() > 0);
    assert_eq!(r["last_version"], "v2");
    assert_eq!(run.check("deployment")["ok"], true, "{r:#}");
}

#[test]
fn demo_gate_on_the_ecs_controller_passes_at_the_pause_before_production_moves() {
    let run = demo(
        "ecs-gate",
        &["--controller", "ecs", "--gate", "--time-scale", "120"],
    );
    run.assert_exit(0);
    let r = &run.report;
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(r["v2"]["status"], "SUCCESSFUL", "{:#}", r["v2"]);
    assert_eq!(
        r["v2"]["gate"]["verdict"], "passed",
        "{:#}",
        r["v2"]["gate"]
    );
    assert_eq!(r["v2"]["gate"]["checks"][0]["failures"], 0);
    let gate = run.check("gate");
    assert_eq!(gate["ok"], true, "{gate:#}");
    assert!(
        gate["actual"]
            .as_str()
            .unwrap()
            .ends_with("0 before the gate passed"),
        "{gate:#}"
    );
    assert_eq!(r["requests"]["failed"], 0, "{:#}", r["requests"]);
    assert_eq!(r["stale_after_switch"], 0);
    assert_eq!(r["last_version"], "v2");
    assert!(
        run.stderr.contains("ContinueServiceDeployment CONTINUE"),
        "{}",
        run.stderr
    );
}
