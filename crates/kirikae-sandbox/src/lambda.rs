//! Lambda functions, as the sandbox runs them: it has no Lambda, so `kirikae sandbox --hook NAME=TARGET`
//! maps a function (by name or ARN, see [`crate::codedeploy::HookConfig`]) to a local command or an
//! `http://` URL. Invoking one sends the payload (the command gets it on stdin and in
//! `KIRIKAE_HOOK_PAYLOAD`, with `AWS_ENDPOINT_URL` and dummy credentials that land in the same account
//! and region, in an environment as clean as a task's: see `runtime::env`; the URL gets it POSTed) and
//! returns the function's response: the command's stdout, or the response body. A command that exits
//! non-zero, or an HTTP error status, is a function error.
//!
//! Both CodeDeploy's AppSpec hooks (which ignore the response and report through
//! PutLifecycleEventHookExecutionStatus) and ECS's lifecycle hooks (whose response is the hook's
//! status) invoke functions through here.

use std::process::Stdio;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::io::AsyncWriteExt;

use crate::protocol::DEFAULT_ACCOUNT;
use crate::runtime::env;
use crate::world::{RegionKey, Shared};

/// The largest response the sandbox reads from a function (Lambda's synchronous response limit is 6 MB).
const MAX_RESPONSE: usize = 6 * 1024 * 1024;

/// Invoke the function mapped to `target` with `payload`, as a function of `region`'s account; returns
/// its response.
pub async fn invoke(
    shared: &Shared,
    region: &RegionKey,
    target: &str,
    payload: &str,
) -> Result<Vec<u8>, String> {
    if target.starts_with("http://") {
        post(target, payload).await
    } else if target.starts_with("https://") {
        Err(
            "https:// hook URLs are not supported by the kirikae sandbox; use http:// or a command"
                .into(),
        )
    } else {
        command(shared, region, target, payload).await
    }
}

async fn post(target: &str, payload: &str) -> Result<Vec<u8>, String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = http::Request::post(target)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(payload.to_string())))
        .map_err(|e| format!("invalid URL: {e}"))?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("POST {target} failed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("POST {target} answered HTTP {}", resp.status()));
    }
    let body = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| format!("reading the answer of POST {target} failed: {e}"))?;
    Ok(body.to_bytes().to_vec())
}

async fn command(
    shared: &Shared,
    region: &RegionKey,
    target: &str,
    payload: &str,
) -> Result<Vec<u8>, String> {
    let access_key = if region.account == DEFAULT_ACCOUNT {
        "test"
    } else {
        region.account.as_str()
    };
    let mut cmd = tokio::process::Command::new("/bin/sh");
    // A clean environment, like task processes': nothing of the operator's (AWS credentials, tokens)
    // reaches the hook; its AWS clients can only reach the sandbox.
    cmd.arg("-c")
        .arg(target)
        .env_clear()
        .envs(env::inherited())
        .envs(env::NO_REAL_AWS.iter().copied())
        .env("KIRIKAE_HOOK_PAYLOAD", payload)
        .env("AWS_ENDPOINT_URL", &shared.hooks.endpoint_url)
        .env("AWS_REGION", &region.region)
        .env("AWS_DEFAULT_REGION", &region.region)
        // A 12-digit access key id names the account to the sandbox; the hook must call back into the
        // account and region its deployment runs in.
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Die with the sandbox, like task processes.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{target}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores stdin may exit before reading it; that is not an error.
        let _ = stdin.write_all(payload.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("waiting for `{target}`: {e}"))?;
    if out.status.success() {
        let mut stdout = out.stdout;
        stdout.truncate(MAX_RESPONSE);
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stderr
        .trim()
        .chars()
        .rev()
        .take(500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let status = out
        .status
        .code()
        .map_or_else(|| "a signal".to_string(), |c| format!("exit status {c}"));
    Err(if tail.is_empty() {
        format!("the command ended with {status}")
    } else {
        format!("the command ended with {status}: {tail}")
    })
}
