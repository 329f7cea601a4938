//! Test support: a real `kirikae sandbox` process and SDK clients pointed at it. Tests drive the real
//! binary and the real AWS SDK over HTTP; nothing is mocked.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod sdk_stack;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const TIME_SCALE: &str = "60";

/// A sandbox process, stopped (SIGTERM) when dropped.
pub struct SandboxProcess {
    child: Child,
    pub url: String,
}

impl SandboxProcess {
    pub fn start() -> SandboxProcess {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> SandboxProcess {
        Self::start_scaled(TIME_SCALE, extra)
    }

    /// A sandbox at `time_scale`, started with extra arguments (e.g. `--hook FUNCTION=COMMAND`). Its
    /// logs are dropped unless KIRIKAE_TEST_SANDBOX_LOGS is set (tests start many sandboxes).
    pub fn start_scaled(time_scale: &str, extra: &[&str]) -> SandboxProcess {
        let logs = if std::env::var_os("KIRIKAE_TEST_SANDBOX_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_kirikae"))
            .args([
                "sandbox",
                "--listen",
                "127.0.0.1:0",
                "--time-scale",
                time_scale,
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(logs)
            .spawn()
            .expect("start kirikae sandbox");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout piped"))
            .read_line(&mut line)
            .expect("read sandbox URL");
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://"),
            "sandbox printed {url:?} instead of its URL"
        );
        SandboxProcess { child, url }
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        }
        self.child.wait().ok().and_then(|s| s.code())
    }

    /// The SDK configuration every client of this sandbox uses: fixed test credentials, explicit region
    /// (so nothing probes IMDS), the sandbox as endpoint, short retry back-off.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let creds =
            aws_credential_types::Credentials::new("test", "test", None, None, "kirikae-tests");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&self.url)
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_initial_backoff(std::time::Duration::from_millis(50)),
            )
            .load()
            .await
    }

    /// `/_kirikae/calls`: API calls answered so far.
    pub fn calls(&self) -> serde_json::Value {
        let body = http_get(&format!("{}/_kirikae/calls", self.url))
            .expect("calls endpoint")
            .1;
        serde_json::from_str(&body).expect("calls endpoint answers JSON")
    }

    /// `POST /_kirikae/faults`: injects a fault; answers it as the sandbox stored it (with its `id`).
    pub fn fault(&self, spec: serde_json::Value) -> serde_json::Value {
        let url = format!("{}/_kirikae/faults", self.url);
        let (status, body) = http_send("POST", &url, &spec.to_string()).expect("faults endpoint");
        assert_eq!(status, 200, "fault {spec} refused: {body}");
        serde_json::from_str(&body).expect("faults endpoint answers JSON")
    }

    /// `GET /_kirikae/faults`: `{"faults": [{id, action, …, fired, active}, …]}`.
    pub fn faults(&self) -> serde_json::Value {
        let body = http_get(&format!("{}/_kirikae/faults", self.url))
            .expect("faults endpoint")
            .1;
        serde_json::from_str(&body).expect("faults endpoint answers JSON")
    }

    /// `DELETE /_kirikae/faults`: clears every fault.
    pub fn clear_faults(&self) {
        let url = format!("{}/_kirikae/faults", self.url);
        let (status, body) = http_send("DELETE", &url, "").expect("faults endpoint");
        assert_eq!(status, 200, "clearing faults: {body}");
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal HTTP/1.1 GET (tests must not depend on the code under test to talk HTTP).
pub fn http_get(url: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A minimal HTTP/1.1 request with a body (POST/DELETE to the sandbox's `/_kirikae/*`).
pub fn http_send(method: &str, url: &str, body: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Poll `check` every 100 ms until it returns `Some`, or panic naming `what` after `secs` seconds.
pub async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
