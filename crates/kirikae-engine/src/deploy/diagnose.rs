//! Why a deployment failed, as far as AWS tells, gathered once it ended: the lifecycle event's
//! diagnostics, why green's tasks stopped, what green's target group says of its targets, the group's
//! alarms in ALARM, and the service's latest events. Read-only and best effort: a read that fails is
//! left out, never an error (the deployment's outcome is already known).

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_codedeploy::types::{LifecycleEventStatus, TargetLabel};
use aws_sdk_ecs::types::DesiredStatus;
use serde::Serialize;

use super::Prepared;
use crate::progress::DeploymentSnapshot;

/// At most this many lines of each kind.
const MOST: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Failed lifecycle events with CodeDeploy's diagnostics.
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
        let (stopped_tasks, target_health, alarms, service_events) = tokio::join!(
            self.stopped_tasks(green.map(|g| g.id.as_str()), started),
            self.target_health(green.and_then(|g| g.target_group.as_deref())),
            self.alarms_firing(),
            self.service_events(),
        );
        Diagnosis {
            lifecycle: lifecycle(snap),
            stopped_tasks,
            target_health,
            alarms,
            service_events,
        }
    }

    /// Stopped tasks of green's task set (tasks a task set starts carry its id in `startedBy`), or, when
    /// AWS does not say, the service's tasks created since the deployment started.
    async fn stopped_tasks(&self, task_set: Option<&str>, since: Option<f64>) -> Vec<String> {
        let ecs = &self.aws.ecs;
        let Ok(listed) = ecs
            .list_tasks()
            .cluster(&self.plan.cluster)
            .service_name(&self.plan.service)
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
        let Ok(described) = ecs
            .describe_tasks()
            .cluster(&self.plan.cluster)
            .set_tasks(Some(arns))
            .send()
            .await
        else {
            return Vec::new();
        };
        let mut reasons: Vec<(String, usize)> = Vec::new();
        for t in described.tasks() {
            let of_green = match (task_set, t.started_by()) {
                (Some(ts), Some(by)) if by.starts_with("ecs-svc/") || by == ts => by == ts,
                _ => since
                    .is_some_and(|s| t.created_at().is_some_and(|c| c.as_secs_f64() >= s - 1.0)),
            };
            if !of_green {
                continue;
            }
            let mut reason = t.stopped_reason().unwrap_or("stopped").to_string();
            // ECS's reason is a fixed sentence ("Essential container in task exited"); the code is
            // the container's exitCode.
            let codes: Vec<String> = t
                .containers()
                .iter()
                .filter_map(|c| Some(format!("{} exited {}", c.name()?, c.exit_code()?)))
                .filter(|_| {
                    t.stop_code()
                        .is_some_and(|c| c.as_str() == "EssentialContainerExited")
                })
                .collect();
            if !codes.is_empty() {
                reason = format!("{reason} ({})", codes.join(", "));
            }
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

    /// Green's target group's view of its targets (after a rollback they may be gone already).
    async fn target_health(&self, group: Option<&str>) -> Vec<String> {
        let Some(arn) = group.and_then(|name| {
            self.remote
                .target_groups
                .iter()
                .find(|(n, a)| n == name || a == name)
                .map(|(_, a)| a.clone())
        }) else {
            return Vec::new();
        };
        let Ok(out) = self
            .aws
            .elbv2
            .describe_target_health()
            .target_group_arn(&arn)
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

    async fn alarms_firing(&self) -> Vec<String> {
        let Some(alarms) = self
            .plan
            .codedeploy
            .alarms
            .as_ref()
            .filter(|a| !a.names.is_empty())
        else {
            return Vec::new();
        };
        let Ok(out) = self
            .aws
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(alarms.names.iter().take(100).cloned().collect()))
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

    async fn service_events(&self) -> Vec<String> {
        let Ok(Some(svc)) = self
            .aws
            .batch
            .service(&self.plan.cluster, &self.plan.service)
            .await
        else {
            return Vec::new();
        };
        svc.events()
            .iter()
            .filter_map(|e| e.message().map(str::to_string))
            .take(MOST)
            .collect()
    }
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
