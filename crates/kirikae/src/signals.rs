//! Signals that end a run: SIGINT (Ctrl-C), SIGTERM (what GitLab, Jenkins, Kubernetes and GitHub send
//! to cancel a job) and SIGHUP (a closed terminal) all do the same. The first stops the waiting (the
//! run reports and exits 128 + the signal's number: 130, 143, 129); a deployment already started goes
//! on in AWS — unless `--on-interrupt rollback`, when the run first stops it with rollback and follows
//! the rollback (kirikae_engine::policy). A second exits at once, still writing the outputs.

use std::sync::Arc;

use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::policy::OnStop;
use tokio::signal::unix::{SignalKind, signal};

use crate::report::Report;

/// What the first signal does, said when it arrives (`--on-interrupt`).
pub fn first_said(policy: OnStop) -> &'static str {
    match policy {
        OnStop::Leave => {
            "stopping the wait (the deployment, if one started, goes on in AWS); signal again to exit at once"
        }
        OnStop::Rollback => {
            "stopping the wait; --on-interrupt rollback: a running deployment is stopped with rollback and the rollback followed to its end; signal again to exit at once (the rollback goes on in AWS)"
        }
    }
}

/// Listens for the signals for the rest of the process's life, saying `first` (see [`first_said`]) on
/// the first.
pub fn spawn(interrupt: Interrupt, report: Arc<Report>, first: &'static str) {
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot listen for signals: they end the process at once");
            return;
        };
        let mut next = async || {
            tokio::select! {
                _ = int.recv() => ("SIGINT", 130u8),
                _ = term.recv() => ("SIGTERM", 143),
                _ = hup.recv() => ("SIGHUP", 129),
            }
        };
        let (name, code) = next().await;
        eprintln!("{name}: {first}");
        interrupt.raise(code);
        let (name, _) = next().await;
        eprintln!("{name} again: exiting now");
        report.exit_now(interrupt.exit_code());
    });
}
