//! Services: their state and how DescribeServices shows them. The operations live in `create`,
//! `update`, `delete` and `read`; the scheduler keeps their tasks running.

mod create;
mod delete;
mod read;
#[cfg(test)]
mod tests;
mod update;

pub use create::create;
pub use delete::delete;
pub use read::{describe, list};
pub use update::update;

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use super::io;
use super::native;
use super::spec::LaunchSpec;
use super::tags::{self, Tag};
use super::task_sets::{SetKind, SetStatus, TaskSet, counts};
use super::tasks::Task;
use crate::world::RegionKey;

/// Service events AWS keeps (newest first).
const MAX_EVENTS: usize = 100;

/// The largest `desiredCount` the sandbox accepts. AWS's quota is 5,000 tasks per service; every sandbox
/// task is a real process, so the sandbox keeps it small (and caps all tasks, see `addr`).
pub const MAX_DESIRED_COUNT: u64 = 100;

/// `desiredCount` of a CreateService or UpdateService request, refused above [`MAX_DESIRED_COUNT`].
pub fn desired_count(input: &Value) -> Result<Option<u32>, crate::protocol::ApiError> {
    match input.get("desiredCount").and_then(Value::as_u64) {
        Some(n) if n > MAX_DESIRED_COUNT => Err(super::errors::invalid(format!(
            "desiredCount {n} is above the limit of {MAX_DESIRED_COUNT} tasks per service in the kirikae sandbox (AWS's quota is 5000)."
        ))),
        n => Ok(n.map(|n| n as u32)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controller {
    Ecs,
    CodeDeploy,
    External,
}

impl Controller {
    pub fn parse(s: &str) -> Controller {
        match s {
            "CODE_DEPLOY" => Controller::CodeDeploy,
            "EXTERNAL" => Controller::External,
            _ => Controller::Ecs,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Controller::Ecs => "ECS",
            Controller::CodeDeploy => "CODE_DEPLOY",
            Controller::External => "EXTERNAL",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceStatus {
    Active,
    Draining,
    Inactive,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Active => "ACTIVE",
            ServiceStatus::Draining => "DRAINING",
            ServiceStatus::Inactive => "INACTIVE",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: f64,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub region: RegionKey,
    pub name: String,
    pub arn: String,
    pub cluster_name: String,
    pub cluster_arn: String,
    pub status: ServiceStatus,
    pub controller: Controller,
    pub desired_count: u32,
    /// Service-level launch settings: the template of new ECS deployments, and what an EXTERNAL
    /// service without a primary task set reports.
    pub spec: LaunchSpec,
    pub deployment_configuration: Value,
    pub health_check_grace_period: Option<i64>,
    pub scheduling_strategy: String,
    pub role_arn: Option<String>,
    pub placement_constraints: Value,
    pub placement_strategy: Value,
    pub propagate_tags: String,
    pub enable_ecs_managed_tags: bool,
    pub enable_execute_command: bool,
    pub availability_zone_rebalancing: Option<String>,
    pub tags: Vec<Tag>,
    pub created_at: f64,
    pub created_by: String,
    /// Deployments (ECS controller) or task sets (CODE_DEPLOY, EXTERNAL).
    pub sets: Vec<TaskSet>,
    pub events: VecDeque<ServiceEvent>,
    /// Whether the service was last seen in a steady state (to announce it once).
    pub steady: bool,
    /// The CreateService request, to answer an identical retry idempotently.
    pub create_request: Value,
    /// Service deployments and revisions (Blue/Green-family strategies).
    pub history: native::History,
}

impl Service {
    pub fn is_active(&self) -> bool {
        self.status == ServiceStatus::Active
    }

    pub fn uses_task_sets(&self) -> bool {
        self.controller != Controller::Ecs
    }

    pub fn primary(&self) -> Option<&TaskSet> {
        self.sets.iter().find(|s| s.status == SetStatus::Primary)
    }

    /// What the service reports as its own launch settings: AWS shows the PRIMARY task set's for task
    /// set services, and the latest ones for ECS services.
    pub fn primary_spec(&self) -> &LaunchSpec {
        match (self.controller, self.primary()) {
            // An ECS service's own spec is what UpdateService last set, which its newest deployment runs.
            (Controller::Ecs, _) | (_, None) => &self.spec,
            (_, Some(p)) => &p.spec,
        }
    }

    /// `(service name)` or `(service name, taskSet ecs-svc/…)`: how AWS's event messages begin.
    pub fn scope(&self, set_id: Option<&str>) -> String {
        match set_id {
            Some(id) if self.uses_task_sets() => format!("(service {}, taskSet {id})", self.name),
            _ => format!("(service {})", self.name),
        }
    }

    pub fn event(&mut self, now: f64, message: String) {
        tracing::debug!(service = %self.name, "{message}");
        self.events.push_front(ServiceEvent {
            id: uuid::Uuid::new_v4().to_string(),
            created_at: now,
            message,
        });
        self.events.truncate(MAX_EVENTS);
    }

    pub fn to_json(&self, tasks: &BTreeMap<String, Task>, with_tags: bool) -> Value {
        let spec = self.primary_spec();
        let (mut running, mut pending) = (0, 0);
        for set in &self.sets {
            let c = counts(tasks, &self.name, &set.id);
            running += c.running;
            pending += c.pending;
        }
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| json!({ "id": e.id, "createdAt": e.created_at, "message": e.message }))
            .collect();
        let mut v = json!({
            "serviceArn": self.arn,
            "serviceName": self.name,
            "clusterArn": self.cluster_arn,
            "loadBalancers": spec.load_balancers_json(),
            "serviceRegistries": spec.service_registries_json(),
            "status": self.status.as_str(),
            "desiredCount": self.desired_count,
            "runningCount": running,
            "pendingCount": pending,
            "launchType": spec.launch_type,
            "capacityProviderStrategy": spec.capacity_provider_strategy,
            "platformVersion": spec.reported_platform_version(),
            "platformFamily": spec.is_fargate().then_some("Linux"),
            "taskDefinition": spec.task_definition,
            "deploymentConfiguration": self.deployment_configuration,
            "roleArn": self.role_arn,
            "events": events,
            "createdAt": self.created_at,
            "placementConstraints": self.placement_constraints,
            "placementStrategy": self.placement_strategy,
            "networkConfiguration": spec.network_configuration,
            "healthCheckGracePeriodSeconds": self.health_check_grace_period,
            "schedulingStrategy": self.scheduling_strategy,
            "deploymentController": { "type": self.controller.as_str() },
            "createdBy": self.created_by,
            "enableECSManagedTags": self.enable_ecs_managed_tags,
            "propagateTags": self.propagate_tags,
            "enableExecuteCommand": self.enable_execute_command,
            "availabilityZoneRebalancing": self.availability_zone_rebalancing,
        });
        if self.uses_task_sets() {
            // As on AWS, CODE_DEPLOY and EXTERNAL services report through taskSets; deployments is [].
            let sets: Vec<Value> = self
                .sets
                .iter()
                .map(|s| s.to_json(self, tasks, with_tags))
                .collect();
            v["taskSets"] = json!(sets);
            v["deployments"] = json!([]);
        } else {
            let deployments: Vec<Value> = self
                .sets
                .iter()
                .filter(|s| s.kind == SetKind::Deployment)
                .map(|s| s.deployment_json(self, tasks))
                .collect();
            v["deployments"] = json!(deployments);
        }
        if let Some(current) = self.history.current() {
            v["currentServiceDeployment"] = json!(current.arn);
            let revisions: Vec<Value> = self
                .sets
                .iter()
                .filter_map(|s| {
                    let r = self.history.revision_of_set(&s.id)?;
                    let c = counts(tasks, &self.name, &s.id);
                    Some(json!({
                        "arn": r.arn,
                        "requestedTaskCount": s.desired,
                        "runningTaskCount": c.running,
                        "pendingTaskCount": c.pending,
                    }))
                })
                .collect();
            v["currentServiceRevisions"] = json!(revisions);
        }
        if with_tags {
            v["tags"] = tags::to_json(&self.tags);
        }
        io::compact(v)
    }
}
