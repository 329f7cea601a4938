//! A running service deployment of a native service: find it (the service's ongoing one, or by ARN),
//! act on it with the one ECS call that does what the operator asked, then follow it to its end with
//! [`crate::watch::native`] into an [`ending`](super::ending) outcome — the same rows, report and exit
//! statuses as `kirikae deploy`.
//!
//! - promote → `ContinueServiceDeployment` (CONTINUE) on the PAUSE hook awaiting action;
//! - rollback → `StopServiceDeployment` with stopType ROLLBACK (the model: "The valid values are
//!   ROLLBACK"; weights flip back to the previous revision);
//! - stop → refused: ECS has no stop that leaves traffic where it is (ABORT is in the enum, but the
//!   documentation says only ROLLBACK is valid).

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentLifecycleHookAction, StopServiceDeploymentStopType};
use tokio::time::Instant;

use super::ending;
use super::preflight::ONGOING;
use crate::aws::failed;
use crate::connection::Clients;
use crate::deploy::ending::{Changes, Facts};
use crate::error::{ConfigError, Error};
use crate::interrupt::Interrupt;
use crate::outcome::Outcome;
use crate::policy::Policy;
use crate::progress::{Observer, now_epoch};
use crate::watch::Poller;
use crate::watch::native::{self as follow, Snapshot, Until};

/// The service a command operates on.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: String,
    pub cluster: String,
    pub service: String,
}

/// `(cluster, service)` of a service deployment ARN
/// (`arn:aws:ecs:R:A:service-deployment/CLUSTER/SERVICE/ID`).
pub fn owner_of(arn: &str) -> Option<(String, String)> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let path = resource.strip_prefix("service-deployment/")?;
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(s), Some(id), None) if !c.is_empty() && !s.is_empty() && !id.is_empty() => {
            Some((c.to_string(), s.to_string()))
        }
        _ => None,
    }
}

/// The service's ongoing service deployment, if any (newest first, as ECS lists them).
pub async fn active(aws: &Clients, target: &Target) -> Result<Option<String>, Error> {
    let out = aws
        .ecs
        .list_service_deployments()
        .cluster(&target.cluster)
        .service(&target.service)
        .set_status(Some(ONGOING.to_vec()))
        .send()
        .await
        .map_err(|e| failed("ecs:ListServiceDeployments", e))?;
    Ok(out
        .service_deployments()
        .first()
        .and_then(|d| d.service_deployment_arn())
        .map(str::to_string))
}

/// The deployment as it is now (an error when ECS does not know it).
pub async fn snapshot(aws: &Clients, arn: &str) -> Result<Snapshot, Error> {
    match follow::describe(aws, arn).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(ConfigError::new(
            "--deployment-id",
            format!("service deployment `{arn}` does not exist"),
        )
        .hint("check the ARN and region (aws ecs list-service-deployments)")
        .into()),
        Err(f) => Err(f.into_error()),
    }
}

/// What ran before the service's current revision, for `kirikae rollback` once nothing runs.
#[derive(Debug, Clone)]
pub struct Previous {
    /// The newest successful service deployment: the one to undo.
    pub undoes: String,
    /// The task definition of the revision it replaced (its source revision).
    pub task_definition_arn: String,
}

/// The revision the newest successful service deployment replaced (ECS records it as the
/// deployment's source revision): what to deploy again. A service created with what it runs has
/// none, and says so.
pub async fn previous(aws: &Clients, target: &Target) -> Result<Previous, Error> {
    let listed = aws
        .ecs
        .list_service_deployments()
        .cluster(&target.cluster)
        .service(&target.service)
        .status(aws_sdk_ecs::types::ServiceDeploymentStatus::Successful)
        .send()
        .await
        .map_err(|e| failed("ecs:ListServiceDeployments", e))?;
    let created = |d: &&aws_sdk_ecs::types::ServiceDeploymentBrief| {
        d.created_at().map_or(0.0, |t| t.as_secs_f64())
    };
    let nothing = |why: String| Error::Conflict {
        message: why,
        hint: Some(
            "kirikae deploy --revision N deploys a revision of your choice Blue/Green".into(),
        ),
    };
    let Some(newest) = listed
        .service_deployments()
        .iter()
        .max_by(|a, b| created(a).total_cmp(&created(b)))
        .and_then(|d| d.service_deployment_arn())
    else {
        return Err(nothing(format!(
            "{}/{} has no successful service deployment: there is no earlier revision to roll back to",
            target.cluster, target.service
        )));
    };
    let described = aws
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(newest)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServiceDeployments", e))?;
    let sources: Vec<String> = described
        .service_deployments()
        .iter()
        .flat_map(|d| d.source_service_revisions())
        .filter_map(|r| r.arn().map(str::to_string))
        .collect();
    let Some(source) = sources.first() else {
        return Err(nothing(format!(
            "service deployment {newest} replaced no earlier revision (the service was created with what it runs): there is no earlier revision to roll back to"
        )));
    };
    let revisions = aws
        .ecs
        .describe_service_revisions()
        .service_revision_arns(source)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServiceRevisions", e))?;
    let task_definition_arn = revisions
        .service_revisions()
        .first()
        .and_then(|r| r.task_definition())
        .map(str::to_string)
        .ok_or_else(|| {
            nothing(format!(
                "ECS no longer describes service revision {source}, which service deployment {newest} replaced"
            ))
        })?;
    Ok(Previous {
        undoes: newest.to_string(),
        task_definition_arn,
    })
}

/// `kirikae promote`: continues the PAUSE hook that awaits action.
pub async fn promote(aws: &Clients, arn: &str) -> Result<String, Error> {
    let snap = snapshot(aws, arn).await?;
    let Some(hook) = snap.awaiting() else {
        return Err(Error::Conflict {
            message: format!(
                "service deployment {arn} has no hook awaiting action ({}); nothing to promote",
                snap.said()
            ),
            hint: Some(
                "promote continues a `pause: true` hook once the deployment waits at it (kirikae deploy --wait-until paused)"
                    .into(),
            ),
        });
    };
    continue_hook(aws, arn, &hook.id, DeploymentLifecycleHookAction::Continue).await?;
    Ok(hook.id.clone())
}

/// ContinueServiceDeployment on hook `hook_id` with `action` (CONTINUE, or ROLLBACK: rejecting the
/// pause rolls the deployment back).
pub async fn continue_hook(
    aws: &Clients,
    arn: &str,
    hook_id: &str,
    action: DeploymentLifecycleHookAction,
) -> Result<(), Error> {
    aws.ecs
        .continue_service_deployment()
        .service_deployment_arn(arn)
        .hook_id(hook_id)
        .action(action)
        .send()
        .await
        .map_err(|e| failed("ecs:ContinueServiceDeployment", e))?;
    Ok(())
}

/// Rejects the pause `hook_id`: ContinueServiceDeployment ROLLBACK (a failed gate at promote).
pub async fn roll_back_at(aws: &Clients, arn: &str, hook_id: &str) -> Result<(), Error> {
    continue_hook(aws, arn, hook_id, DeploymentLifecycleHookAction::Rollback).await
}

/// `kirikae rollback`: StopServiceDeployment with rollback.
pub async fn rollback(aws: &Clients, arn: &str) -> Result<(), Error> {
    aws.ecs
        .stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .map_err(|e| failed("ecs:StopServiceDeployment", e))?;
    Ok(())
}

/// What `kirikae stop` says on a native service: ECS stops a service deployment only by rolling it
/// back.
pub fn stop_refused(arn: &str) -> Error {
    Error::Config(
        ConfigError::new(
            "stop",
            format!(
                "ECS cannot stop service deployment {arn} and leave traffic where it is: StopServiceDeployment's only valid stopType is ROLLBACK"
            ),
        )
        .hint("kirikae rollback -c FILE rolls it back (production back on the previous revision)"),
    )
}

/// Follows `arn` to its end, as deploy does (an interrupt or the deadline leaves it running).
pub async fn follow_to_end(
    aws: &Clients,
    target: &Target,
    arn: &str,
    timeout: Duration,
    poll_interval: Duration,
    observer: &dyn Observer,
    interrupt: &Interrupt,
) -> Outcome {
    let waiting = Waiting {
        timeout,
        poll_interval,
        policy: Policy::default(),
    };
    follow_with(aws, target, arn, &waiting, observer, interrupt).await
}

/// How an operating command waits: `--timeout`, the poll interval, `--on-interrupt` / `--on-timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub policy: Policy,
}

/// Follows `arn` to its end as deploy does, with the interrupt / time-out policy
/// ([`super::policy`]) when the wait stops first.
pub async fn follow_with(
    aws: &Clients,
    target: &Target,
    arn: &str,
    waiting: &Waiting,
    observer: &dyn Observer,
    interrupt: &Interrupt,
) -> Outcome {
    follow_guarded(aws, target, arn, waiting, None, observer, interrupt).await
}

/// A config's gate for a service deployment kirikae follows outside deploy (the one migrate's move
/// starts): the gate, where its checks go, and the config (its directory, how to promote).
#[derive(Debug, Clone, Copy)]
pub struct GateAt<'a> {
    pub gate: &'a crate::config::gate::Gate,
    pub test_url: Option<&'a str>,
    pub config_path: &'a std::path::Path,
}

/// [`follow_with`], with `gate` run at its pause as deploy runs it ([`super::gate::follow`]).
pub async fn follow_guarded(
    aws: &Clients,
    target: &Target,
    arn: &str,
    waiting: &Waiting,
    gate: Option<GateAt<'_>>,
    observer: &dyn Observer,
    interrupt: &Interrupt,
) -> Outcome {
    let Waiting {
        timeout,
        poll_interval,
        policy,
    } = *waiting;
    // The gate's command gets green's images: the deployment's target revision's (best effort: a
    // deployment ECS does not describe yet has none to say).
    let images = match gate.filter(|g| g.gate.has_checks()) {
        Some(_) => match follow::describe(aws, arn).await {
            Ok(Some(snap)) => super::gate::green_images(aws, &snap)
                .await
                .unwrap_or_default(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    let guard = crate::gate::Guard {
        gate: gate.map(|g| g.gate),
        test_url: gate.and_then(|g| g.test_url).map(str::to_string),
        deployment_env: crate::gate::deployment_env(&target.cluster, &target.service, &images),
        dir: gate.map_or_else(
            || std::path::PathBuf::from("."),
            |g| super::gate::config_dir(g.config_path),
        ),
        auto_promote_after: None,
        policy,
        promote: format!("kirikae promote -c {}", target.config),
    };
    let facts = Facts {
        config: target.config.clone(),
        region: aws.region.clone(),
        cluster: target.cluster.clone(),
        service: target.service.clone(),
        application: String::new(),
        deployment_group: String::new(),
        images: Vec::new(),
        started_at: now_epoch(),
        interrupt_code: interrupt.exit_code(),
        changes: Changes::default(),
    };
    let mut poller = Poller::new(observer, interrupt, Instant::now() + timeout, poll_interval);
    let guarded = super::gate::follow(&mut poller, aws, arn, &Until::End, &guard).await;
    let facts = Facts {
        interrupt_code: interrupt.exit_code(),
        ..facts
    };
    let mut outcome = ending::deployment(&facts, arn, guarded.followed.clone(), None);
    guarded.explain(&mut outcome, facts.interrupt_code);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_comes_from_the_deployment_arn() {
        assert_eq!(
            owner_of("arn:aws:ecs:us-east-1:1:service-deployment/demo/web/AbC123"),
            Some(("demo".into(), "web".into()))
        );
        assert_eq!(owner_of("arn:aws:ecs:us-east-1:1:service/demo/web"), None);
        assert_eq!(owner_of("d-ABCDEF123"), None);
    }
}
