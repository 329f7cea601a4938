//! The built-in demo app that image `kirikae/demo:<tag>` runs: `GET /` answers 200 with its version
//! and task id, `GET /health` answers 200. Faults to rehearse come from the container environment:
//! `DEMO_HEALTH=fail` (health checks answer 500), `DEMO_START_DELAY=<s>` (listen only after that long),
//! `DEMO_CRASH_AFTER=<s>` (exit 1 after that long). Delays are AWS seconds on the sandbox clock.
//!
//! With a command (a container's `command`, e.g. RunTask's override for a one-off task such as a
//! database migration), it serves nothing and runs that command instead ([`run_command`]): `exit N`
//! says so and exits with N, to rehearse a task that passes or fails.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;

#[derive(Debug, thiserror::Error)]
pub enum DemoAppError {
    #[error("environment variable {0} is required (the sandbox sets it when it starts a task)")]
    MissingEnv(&'static str),
    #[error("{name}={value} is not valid: {reason}")]
    BadEnv {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

struct Settings {
    bind: SocketAddr,
    tag: String,
    task_id: String,
    health_fails: bool,
    start_delay: Duration,
    crash_after: Option<Duration>,
}

fn env(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn seconds(name: &'static str, scale: f64) -> Result<Option<Duration>, DemoAppError> {
    let Some(value) = env(name) else {
        return Ok(None);
    };
    let secs: f64 = value
        .parse()
        .map_err(|e: std::num::ParseFloatError| DemoAppError::BadEnv {
            name,
            value: value.clone(),
            reason: e.to_string(),
        })?;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(DemoAppError::BadEnv {
            name,
            value,
            reason: "must be a non-negative number of seconds".into(),
        });
    }
    Ok(Some(Duration::from_secs_f64(secs / scale)))
}

fn settings() -> Result<Settings, DemoAppError> {
    let bind_s = env("KIRIKAE_BIND").ok_or(DemoAppError::MissingEnv("KIRIKAE_BIND"))?;
    let bind = bind_s
        .parse()
        .map_err(|e: std::net::AddrParseError| DemoAppError::BadEnv {
            name: "KIRIKAE_BIND",
            value: bind_s.clone(),
            reason: e.to_string(),
        })?;
    let scale: f64 = env("KIRIKAE_TIME_SCALE")
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0);
    let health_fails = match env("DEMO_HEALTH").as_deref() {
        None | Some("ok") | Some("pass") => false,
        Some("fail") => true,
        Some(other) => {
            return Err(DemoAppError::BadEnv {
                name: "DEMO_HEALTH",
                value: other.into(),
                reason: "use `fail` (or `ok`)".into(),
            });
        }
    };
    Ok(Settings {
        bind,
        tag: env("KIRIKAE_DEMO_TAG").unwrap_or_else(|| "latest".into()),
        task_id: env("KIRIKAE_TASK_ID").unwrap_or_default(),
        health_fails,
        start_delay: seconds("DEMO_START_DELAY", scale)?.unwrap_or_default(),
        crash_after: seconds("DEMO_CRASH_AFTER", scale)?,
    })
}

/// Run the demo app until it crashes on purpose (exit code 1) or is killed.
pub async fn run() -> Result<std::process::ExitCode, DemoAppError> {
    let s = settings()?;
    if let Some(after) = s.crash_after {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            eprintln!("DEMO_CRASH_AFTER reached: exiting with an error");
            std::process::exit(1);
        });
    }
    tokio::time::sleep(s.start_delay).await;
    let listener = tokio::net::TcpListener::bind(s.bind)
        .await
        .map_err(|source| DemoAppError::Bind {
            addr: s.bind,
            source,
        })?;
    let body_root = Bytes::from(format!(
        "{{\"app\":\"kirikae/demo\",\"version\":\"{}\",\"task\":\"{}\"}}\n",
        s.tag, s.task_id
    ));
    let health_fails = s.health_fails;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let body_root = body_root.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let body_root = body_root.clone();
                async move { Ok::<_, Infallible>(answer(&req, body_root, health_fails)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(req: &Request<Incoming>, body_root: Bytes, health_fails: bool) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/health" if health_fails => (500, Bytes::from_static(b"unhealthy (DEMO_HEALTH=fail)\n")),
        "/health" => (200, Bytes::from_static(b"ok\n")),
        _ => (200, body_root),
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).expect("static status");
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// What the demo image does with a command (Docker's CMD), as a one-off task: `exit N` prints what it
/// does and exits with N. Any other command is unknown to the image and exits 127, as a shell does
/// for a command it cannot find.
pub fn run_command(command: &[String]) -> std::process::ExitCode {
    match command {
        [verb, code] if verb == "exit" => match code.parse::<u8>() {
            Ok(code) => {
                println!("kirikae/demo: exit {code}");
                std::process::ExitCode::from(code)
            }
            Err(_) => {
                eprintln!("kirikae/demo: exit needs a code from 0 to 255, not `{code}`");
                std::process::ExitCode::from(2)
            }
        },
        _ => {
            eprintln!(
                "kirikae/demo: unknown command `{}`: the demo image runs `exit N` (a one-off task that ends with code N)",
                command.join(" ")
            );
            std::process::ExitCode::from(127)
        }
    }
}
