//! The gate's command: `sh -c COMMAND` in the config's directory, with the test listener's URL, the
//! deployment and the images in its environment; it passes by exiting 0 within its time.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::time::Instant;

use super::CommandResult;

/// How many of the command's last output lines the result keeps.
const TAIL: usize = 20;
/// After the command exits, how long its output may still take to arrive (a background child of the
/// script may hold the pipes open; it is not waited for).
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

/// Runs `command`; `env` is added to kirikae's own environment.
pub async fn run(
    command: &str,
    timeout: Duration,
    dir: &Path,
    env: &[(String, String)],
) -> CommandResult {
    let started = Instant::now();
    let result = |exit_code: Option<i32>,
                  timed_out: bool,
                  error: Option<String>,
                  tail: Vec<String>| CommandResult {
        command: command.to_string(),
        passed: exit_code == Some(0) && !timed_out && error.is_none(),
        exit_code,
        timed_out,
        error,
        output_tail: tail,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    let mut child = match tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // An interrupted or timed-out gate does not leave its command running.
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return result(
                None,
                false,
                Some(format!("cannot start sh: {e}")),
                Vec::new(),
            );
        }
    };
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL)));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(collect(out, tail.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(collect(err, tail.clone())));
    }
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let (exit_code, timed_out, error) = match waited {
        Ok(Ok(status)) => (status.code(), false, None),
        Ok(Err(e)) => (None, false, Some(format!("waiting for it failed: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            (None, true, None)
        }
    };
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout(OUTPUT_GRACE, r).await.is_err() {
            abort.abort();
        }
    }
    let tail: Vec<String> = tail
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect();
    result(exit_code, timed_out, error, tail)
}

async fn collect(stream: impl AsyncRead + Unpin, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == TAIL {
            t.pop_front();
        }
        t.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exit_status_output_and_environment() {
        let env = [("KIRIKAE_TEST_URL".to_string(), "http://t:8080".to_string())];
        let r = run(
            "echo url=$KIRIKAE_TEST_URL; echo oops >&2; exit 3",
            Duration::from_secs(30),
            Path::new("."),
            &env,
        )
        .await;
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.passed);
        assert!(
            r.output_tail.contains(&"url=http://t:8080".to_string()),
            "{r:?}"
        );
        assert!(r.output_tail.contains(&"oops".to_string()), "{r:?}");
        let ok = run("true", Duration::from_secs(30), Path::new("."), &[]).await;
        assert!(ok.passed, "{ok:?}");
    }

    #[tokio::test]
    async fn a_command_past_its_time_fails() {
        let r = run("sleep 30", Duration::from_millis(200), Path::new("."), &[]).await;
        assert!(r.timed_out && !r.passed, "{r:?}");
    }
}
