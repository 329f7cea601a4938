//! Task sets, and the deployments of ECS-controller services (AWS runs both on one mechanism: both have
//! `ecs-svc/…` ids and their tasks carry that id as `startedBy`). The task set APIs are in `api`.

pub mod api;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::arns;
use super::io;
use super::services::Service;
use super::spec::LaunchSpec;
use super::tags::{self, Tag};
use super::tasks::Task;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    /// An ECS-controller deployment (shown in `deployments`).
    Deployment,
    /// A task set of a CODE_DEPLOY or EXTERNAL service (shown in `taskSets`).
    TaskSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetStatus {
    Primary,
    Active,
    Draining,
}

impl SetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SetStatus::Primary => "PRIMARY",
            SetStatus::Active => "ACTIVE",
            SetStatus::Draining => "DRAINING",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TaskSet {
    pub id: String,
    pub arn: String,
    pub kind: SetKind,
    pub status: SetStatus,
    pub spec: LaunchSpec,
    /// Percent of the service's desired count (task sets).
    pub scale: f64,
    /// Tasks it should run now: a deployment's desired count, or a task set's computedDesiredCount.
    pub desired: u32,
    pub external_id: Option<String>,
    pub started_by: Option<String>,
    pub client_token: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    pub stable: bool,
    pub stability_at: f64,
    pub tags: Vec<Tag>,
    /// Deployments: `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub rollout_state: &'static str,
    pub failed_tasks: u32,
    /// Consecutive task failures, and when the scheduler may launch again (throttling, as AWS does
    /// for tasks that keep failing to start).
    pub launch_failures: u32,
    pub next_launch_at: f64,
}

/// `computedDesiredCount`: ceil(desiredCount × scale / 100).
pub fn computed_desired_count(desired: u32, scale_percent: f64) -> u32 {
    let exact = desired as f64 * scale_percent.clamp(0.0, 100.0) / 100.0;
    // Tolerate float noise (e.g. 3 × 33.3333…%) before rounding up.
    (exact - 1e-9).ceil().max(0.0) as u32
}

/// Running and pending tasks of one set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub running: u32,
    pub pending: u32,
}

pub fn counts(tasks: &BTreeMap<String, Task>, service: &str, set_id: &str) -> Counts {
    let mut c = Counts::default();
    for t in tasks.values().filter(|t| t.belongs_to(service, set_id)) {
        if t.is_running() {
            c.running += 1;
        } else if t.is_pending() {
            c.pending += 1;
        }
    }
    c
}

impl TaskSet {
    pub fn new(
        kind: SetKind,
        status: SetStatus,
        service: &Service,
        spec: LaunchSpec,
        now: f64,
    ) -> TaskSet {
        let id = arns::new_task_set_id();
        TaskSet {
            arn: arns::task_set(&service.region, &service.cluster_name, &service.name, &id),
            id,
            kind,
            status,
            spec,
            scale: 100.0,
            desired: 0,
            external_id: None,
            started_by: None,
            client_token: None,
            created_at: now,
            updated_at: now,
            stable: false,
            stability_at: now,
            tags: Vec::new(),
            rollout_state: "IN_PROGRESS",
            failed_tasks: 0,
            launch_failures: 0,
            next_launch_at: 0.0,
        }
    }

    pub fn to_json(
        &self,
        service: &Service,
        tasks: &BTreeMap<String, Task>,
        with_tags: bool,
    ) -> Value {
        let c = counts(tasks, &service.name, &self.id);
        let mut v = json!({
            "id": self.id,
            "taskSetArn": self.arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "startedBy": self.started_by,
            "externalId": self.external_id,
            "status": self.status.as_str(),
            "taskDefinition": self.spec.task_definition,
            "computedDesiredCount": self.desired,
            "pendingCount": c.pending,
            "runningCount": c.running,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "launchType": self.spec.launch_type,
            "capacityProviderStrategy": self.spec.capacity_provider_strategy,
            "platformVersion": self.spec.reported_platform_version(),
            "platformFamily": self.spec.is_fargate().then_some("Linux"),
            "networkConfiguration": self.spec.network_configuration,
            "loadBalancers": self.spec.load_balancers_json(),
            "serviceRegistries": self.spec.service_registries_json(),
            "scale": { "value": self.scale, "unit": "PERCENT" },
            "stabilityStatus": if self.stable { "STEADY_STATE" } else { "STABILIZING" },
            "stabilityStatusAt": self.stability_at,
        });
        if with_tags {
            v["tags"] = tags::to_json(&self.tags);
        }
        io::compact(v)
    }

    /// How `DescribeServices` shows an ECS-controller deployment.
    pub fn deployment_json(&self, service: &Service, tasks: &BTreeMap<String, Task>) -> Value {
        let c = counts(tasks, &service.name, &self.id);
        let reason = match self.rollout_state {
            "COMPLETED" => format!("ECS deployment {} completed.", self.id),
            "FAILED" => "ECS deployment circuit breaker: tasks failed to start.".to_string(),
            _ => format!("ECS deployment {} in progress.", self.id),
        };
        io::compact(json!({
            "id": self.id,
            "status": self.status.as_str(),
            "taskDefinition": self.spec.task_definition,
            "desiredCount": self.desired,
            "pendingCount": c.pending,
            "runningCount": c.running,
            "failedTasks": self.failed_tasks,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "launchType": self.spec.launch_type,
            "capacityProviderStrategy": self.spec.capacity_provider_strategy,
            "platformVersion": self.spec.reported_platform_version(),
            "platformFamily": self.spec.is_fargate().then_some("Linux"),
            "networkConfiguration": self.spec.network_configuration,
            "rolloutState": self.rollout_state,
            "rolloutStateReason": reason,
        }))
    }
}

/// The ACTIVE task-set service a request names (task set APIs need `cluster` and `service`).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_desired_count_rounds_up() {
        assert_eq!(computed_desired_count(2, 100.0), 2);
        assert_eq!(computed_desired_count(2, 0.0), 0);
        assert_eq!(computed_desired_count(3, 50.0), 2);
        assert_eq!(computed_desired_count(10, 1.0), 1);
        assert_eq!(computed_desired_count(3, 100.0 / 3.0), 1);
        assert_eq!(computed_desired_count(0, 100.0), 0);
        assert_eq!(
            computed_desired_count(4, 150.0),
            4,
            "scale is capped at 100 %"
        );
    }
}
