//! The wait loops. The SDK's waiters poll every 15 s and say nothing meanwhile; these poll about once a
//! second (backing off while AWS throttles), report every change to the observer, and return as soon as
//! the end is seen. The acceptors are the waiters' own: `Succeeded` is success, `Failed` / `Stopped` failure.

use std::time::Duration;

use aws_sdk_codedeploy::types::{DeploymentCreator, DeploymentInfo, EcsTarget};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::aws::{code, failed, is_throttling};
use crate::connection::Clients;
use crate::error::Error;
use crate::progress::{
    DeploymentSnapshot, ErrorInfo, Event, LifecycleEvent, Observer, RollbackInfo, ServiceSnapshot,
    TaskSet,
};

/// The longest pause between polls while AWS throttles.
const MAX_INTERVAL: Duration = Duration::from_secs(16);
/// Consecutive failed polls (after the SDK's own retries) before giving up.
const MAX_POLL_FAILURES: u32 = 5;

/// How a wait ended.
#[derive(Debug)]
pub enum End<T> {
    Done(T),
    /// It cannot succeed: the reason, said for a person.
    Failed(Option<T>, String),
    TimedOut(Option<T>),
    Interrupted(Option<T>),
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

impl TaskFailures {
    fn new() -> TaskFailures {
        TaskFailures {
            since: crate::progress::now_epoch() - 60.0,
            seen: Default::default(),
            count: 0,
            latest_reason: None,
        }
    }
}

pub struct Watcher<'a> {
    pub aws: &'a Clients,
    pub observer: &'a dyn Observer,
    pub cancel: &'a CancellationToken,
    pub deadline: Option<Instant>,
    pub interval: Duration,
}

/// What to wait for in a deployment.
pub enum Until<'a> {
    /// A terminal status.
    End,
    /// This lifecycle event has succeeded (or the deployment ended).
    Event(&'a str),
    /// The rollback id appears, or `extra` polls have passed (CodeDeploy records the rollback just after
    /// the original deployment ends).
    RollbackId { extra: u32 },
}

impl Watcher<'_> {
    /// Sleeps until the next poll; `Err` with how the wait ended when cancelled or past the deadline.
    async fn pause(&self, tick: Instant, interval: Duration) -> Result<(), bool> {
        let mut next = tick + interval;
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(false);
            }
            next = next.min(d);
        }
        tokio::select! {
            _ = self.cancel.cancelled() => Err(true),
            _ = tokio::time::sleep_until(next) => Ok(()),
        }
    }

    fn stop<T>(interrupted: bool, last: Option<T>) -> End<T> {
        if interrupted {
            End::Interrupted(last)
        } else {
            End::TimedOut(last)
        }
    }

    /// Polls GetDeployment and GetDeploymentTarget together until `until` holds.
    pub async fn deployment(
        &self,
        id: &str,
        target_id: &str,
        until: Until<'_>,
    ) -> Result<End<DeploymentSnapshot>, Error> {
        let mut interval = self.interval;
        let mut last: Option<DeploymentSnapshot> = None;
        let mut failures = 0;
        let mut polls_after_end = 0;
        loop {
            let tick = Instant::now();
            // During blue's termination wait only the deployment's status can still change: poll just
            // GetDeployment, twice as often (the same number of calls), so the end is noticed sooner.
            let terminating = last.as_ref().is_some_and(|s| {
                s.status == "InProgress" && s.target_status.as_deref() == Some("Succeeded")
            });
            let polled = tokio::select! {
                _ = self.cancel.cancelled() => return Ok(End::Interrupted(last)),
                r = async {
                    let target = async {
                        if terminating {
                            None
                        } else {
                            Some(self.aws.codedeploy.get_deployment_target().deployment_id(id).target_id(target_id).send().await)
                        }
                    };
                    tokio::join!(self.aws.codedeploy.get_deployment().deployment_id(id).send(), target)
                } => r,
            };
            let (dep, target) = polled;
            let info = match dep {
                Ok(o) => {
                    failures = 0;
                    interval = (interval / 2).max(self.interval);
                    o.deployment_info().cloned()
                }
                Err(e) if is_throttling(code(&e)) => {
                    interval = (interval * 2).min(MAX_INTERVAL);
                    self.observer.on_event(&Event::Throttled {
                        interval_seconds: interval.as_secs_f64(),
                    });
                    None
                }
                Err(e) => {
                    failures += 1;
                    if failures >= MAX_POLL_FAILURES {
                        return Err(failed("codedeploy:GetDeployment", e));
                    }
                    tracing::debug!("GetDeployment failed ({failures}): {e:?}");
                    None
                }
            };
            // The target does not exist until the deployment starts; keep the last one seen.
            let target = target
                .and_then(Result::ok)
                .and_then(|o| o.deployment_target().and_then(|t| t.ecs_target()).cloned());
            if let Some(info) = info {
                let snap = snapshot(id, &info, target.as_ref(), last.as_ref());
                if last.as_ref() != Some(&snap) {
                    self.observer
                        .on_event(&Event::DeploymentProgress(snap.clone()));
                }
                let done = match until {
                    Until::End => snap.is_terminal(),
                    Until::Event(name) => {
                        snap.is_terminal()
                            || snap.event(name).is_some_and(|e| e.status == "Succeeded")
                    }
                    Until::RollbackId { extra } => {
                        polls_after_end += 1;
                        snap.rollback
                            .as_ref()
                            .and_then(|r| r.rollback_deployment_id.as_ref())
                            .is_some()
                            || polls_after_end > extra
                    }
                };
                last = Some(snap);
                if done {
                    return Ok(End::Done(last.expect("just set")));
                }
            }
            let next = if terminating { interval / 2 } else { interval };
            if let Err(interrupted) = self.pause(tick, next).await {
                return Ok(Self::stop(interrupted, last));
            }
        }
    }

    /// Polls DescribeServices until the PRIMARY task set of a new CODE_DEPLOY service is STEADY_STATE with
    /// all its tasks running (the ECS `services_stable` waiter looks at `deployments`, which such a service
    /// leaves empty).
    pub async fn service_stable(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<End<ServiceSnapshot>, Error> {
        let mut interval = self.interval;
        let mut last: Option<ServiceSnapshot> = None;
        let mut failures = 0;
        let mut task_failures = TaskFailures::new();
        let mut polls = 0u32;
        loop {
            let tick = Instant::now();
            polls += 1;
            if polls % TASK_FAILURE_CHECK_EVERY == 1 {
                self.tally_task_failures(cluster, service, &mut task_failures)
                    .await;
                let threshold =
                    task_failure_threshold(last.as_ref().map_or(0, |s| s.desired_count));
                if task_failures.count >= threshold {
                    let why = format!(
                        "{} of its tasks stopped while it starts (ECS keeps replacing them); the latest: {}",
                        task_failures.count,
                        task_failures
                            .latest_reason
                            .as_deref()
                            .unwrap_or("no reason given"),
                    );
                    return Ok(End::Failed(last, why));
                }
            }
            let resp = tokio::select! {
                _ = self.cancel.cancelled() => return Ok(End::Interrupted(last)),
                r = self.aws.ecs.describe_services().cluster(cluster).services(service).send() => r,
            };
            match resp {
                Ok(o) => {
                    failures = 0;
                    interval = (interval / 2).max(self.interval);
                    if let Some(svc) = o.services().first() {
                        let primary = svc
                            .task_sets()
                            .iter()
                            .find(|t| t.status() == Some("PRIMARY"));
                        let snap = ServiceSnapshot {
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
                            stability: primary
                                .and_then(|t| t.stability_status())
                                .map(|s| s.as_str().to_string()),
                            last_event: svc
                                .events()
                                .first()
                                .and_then(|e| e.message())
                                .map(str::to_string),
                        };
                        if last.as_ref() != Some(&snap) {
                            self.observer
                                .on_event(&Event::ServiceProgress(snap.clone()));
                        }
                        let stable = snap.stability.as_deref() == Some("STEADY_STATE")
                            && snap.running_count >= snap.desired_count
                            && snap.pending_count == 0;
                        if snap.status != "ACTIVE" {
                            return Err(Error::Conflict {
                                message: format!(
                                    "service `{service}` became {} while starting",
                                    snap.status
                                ),
                                hint: None,
                            });
                        }
                        last = Some(snap);
                        if stable {
                            return Ok(End::Done(last.expect("just set")));
                        }
                    }
                }
                Err(e) if is_throttling(code(&e)) => {
                    interval = (interval * 2).min(MAX_INTERVAL);
                    self.observer.on_event(&Event::Throttled {
                        interval_seconds: interval.as_secs_f64(),
                    });
                }
                Err(e) => {
                    failures += 1;
                    if failures >= MAX_POLL_FAILURES {
                        return Err(failed("ecs:DescribeServices", e));
                    }
                }
            }
            if let Err(interrupted) = self.pause(tick, interval).await {
                return Ok(Self::stop(interrupted, last));
            }
        }
    }
}

impl Watcher<'_> {
    /// Counts the service's tasks that stopped on their own since the last look. Best effort: a failed
    /// look is logged and retried at the next check, and the wait itself goes on either way.
    async fn tally_task_failures(&self, cluster: &str, service: &str, tally: &mut TaskFailures) {
        use aws_sdk_ecs::types::{DesiredStatus, TaskStopCode};
        let listed = self
            .aws
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
        let described = self
            .aws
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
}

fn secs(t: Option<&aws_sdk_codedeploy::primitives::DateTime>) -> Option<f64> {
    t.map(|d| d.as_secs_f64())
}

/// A snapshot from GetDeployment and (if available) GetDeploymentTarget; without a target, the previous
/// snapshot's target view is kept.
pub fn snapshot(
    id: &str,
    info: &DeploymentInfo,
    target: Option<&EcsTarget>,
    prev: Option<&DeploymentSnapshot>,
) -> DeploymentSnapshot {
    let (target_status, lifecycle_events, task_sets) = match target {
        Some(t) => (
            t.status().map(|s| s.as_str().to_string()),
            t.lifecycle_events()
                .iter()
                .map(|e| LifecycleEvent {
                    name: e.lifecycle_event_name().unwrap_or_default().to_string(),
                    status: e
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "Pending".into()),
                    start: secs(e.start_time()),
                    end: secs(e.end_time()),
                })
                .collect(),
            t.task_sets_info()
                .iter()
                .map(|s| TaskSet {
                    id: s.identifer().unwrap_or_default().to_string(),
                    label: s.task_set_label().map(|l| l.as_str().to_string()),
                    status: s.status().unwrap_or_default().to_string(),
                    traffic_weight: s.traffic_weight(),
                    desired_count: s.desired_count(),
                    running_count: s.running_count(),
                    pending_count: s.pending_count(),
                    target_group: s.target_group().and_then(|g| g.name()).map(str::to_string),
                })
                .collect(),
        ),
        None => match prev {
            Some(p) => (
                p.target_status.clone(),
                p.lifecycle_events.clone(),
                p.task_sets.clone(),
            ),
            None => (None, Vec::new(), Vec::new()),
        },
    };
    DeploymentSnapshot {
        deployment_id: id.to_string(),
        status: info
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Created".into()),
        target_status,
        lifecycle_events,
        task_sets,
        error: info.error_information().map(|e| ErrorInfo {
            code: e.code().map(|c| c.as_str().to_string()),
            message: e.message().map(str::to_string),
        }),
        rollback: info.rollback_info().map(|r| RollbackInfo {
            rollback_deployment_id: r.rollback_deployment_id().map(str::to_string),
            rollback_triggering_deployment_id: r
                .rollback_triggering_deployment_id()
                .map(str::to_string),
            message: r.rollback_message().map(str::to_string),
        }),
        termination_wait_started: info.instance_termination_wait_time_started(),
        is_rollback: info.creator() == Some(&DeploymentCreator::CodeDeployRollback),
    }
}
