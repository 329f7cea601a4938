//! `--on-interrupt rollback` / `--on-timeout rollback` on a native service deployment, as
//! [`crate::policy`] does it on CodeDeploy: when the wait stops on a signal or the deadline while the
//! service deployment still runs, roll it back with the ECS call that fits where it is, then follow the
//! rollback to its end (with a poller of its own: the run's interrupt is raised already) before exiting.
//!
//! - paused at a PAUSE hook awaiting action: `ContinueServiceDeployment` with action ROLLBACK on that
//!   hook (the documented way to reject a pause; the hook ends FAILED rather than left awaiting);
//! - otherwise (or if the pause ended meanwhile): `StopServiceDeployment` with stopType ROLLBACK, which
//!   ECS accepts while the deployment is PENDING or IN_PROGRESS, "even if you didn't configure the
//!   service deployment for the rollback option";
//! - already rolling back (ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS): ECS's rollback is followed;
//! - already ended: AWS's verdict stands, nothing is called.

use aws_sdk_ecs::types::{DeploymentLifecycleHookAction, ServiceDeploymentStatus};
use tokio::time::Instant;

use super::operate;
use crate::connection::Clients;
use crate::interrupt::Interrupt;
use crate::policy::{Applied, OnStop, Policy, ROLLBACK_BUDGET};
use crate::progress::Event;
use crate::watch::native::{self as follow, Followed, Snapshot, Until};
use crate::watch::{Poller, Stop};

/// Applies `policy` to how following service deployment `arn` ended.
pub async fn apply(
    policy: Policy,
    poller: &Poller<'_>,
    aws: &Clients,
    arn: &str,
    followed: Followed,
) -> (Followed, Option<Applied>) {
    let Followed::Unfinished { stop, last } = &followed else {
        return (followed, None);
    };
    if policy.on(stop) != OnStop::Rollback {
        return (followed, None);
    }
    if last.as_ref().is_some_and(Snapshot::is_terminal) {
        return (followed, None);
    }
    let stop = stop.clone();
    let observer = poller.observer();
    let why = match stop {
        Stop::Interrupted => "--on-interrupt rollback",
        _ => "--on-timeout rollback",
    };
    let rolling_back = last.as_ref().is_some_and(|s| {
        matches!(
            s.status,
            ServiceDeploymentStatus::RollbackRequested
                | ServiceDeploymentStatus::RollbackInProgress
        )
    });
    if rolling_back {
        observer.on_event(&Event::Step {
            message: format!(
                "{why}: following ECS's rollback of service deployment {arn} to its end"
            ),
        });
    } else if let Err(e) = roll_back(aws, arn, last.as_ref(), why, observer).await {
        observer.on_event(&Event::Warning {
            message: format!("{why}: could not roll back service deployment {arn}: {e}"),
        });
        let refused = Some(e.to_string().lines().next().unwrap_or_default().to_string());
        return (followed, Some(Applied { stop, refused }));
    }
    let fresh = Interrupt::new();
    let mut own = Poller::new(
        observer,
        &fresh,
        Instant::now() + ROLLBACK_BUDGET,
        poller.base,
    );
    let rolled = follow::follow_on(&mut own, aws, arn, &Until::End, last.clone()).await;
    (
        rolled,
        Some(Applied {
            stop,
            refused: None,
        }),
    )
}

/// Continue(ROLLBACK) on the hook awaiting action, else (or when that is refused: the pause ended
/// meanwhile) StopServiceDeployment ROLLBACK.
async fn roll_back(
    aws: &Clients,
    arn: &str,
    last: Option<&Snapshot>,
    why: &str,
    observer: &dyn crate::progress::Observer,
) -> Result<(), crate::Error> {
    if let Some(hook) = last.and_then(Snapshot::awaiting) {
        observer.on_event(&Event::Step {
            message: format!(
                "{why}: rolling back service deployment {arn} at hook {} (ContinueServiceDeployment ROLLBACK), then following the rollback",
                hook.id
            ),
        });
        match operate::continue_hook(aws, arn, &hook.id, DeploymentLifecycleHookAction::Rollback)
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) => tracing::info!(error = %e, "Continue(ROLLBACK) refused; stopping instead"),
        }
    }
    observer.on_event(&Event::Step {
        message: format!(
            "{why}: stopping service deployment {arn} with rollback (StopServiceDeployment ROLLBACK), then following the rollback"
        ),
    });
    operate::rollback(aws, arn).await
}
