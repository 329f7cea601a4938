//! Following a new CODE_DEPLOY service until its first task set is steady: the ECS `services_stable`
//! waiter looks at `deployments`, which such a service leaves empty, so the PRIMARY task set is watched.
//! ECS's deployment circuit breaker rule is applied meanwhile (see [`task_failure_threshold`]).

use aws_sdk_ecs::types::{DesiredStatus, StabilityStatus, TaskStopCode};
use tokio::time::Instant;

use crate::aws::CallFailure;
use crate::connection::Clients;
use crate::progress::{Event, ServiceSnapshot};
use crate::watch::{Poller, Stop, pace};

/// How following a new service ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceFollowed {
    /// All its tasks run and its task set is steady.
    Stable(ServiceSnapshot),
    /// It cannot start: the reason, said for a person.
    Failing(Option<ServiceSnapshot>, String),
    /// Watching stopped before ECS finished.
    Unfinished(Stop, Option<ServiceSnapshot>),
}

/// How often (in polls) a new service's stopped tasks are looked at (from the first poll on).
const TASK_FAILURE_CHECK_EVERY: u32 = 3;

/// ECS's deployment circuit breaker rule, applied to a new service: it has failed once this many of
/// its tasks stopped while it starts (half the desired count, at least 3, at most 200). Without it, a
/// service whose tasks never pass their health checks would be waited on until the timeout.
pub fn task_failure_threshold(desired: i32) -> usize {
    (usize::try_from(desired).unwrap_or(0).div_ceil(2)).clamp(3, 200)
}

/// The tasks of a starting service that stopped by themselves (not by a person's StopTask).
struct TaskFailures {
    /// Epoch seconds: tasks created before this belong to an earlier service of the same name (AWS
    /// lists stopped tasks for about an hour). A minute before the wait began, for clock skew.
    since: f64,
    seen: std::collections::HashSet<String>,
    count: usize,
    latest_reason: Option<String>,
}

/// Polls DescribeServices until the service is stable, cannot start, or the wait stops.
pub async fn follow(
    poller: &mut Poller<'_>,
    aws: &Clients,
    cluster: &str,
    service: &str,
) -> ServiceFollowed {
    let mut last: Option<ServiceSnapshot> = None;
    let mut failures = TaskFailures {
        since: crate::progress::now_epoch() - 60.0,
        seen: Default::default(),
        count: 0,
        latest_reason: None,
    };
    let mut polls = 0u32;
    let mut quiet_since = Instant::now();
    loop {
        polls += 1;
        if polls % TASK_FAILURE_CHECK_EVERY == 1 {
            tally_task_failures(aws, cluster, service, &mut failures).await;
            let threshold = task_failure_threshold(last.as_ref().map_or(0, |s| s.desired_count));
            if failures.count >= threshold {
                let why = format!(
                    "{} of its tasks stopped while it starts (ECS keeps replacing them); the latest: {}",
                    failures.count,
                    failures
                        .latest_reason
                        .as_deref()
                        .unwrap_or("no reason given"),
                );
                return ServiceFollowed::Failing(last, why);
            }
        }
        let interval = pace::interval(poller.base, quiet_since.elapsed(), None);
        let described = poller
            .next(interval, || describe(aws, cluster, service))
            .await;
        let snap = match described {
            Ok(Some(s)) => s,
            Ok(None) => {
                return ServiceFollowed::Failing(
                    last,
                    format!("service `{service}` is no longer listed by ECS"),
                );
            }
            Err(stop) => return ServiceFollowed::Unfinished(stop, last),
        };
        if last.as_ref() != Some(&snap) {
            quiet_since = Instant::now();
            poller.say(&Event::ServiceProgress(snap.clone()));
        }
        if snap.status != "ACTIVE" {
            let why = format!("service `{service}` became {} while starting", snap.status);
            return ServiceFollowed::Failing(Some(snap), why);
        }
        let stable = snap.stability == Some(StabilityStatus::SteadyState)
            && snap.running_count >= snap.desired_count
            && snap.pending_count == 0;
        if stable {
            return ServiceFollowed::Stable(snap);
        }
        last = Some(snap);
    }
}

async fn describe(
    aws: &Clients,
    cluster: &str,
    service: &str,
) -> Result<Option<ServiceSnapshot>, CallFailure> {
    let Some(svc) = aws.batch.service(cluster, service).await? else {
        return Ok(None);
    };
    let svc = &svc;
    let primary = svc
        .task_sets()
        .iter()
        .find(|t| t.status() == Some("PRIMARY"));
    Ok(Some(ServiceSnapshot {
        status: svc.status().unwrap_or_default().to_string(),
        desired_count: primary
            .map(|t| t.computed_desired_count())
            .unwrap_or(svc.desired_count()),
        running_count: primary
            .map(|t| t.running_count())
            .unwrap_or(svc.running_count()),
        pending_count: primary
            .map(|t| t.pending_count())
            .unwrap_or(svc.pending_count()),
        stability: primary.and_then(|t| t.stability_status()).cloned(),
        last_event: svc
            .events()
            .first()
            .and_then(|e| e.message())
            .map(str::to_string),
    }))
}

/// Counts the service's tasks that stopped on their own since the last look. Best effort: a failed
/// look is logged and retried at the next check, and the wait itself goes on either way.
async fn tally_task_failures(
    aws: &Clients,
    cluster: &str,
    service: &str,
    tally: &mut TaskFailures,
) {
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await;
    let arns: Vec<String> = match listed {
        Ok(o) => o
            .task_arns()
            .iter()
            .filter(|a| !tally.seen.contains(*a))
            .cloned()
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the service's stopped tasks");
            return;
        }
    };
    // DescribeTasks takes at most 100 tasks; more than that is far past any threshold anyway.
    let arns: Vec<String> = arns.into_iter().take(100).collect();
    if arns.is_empty() {
        return;
    }
    let described = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await;
    let tasks = match described {
        Ok(o) => o.tasks().to_vec(),
        Err(e) => {
            tracing::warn!(error = %e, "could not describe the service's stopped tasks");
            return;
        }
    };
    let mut newest: Option<(f64, String)> = None;
    for task in tasks {
        let Some(arn) = task.task_arn() else { continue };
        tally.seen.insert(arn.to_string());
        let earlier = task
            .created_at()
            .is_some_and(|t| t.as_secs_f64() < tally.since);
        if earlier || task.stop_code() == Some(&TaskStopCode::UserInitiated) {
            continue;
        }
        tally.count += 1;
        let at = task
            .stopped_at()
            .or(task.stopping_at())
            .map_or(0.0, |t| t.as_secs_f64());
        if newest.as_ref().is_none_or(|(t, _)| at >= *t) {
            newest = Some((at, task.stopped_reason().unwrap_or("stopped").to_string()));
        }
    }
    if let Some((_, reason)) = newest {
        tally.latest_reason = Some(reason);
    }
}
