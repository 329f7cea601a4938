//! Why a deployment failed, as far as AWS tells, gathered once it ended: the lifecycle event's
//! diagnostics, why green's tasks stopped, what green's target group says of its targets, the group's
//! alarms in ALARM, and the service's latest events. Read-only and best effort: a read that fails is
//! left out, never an error (the deployment's outcome is already known).
//!
//! The reads are free functions of the clients and plain names, shared with the ECS controller's
//! diagnosis (`native::diagnose`), which says differently which tasks and group are green's.

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_codedeploy::types::{LifecycleEventStatus, TargetLabel};
use aws_sdk_ecs::types::{DesiredStatus, Service, Task};
use serde::Serialize;

use super::Prepared;
use crate::connection::Clients;
use crate::progress::DeploymentSnapshot;

/// At most this many lines of each kind.
const MOST: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Failed lifecycle events with CodeDeploy's diagnostics; on the ECS controller, the lifecycle
    /// hooks that failed or timed out, with the stage they ran at.
    pub lifecycle: Vec<String>,
    /// Why green's tasks stopped (counted by reason).
    pub stopped_tasks: Vec<String>,
    /// Green's targets that are not healthy, with the load balancer's reason.
    pub target_health: Vec<String>,
    /// The group's alarms in ALARM, with CloudWatch's reason.
    pub alarms: Vec<String>,
    /// The service's latest events.
    pub service_events: Vec<String>,
}

impl Diagnosis {
    pub fn is_empty(&self) -> bool {
        self.lifecycle.is_empty()
            && self.stopped_tasks.is_empty()
            && self.target_health.is_empty()
            && self.alarms.is_empty()
            && self.service_events.is_empty()
    }
}

impl Prepared {
    /// What AWS says about why deployment `snap` failed.
    pub(super) async fn diagnose(&self, snap: &DeploymentSnapshot) -> Diagnosis {
        let started = snap
            .lifecycle_events
            .iter()
            .filter_map(|e| e.start)
            .reduce(f64::min);
        let green = snap
            .task_sets
            .iter()
            .find(|t| t.label == Some(TargetLabel::Green));
        let task_set = green.map(|g| g.id.as_str());
        let group = green
            .and_then(|g| g.target_group.as_deref())
            .and_then(|name| {
                self.remote
                    .target_groups
                    .iter()
                    .find(|(n, a)| n == name || a == name)
                    .map(|(_, a)| a.clone())
            });
        let alarms = self
            .plan
            .codedeploy
            .alarms
            .as_ref()
            .map(|a| a.names.clone())
            .unwrap_or_default();
        // Tasks a task set starts carry its id in `startedBy`; when AWS does not say, the service's
        // tasks created since the deployment started.
        let of_green = |t: &Task| match (task_set, t.started_by()) {
            (Some(ts), Some(by)) if by.starts_with("ecs-svc/") || by == ts => by == ts,
            _ => created_since(t, started),
        };
        let (stopped_tasks, target_health, alarms, service) = tokio::join!(
            stopped_tasks(&self.aws, &self.plan.cluster, &self.plan.service, of_green),
            target_health(&self.aws, group.as_deref()),
            alarms_firing(&self.aws, &alarms),
            self.aws
                .batch
                .service(&self.plan.cluster, &self.plan.service),
        );
        Diagnosis {
            lifecycle: lifecycle(snap),
            stopped_tasks,
            target_health,
            alarms,
            service_events: service
                .ok()
                .flatten()
                .map(|s| service_events(&s))
                .unwrap_or_default(),
        }
    }
}

/// Whether task `t` was created at or after `since` (epoch seconds; a second's slack for clocks).
pub(crate) fn created_since(t: &Task, since: Option<f64>) -> bool {
    since.is_some_and(|s| t.created_at().is_some_and(|c| c.as_secs_f64() >= s - 1.0))
}

/// Why the service's stopped tasks that `of_green` picks stopped, counted by reason, with their
/// containers' exit codes.
pub(crate) async fn stopped_tasks(
    aws: &Clients,
    cluster: &str,
    service: &str,
    of_green: impl Fn(&Task) -> bool,
) -> Vec<String> {
    let Ok(listed) = aws
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
    else {
        return Vec::new();
    };
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Vec::new();
    }
    let Ok(described) = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
    else {
        return Vec::new();
    };
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for t in described.tasks().iter().filter(|t| of_green(t)) {
        let reason = stopped_reason(t);
        match reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((reason, 1)),
        }
    }
    reasons
        .into_iter()
        .take(MOST)
        .map(|(r, n)| format!("{n} task(s): {r}"))
        .collect()
}

/// ECS's reason is a fixed sentence ("Essential container in task exited"); the code is the
/// container's exitCode.
fn stopped_reason(t: &Task) -> String {
    let reason = t.stopped_reason().unwrap_or("stopped").to_string();
    if t.stop_code()
        .is_none_or(|c| c.as_str() != "EssentialContainerExited")
    {
        return reason;
    }
    let codes: Vec<String> = t
        .containers()
        .iter()
        .filter_map(|c| Some(format!("{} exited {}", c.name()?, c.exit_code()?)))
        .collect();
    if codes.is_empty() {
        reason
    } else {
        format!("{reason} ({})", codes.join(", "))
    }
}

/// Green's target group's view of its targets (after a rollback they may be gone already).
pub(crate) async fn target_health(aws: &Clients, group_arn: Option<&str>) -> Vec<String> {
    let Some(arn) = group_arn else {
        return Vec::new();
    };
    let Ok(out) = aws
        .elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
    else {
        return Vec::new();
    };
    out.target_health_descriptions()
        .iter()
        .filter_map(|d| {
            let h = d.target_health()?;
            let state = h.state()?.as_str();
            if state == "healthy" {
                return None;
            }
            let target = d.target().map_or("?".to_string(), |t| {
                format!(
                    "{}:{}",
                    t.id().unwrap_or("?"),
                    t.port().map_or("?".into(), |p| p.to_string())
                )
            });
            let reason = [
                h.reason().map(|r| r.as_str().to_string()),
                h.description().map(str::to_string),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
            Some(format!("{target} {state} ({reason})"))
        })
        .take(MOST)
        .collect()
}

/// The alarms among `names` in ALARM, with CloudWatch's reason.
pub(crate) async fn alarms_firing(aws: &Clients, names: &[String]) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let Ok(out) = aws
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names.iter().take(100).cloned().collect()))
        .state_value(StateValue::Alarm)
        .send()
        .await
    else {
        return Vec::new();
    };
    out.metric_alarms()
        .iter()
        .map(|a| {
            format!(
                "{} is in ALARM ({})",
                a.alarm_name().unwrap_or("?"),
                a.state_reason().unwrap_or("no reason given")
            )
        })
        .take(MOST)
        .collect()
}

/// The service's latest events (ECS lists them newest first).
pub(crate) fn service_events(svc: &Service) -> Vec<String> {
    svc.events()
        .iter()
        .filter_map(|e| e.message().map(str::to_string))
        .take(MOST)
        .collect()
}

/// The failed lifecycle events, with what CodeDeploy says of each.
fn lifecycle(snap: &DeploymentSnapshot) -> Vec<String> {
    snap.lifecycle_events
        .iter()
        .filter(|e| e.status == LifecycleEventStatus::Failed)
        .map(|e| match &e.diagnostic {
            Some(d) => format!("{} failed: {d}", e.name),
            None => format!("{} failed", e.name),
        })
        .collect()
}
