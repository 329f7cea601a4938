//! The sandbox is safe to run by default: its API has no authentication and it starts processes, so it
//! listens on loopback only unless told otherwise, the processes it starts see nothing of the
//! operator's environment and cannot be hijacked through a task definition's, load balancers reach
//! only the sandbox's own tasks, and every resource that costs a process, an address or memory is
//! capped with the error AWS answers.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aws_sdk_codedeploy::types::{AppSpecContent, RevisionLocation, RevisionLocationType};
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ContainerDefinition, KeyValuePair, LaunchType, NetworkConfiguration,
};
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use support::sdk_stack::{build, load_balancer};
use support::{TIME_SCALE, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_kirikae");

/// What the operator's shell has and no task or hook may see.
const OPERATOR_ENV: &[(&str, &str)] = &[
    ("KIRIKAE_TEST_SECRET", "operator-secret-value"),
    ("AWS_ACCESS_KEY_ID", "AKIAOPERATORREALKEY"),
    ("AWS_SECRET_ACCESS_KEY", "operator-real-secret"),
    ("AWS_SESSION_TOKEN", "operator-session-token"),
    ("AWS_PROFILE", "operator-profile"),
    ("GITHUB_TOKEN", "ghp_operatortoken"),
];

/// A sandbox process with an environment of the test's choosing; its stderr (logs) goes to a file in
/// `dir`, which is removed with the sandbox.
struct Sandbox {
    child: Child,
    url: String,
    log: PathBuf,
    dir: PathBuf,
}

impl Sandbox {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Sandbox {
        let log = dir.join("sandbox.log");
        let mut child = Command::new(BIN)
            .args([
                "sandbox",
                "--listen",
                "127.0.0.1:0",
                "--time-scale",
                TIME_SCALE,
            ])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start kirikae sandbox");
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        let url = url.trim().to_string();
        assert!(url.starts_with("http://"), "sandbox printed {url:?}");
        Sandbox {
            child,
            url,
            log,
            dir: dir.to_path_buf(),
        }
    }

    async fn sdk_config(&self) -> aws_config::SdkConfig {
        let creds =
            aws_credential_types::Credentials::new("test", "test", None, None, "kirikae-tests");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&self.url)
            .load()
            .await
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kirikae-safety-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `NAME=value` lines of an `env` dump, once the dump has `complete_with`.
async fn env_dump(path: &Path, complete_with: &str) -> Vec<(String, String)> {
    let text = wait_for(&format!("{} to be written", path.display()), 60, || async {
        std::fs::read_to_string(path)
            .ok()
            .filter(|t| t.contains(complete_with))
    })
    .await;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Nothing of the operator's environment, by name or by value.
fn assert_no_operator_env(env: &[(String, String)], what: &str) {
    for (name, secret) in OPERATOR_ENV {
        if let Some(v) = value(env, name) {
            assert_ne!(&v, secret, "{what} sees the operator's {name}");
        }
        assert!(
            env.iter().all(|(_, v)| !v.contains(secret)),
            "{what} sees the value of the operator's {name}"
        );
    }
    for name in [
        "KIRIKAE_TEST_SECRET",
        "GITHUB_TOKEN",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        assert_eq!(value(env, name), None, "{what} sees {name}");
    }
}

fn network() -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets("subnet-a")
                .build()
                .unwrap(),
        )
        .build()
}

fn kv(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

#[test]
fn a_non_loopback_listen_address_needs_allow_remote() {
    let out = Command::new(BIN)
        .args(["sandbox", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for part in [
        "--listen 0.0.0.0:0 is not a loopback address",
        "no authentication",
        "--allow-remote",
    ] {
        assert!(stderr.contains(part), "{part:?} not in {stderr}");
    }
    assert!(out.stdout.is_empty(), "no URL is printed");

    // With the opt-in it serves, and warns.
    let mut child = Command::new(BIN)
        .args(["sandbox", "--listen", "0.0.0.0:0", "--allow-remote"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    assert!(url.starts_with("http://0.0.0.0:"), "{url}");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: listening on 0.0.0.0:0 (--allow-remote)")
            && stderr.contains("no authentication")
            && stderr.contains("can start processes"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_starts_from_a_clean_environment() {
    let dir = scratch("task");
    let dump = dir.join("task.env");
    let command = format!("example/env=env > {}; exec sleep 60", dump.display());
    let sandbox = Sandbox::start(&dir, &["--image-command", &command], OPERATOR_ENV);
    let ecs = aws_sdk_ecs::Client::new(&sandbox.sdk_config().await);
    ecs.create_cluster()
        .cluster_name("demo")
        .send()
        .await
        .unwrap();
    let environment = [
        kv("GREETING", "hello"),
        kv("LD_PRELOAD", "/nonexistent/evil.so"),
        kv("NODE_OPTIONS", "--require /nonexistent/evil.js"),
        kv("BASH_ENV", "/nonexistent/evil.sh"),
        kv("PYTHONWARNINGS", "all"),
    ];
    ecs.register_task_definition()
        .family("envdump")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("example/env:1")
                .essential(true)
                .set_environment(Some(environment.to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let run = ecs
        .run_task()
        .cluster("demo")
        .task_definition("envdump")
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .send()
        .await
        .unwrap();
    assert_eq!(run.tasks().len(), 1, "{run:?}");

    let env = env_dump(&dump, "GREETING=hello").await;
    assert_no_operator_env(&env, "the task");
    for dropped in ["LD_PRELOAD", "NODE_OPTIONS", "BASH_ENV", "PYTHONWARNINGS"] {
        assert_eq!(value(&env, dropped), None, "the task sees {dropped}");
    }
    // What the sandbox sets, and what programs need to run.
    assert!(
        value(&env, "HOST").is_some_and(|h| h.starts_with("127.")),
        "{env:?}"
    );
    assert!(value(&env, "KIRIKAE_TASK_ARN").is_some(), "{env:?}");
    assert!(value(&env, "PATH").is_some(), "{env:?}");
    assert_eq!(value(&env, "AWS_CONFIG_FILE"), Some("/dev/null"));
    assert_eq!(
        value(&env, "AWS_SHARED_CREDENTIALS_FILE"),
        Some("/dev/null")
    );
    assert_eq!(value(&env, "AWS_EC2_METADATA_DISABLED"), Some("true"));

    // Each dropped variable is logged by name, once for the task definition, never with its value.
    let logs = sandbox.logs();
    assert!(
        logs.contains("LD_PRELOAD") && logs.contains("NODE_OPTIONS"),
        "{logs}"
    );
    assert!(
        !logs.contains("/nonexistent/evil"),
        "a dropped value was logged: {logs}"
    );
    assert_eq!(
        logs.matches("variable LD_PRELOAD").count(),
        1,
        "logged once: {logs}"
    );
}

/// An AppSpecContent revision for `task_definition` whose BeforeInstall hook is Lambda `envdump`.
fn revision_with_hook(task_definition: &str) -> RevisionLocation {
    let content = serde_json::json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}],
        "Hooks": [{"BeforeInstall": "envdump"}]
    })
    .to_string();
    RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(content).build())
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_starts_from_a_clean_environment_and_reaches_only_the_sandbox() {
    let dir = scratch("hook");
    let dump = dir.join("hook.env");
    let hook = format!("envdump=env > {}", dump.display());
    let mut env = OPERATOR_ENV.to_vec();
    env.push(("LD_PRELOAD", ""));
    let sandbox = Sandbox::start(&dir, &["--hook", &hook], &env);
    let config = sandbox.sdk_config().await;
    let stack = build(&config).await;
    let cd = aws_sdk_codedeploy::Client::new(&config);
    cd.create_application()
        .application_name("app")
        .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Ecs)
        .send()
        .await
        .unwrap();
    support::sdk_stack::create_deployment_group(&cd, &stack, "app", "dg").await;
    let td = support::sdk_stack::register_demo(&stack.ecs, "v2").await;
    cd.create_deployment()
        .application_name("app")
        .deployment_group_name("dg")
        .revision(revision_with_hook(&td))
        .send()
        .await
        .unwrap();

    let env = env_dump(&dump, "KIRIKAE_HOOK_PAYLOAD=").await;
    assert_no_operator_env(&env, "the hook");
    assert_eq!(value(&env, "LD_PRELOAD"), None, "the hook sees LD_PRELOAD");
    // Its AWS clients reach the sandbox, in the deployment's account and region, with dummy keys.
    assert_eq!(value(&env, "AWS_ENDPOINT_URL"), Some(sandbox.url.as_str()));
    assert_eq!(value(&env, "AWS_ACCESS_KEY_ID"), Some("test"));
    assert_eq!(value(&env, "AWS_SECRET_ACCESS_KEY"), Some("test"));
    assert_eq!(value(&env, "AWS_REGION"), Some("us-east-1"));
    assert_eq!(value(&env, "AWS_CONFIG_FILE"), Some("/dev/null"));
    assert_eq!(
        value(&env, "AWS_SHARED_CREDENTIALS_FILE"),
        Some("/dev/null")
    );
    assert!(value(&env, "PATH").is_some(), "{env:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn targets_outside_the_sandbox_are_refused() {
    let dir = scratch("targets");
    let sandbox = Sandbox::start(&dir, &[], &[]);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sandbox.sdk_config().await);
    let lb = load_balancer(&elb, "web", &[(8081, 0)], None).await;
    let blue = &lb.target_groups[0];
    let octets: Vec<&str> = lb.dns.split('.').collect();
    assert_eq!(octets[0], "127", "{}", lb.dns);
    let block = octets[1];

    for outside in [
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "8.8.8.8",
        "127.0.0.1",
        "0.0.0.0",
        "::1",
        lb.dns.as_str(),
    ] {
        let err = elb
            .register_targets()
            .target_group_arn(blue)
            .targets(TargetDescription::builder().id(outside).port(80).build())
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_invalid_target_exception()),
            "{outside}: {err:?}"
        );
    }
    let health = elb
        .describe_target_health()
        .target_group_arn(blue)
        .send()
        .await
        .unwrap();
    assert!(health.target_health_descriptions().is_empty());

    // An address of the sandbox's own block (where its tasks live) is accepted.
    let inside = format!("127.{block}.200.1");
    elb.register_targets()
        .target_group_arn(blue)
        .targets(TargetDescription::builder().id(&inside).port(80).build())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn caps_answer_aws_errors() {
    let dir = scratch("caps");
    let sandbox = Sandbox::start(&dir, &[], &[]);
    let config = sandbox.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    ecs.create_cluster()
        .cluster_name("demo")
        .send()
        .await
        .unwrap();
    let td = support::sdk_stack::register_demo(&ecs, "v1").await;

    // desiredCount.
    let err = ecs
        .create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition(&td)
        .desired_count(101)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_invalid_parameter_exception()),
        "{err:?}"
    );
    assert!(
        err.as_service_error()
            .and_then(|e| e.message())
            .is_some_and(|m| m.contains("limit of 100 tasks per service")),
        "{err:?}"
    );

    // Request size: 1 MiB.
    let err = ecs
        .register_task_definition()
        .family("huge")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("kirikae/demo:v1")
                .environment(kv("BIG", &"x".repeat(2 << 20)))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(413), "{err:?}");
    assert_eq!(
        err.as_service_error().and_then(|e| e.code()),
        Some("RequestEntityTooLarge"),
        "{err:?}"
    );

    // Load balancers: AWS's default quota of 50 per account and region.
    for i in 0..50 {
        elb.create_load_balancer()
            .name(format!("lb-{i}"))
            .subnets("subnet-a")
            .send()
            .await
            .unwrap();
    }
    let err = elb
        .create_load_balancer()
        .name("lb-50")
        .subnets("subnet-a")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_too_many_load_balancers_exception()),
        "{err:?}"
    );
}

/// The status of a raw HTTP/1.1 POST to the sandbox with the given extra headers.
fn raw_post(url: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    use std::io::Write;
    let addr = url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut req = format!(
        "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Type: application/x-www-form-urlencoded\r\n\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn web_pages_cannot_call_the_api() {
    let dir = scratch("browsers");
    let sandbox = Sandbox::start(&dir, &[], &[]);
    let host = sandbox.url.strip_prefix("http://").unwrap().to_string();
    let port = host.rsplit_once(':').unwrap().1;
    // An awsQuery call is a form POST, which any web page can send without a CORS preflight.
    let call = "Action=DescribeLoadBalancers&Version=2015-12-01";
    assert_eq!(raw_post(&sandbox.url, &[("Host", &host)], call), 200);
    let localhost = format!("localhost:{port}");
    assert_eq!(raw_post(&sandbox.url, &[("Host", &localhost)], call), 200);
    // A page on another site: its browser says where it comes from.
    assert_eq!(
        raw_post(
            &sandbox.url,
            &[("Host", &host), ("Origin", "https://evil.example")],
            call
        ),
        403
    );
    // A DNS-rebinding page reaches the loopback port under its own name.
    let rebound = format!("evil.example:{port}");
    assert_eq!(raw_post(&sandbox.url, &[("Host", &rebound)], call), 403);
}
