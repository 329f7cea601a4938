//! A small builder so `kirikae deploy` tests read like a spec:
//!
//! ```ignore
//! let stack = Stack::new().await;                       // sandbox + cluster, ALB, two target groups, listeners 80/8080
//! let run = stack.project().image("v2").deploy(&[]);    // kirikae.yml + definitions in a temp dir, the real binary
//! run.assert_exit(0);
//! ```
//!
//! Everything is real: the `kirikae` binary, a `kirikae sandbox` process, HTTP through its listeners. The
//! surrounding infrastructure is provisioned with the AWS SDK for Rust, as a user's Terraform would.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const CLUSTER: &str = "demo";
pub const SERVICE: &str = "web";
pub const BLUE: &str = "web-blue";
pub const GREEN: &str = "web-green";
pub const LB: &str = "web-alb";

#[path = "../support/mod.rs"]
mod support;
pub use support::{SandboxProcess as Sandbox, http_get};

/// A sandbox with what a team has before adopting kirikae: an ECS cluster, an ALB with a production (80)
/// and a test (8080) listener, both forwarding to the first of two `ip` target groups.
pub struct Stack {
    pub sandbox: Sandbox,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub dns: String,
    pub prod_listener: String,
    pub test_listener: String,
    pub target_groups: Vec<String>,
}

impl Stack {
    pub async fn new() -> Stack {
        Self::with_time_scale("60").await
    }

    pub async fn with_time_scale(scale: &str) -> Stack {
        Self::with_sandbox(scale, &[]).await
    }

    /// A stack on a sandbox started with extra arguments (e.g. `--hook FUNCTION=COMMAND`).
    pub async fn with_sandbox(scale: &str, extra: &[&str]) -> Stack {
        let sandbox = Sandbox::start_scaled(scale, extra);
        let creds =
            aws_credential_types::Credentials::new("test", "test", None, None, "kirikae-tests");
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&sandbox.url)
            // Patient enough for a sandbox started with `--throttle-above`.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
            .load()
            .await;
        let ecs = aws_sdk_ecs::Client::new(&config);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let codedeploy = aws_sdk_codedeploy::Client::new(&config);
        ecs.create_cluster()
            .cluster_name(CLUSTER)
            .send()
            .await
            .expect("create cluster");
        let net =
            support::sdk_stack::load_balancer(&elb, SERVICE, &[(80, 0), (8080, 0)], None).await;
        Stack {
            dns: net.dns,
            prod_listener: net.listeners[0].clone(),
            test_listener: net.listeners[1].clone(),
            sandbox,
            ecs,
            elb,
            codedeploy,
            target_groups: net.target_groups,
        }
    }

    /// Another load balancer (`{name}-alb`, listeners 80 and 8080) and target group pair
    /// (`{name}-blue`, `{name}-green`), for a second service; returns the load balancer's DNS name.
    pub async fn add_load_balancer(&self, name: &str) -> String {
        support::sdk_stack::load_balancer(&self.elb, name, &[(80, 0), (8080, 0)], None)
            .await
            .dns
    }

    /// A project for service `name` behind `add_load_balancer(name)`.
    pub fn project_for(&self, name: &str) -> Project {
        self.project()
            .config("/service", json!(name))
            .config(
                "/codedeploy/target_groups",
                json!([format!("{name}-blue"), format!("{name}-green")]),
            )
            .config(
                "/codedeploy/production_listener",
                json!({"load_balancer": format!("{name}-alb"), "port": 80}),
            )
            .config(
                "/codedeploy/test_listener",
                json!({"load_balancer": format!("{name}-alb"), "port": 8080}),
            )
            .task("/family", json!(name))
    }

    /// API calls that changed something, so far.
    pub fn mutating_calls(&self) -> u64 {
        self.sandbox.calls()["mutating"]
            .as_u64()
            .expect("mutating count")
    }

    /// How often `service.Operation` was called.
    pub fn calls_of(&self, op: &str) -> u64 {
        self.sandbox.calls()["calls"][op].as_u64().unwrap_or(0)
    }

    /// The demo app's version answering on `dns:port`.
    pub fn version_at(dns: &str, port: u16) -> Option<String> {
        let (status, body) = http_get(&format!("http://{dns}:{port}/")).ok()?;
        let v: Value = serde_json::from_str(&body).ok().filter(|_| status == 200)?;
        v["version"].as_str().map(str::to_string)
    }

    /// GET / through a listener.
    pub fn get(&self, port: u16) -> (u16, String) {
        http_get(&format!("http://{}:{port}/", self.dns)).unwrap_or((0, String::new()))
    }

    /// The demo app's version answering on a listener (`None` when it does not answer 200).
    pub fn version_on(&self, port: u16) -> Option<String> {
        let (status, body) = self.get(port);
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).ok()?;
        v["version"].as_str().map(str::to_string)
    }

    /// A project (config + definitions) for service `web` with image `kirikae/demo:v1`.
    pub fn project(&self) -> Project {
        Project::new(&self.sandbox.url)
    }
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// `kirikae.yml`, `task-definition.json` and `service-definition.json` in a directory of their own.
pub struct Project {
    pub dir: PathBuf,
    pub config: Value,
    pub task: Value,
    pub service: Value,
    raw: BTreeMap<String, String>,
    env: Vec<(String, String)>,
    unset: Vec<String>,
    endpoint: String,
}

impl Project {
    fn new(endpoint: &str) -> Project {
        let dir = std::env::temp_dir().join(format!(
            "kirikae-deploy-test-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Project {
            dir,
            config: json!({
                "cluster": CLUSTER,
                "service": SERVICE,
                "task_definition": "task-definition.json",
                "service_definition": "service-definition.json",
                "codedeploy": {
                    "service_role": "arn:aws:iam::000000000000:role/ecsCodeDeployRole",
                    "target_groups": [BLUE, GREEN],
                    "production_listener": {"load_balancer": LB, "port": 80},
                    "test_listener": {"load_balancer": LB, "port": 8080},
                    "termination_wait_minutes": 2
                }
            }),
            task: json!({
                "family": "web",
                "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [{
                    "name": "web",
                    "image": "kirikae/demo:v1",
                    "essential": true,
                    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]
                }]
            }),
            service: json!({
                "desiredCount": 2,
                "launchType": "FARGATE",
                "loadBalancers": [{"containerName": "web", "containerPort": 8080}],
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"], "assignPublicIp": "DISABLED"}}
            }),
            raw: BTreeMap::new(),
            env: Vec::new(),
            unset: Vec::new(),
            endpoint: endpoint.to_string(),
        }
    }

    /// Sets a config value by JSON pointer (`/codedeploy/termination_wait_minutes`); `null` removes it.
    pub fn config(mut self, pointer: &str, v: Value) -> Self {
        set(&mut self.config, pointer, v);
        self
    }

    pub fn task(mut self, pointer: &str, v: Value) -> Self {
        set(&mut self.task, pointer, v);
        self
    }

    pub fn service(mut self, pointer: &str, v: Value) -> Self {
        set(&mut self.service, pointer, v);
        self
    }

    /// The image tag of the only container.
    pub fn image(self, tag: &str) -> Self {
        self.task(
            "/containerDefinitions/0/image",
            json!(format!("kirikae/demo:{tag}")),
        )
    }

    /// Replaces a file's content verbatim (for malformed files and templates).
    pub fn raw(mut self, file: &str, text: &str) -> Self {
        self.raw.insert(file.to_string(), text.to_string());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Removes a variable from the deploy's environment (after the defaults are set).
    pub fn unset(mut self, key: &str) -> Self {
        self.unset.push(key.to_string());
        self
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes the files (done by `deploy` too); for passing this project's config to another run.
    pub fn write(&self) {
        // JSON is YAML: kirikae.yml is written as JSON so tests can build it as a value.
        let files = [
            (
                "kirikae.yml",
                serde_json::to_string_pretty(&self.config).unwrap(),
            ),
            (
                "task-definition.json",
                serde_json::to_string_pretty(&self.task).unwrap(),
            ),
            (
                "service-definition.json",
                serde_json::to_string_pretty(&self.service).unwrap(),
            ),
        ];
        for (name, text) in files {
            let text = self.raw.get(name).cloned().unwrap_or(text);
            std::fs::write(self.dir.join(name), text).expect("write project file");
        }
        for (name, text) in &self.raw {
            std::fs::write(self.dir.join(name), text).expect("write project file");
        }
    }

    /// Runs `kirikae deploy -c <dir>/kirikae.yml ARGS` against the sandbox (endpoint from
    /// AWS_ENDPOINT_URL, test credentials) and waits for it.
    pub fn deploy(&self, args: &[&str]) -> Run {
        self.spawn(args).wait()
    }

    /// `kirikae SUBCOMMAND` as a user runs it against the sandbox (endpoint from AWS_ENDPOINT_URL, test
    /// credentials, no profile, no colour), with the project's files written and its environment set.
    pub fn kirikae(&self, subcommand: &str) -> Command {
        self.write();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kirikae"));
        cmd.arg(subcommand)
            .env_remove("AWS_PROFILE")
            .env_remove("GITHUB_OUTPUT")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for k in &self.unset {
            cmd.env_remove(k);
        }
        cmd
    }

    /// Starts `kirikae deploy` without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut cmd = self.kirikae("deploy");
        cmd.arg("-c")
            .arg(self.dir.join("kirikae.yml"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        Running {
            child: cmd.spawn().expect("run kirikae deploy"),
            started,
            args: args.join(" "),
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn set(doc: &mut Value, pointer: &str, v: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let parent = if parent.is_empty() {
        &mut *doc
    } else {
        doc.pointer_mut(parent)
            .unwrap_or_else(|| panic!("no {parent}"))
    };
    match parent {
        Value::Object(map) => {
            if v.is_null() {
                map.remove(key);
            } else {
                map.insert(key.to_string(), v);
            }
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = v,
        other => panic!("cannot set {pointer} in {other}"),
    }
}

pub struct Running {
    pub child: Child,
    started: Instant,
    args: String,
}

impl Running {
    pub fn wait(mut self) -> Run {
        let mut stdout = String::new();
        let mut stderr = String::new();
        // Read both pipes to the end (stderr on a thread so neither can fill up and block the child).
        let mut err_pipe = self.child.stderr.take().expect("stderr piped");
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err_pipe.read_to_string(&mut s);
            s
        });
        let _ = self
            .child
            .stdout
            .take()
            .expect("stdout piped")
            .read_to_string(&mut stdout);
        stderr.push_str(&err_thread.join().unwrap_or_default());
        let status = self.child.wait().expect("wait for kirikae deploy");
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
            elapsed: self.started.elapsed(),
            args: self.args,
        }
    }

    /// Sends SIGINT (Ctrl-C).
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Sends a signal (e.g. `libc::SIGTERM`, what CI systems send to cancel a job).
    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

/// A finished `kirikae deploy`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    args: String,
}

impl Run {
    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "kirikae deploy {} exited {} (expected {code})\n--- stderr\n{}\n--- stdout\n{}",
            self.args, self.code, self.stderr, self.stdout
        );
        self
    }

    /// stderr contains every one of `parts`.
    #[track_caller]
    pub fn assert_says(&self, parts: &[&str]) -> &Self {
        for p in parts {
            assert!(
                self.stderr.contains(p),
                "stderr lacks {p:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    /// The JSON document on stdout.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// A local HTTP receiver for webhooks: records every request body; answers `status`.
pub struct Receiver {
    pub url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receiver {
    pub fn start(status: u16) -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!(
            "http://{}/hook/secret-token-123",
            listener.local_addr().unwrap()
        );
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if let Some(body) = read_request(&mut stream) {
                    sink.lock().unwrap().push(body);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { url, bodies }
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| serde_json::from_str(b).expect("a JSON body"))
            .collect()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

/// Poll `check` every 100 ms until it returns `Some`, or panic naming `what` after `secs` seconds.
pub fn wait_for<T>(what: &str, secs: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `key=value` lines a run wrote to `$GITHUB_OUTPUT` (the last value of each key).
pub fn step_outputs(path: &Path) -> BTreeMap<String, String> {
    read(path)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Runs a future to completion from sync test code inside the multi-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}
