//! Service deployments and service revisions as ECS keeps them (ServiceDeployment, ServiceRevision in
//! the model), and how the read APIs show them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::config::{Plan, TimeoutAction};
use super::lifecycle::Run;
use crate::ecs::io;
use crate::ecs::services::Service;
use crate::ecs::spec::LaunchSpec;
use crate::ecs::task_sets::counts;
use crate::ecs::tasks::Task;

/// Service deployments a service keeps (newest last); older ones are forgotten.
const KEPT: usize = 100;

/// `ServiceDeploymentStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    InProgress,
    Successful,
    Stopped,
    StopRequested,
    RollbackRequested,
    RollbackInProgress,
    RollbackSuccessful,
    RollbackFailed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::InProgress => "IN_PROGRESS",
            Status::Successful => "SUCCESSFUL",
            Status::Stopped => "STOPPED",
            Status::StopRequested => "STOP_REQUESTED",
            Status::RollbackRequested => "ROLLBACK_REQUESTED",
            Status::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Status::RollbackSuccessful => "ROLLBACK_SUCCESSFUL",
            Status::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    /// Completed, in the developer guide's grouping (SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL,
    /// ROLLBACK_FAILED).
    pub fn completed(self) -> bool {
        matches!(
            self,
            Status::Successful
                | Status::Stopped
                | Status::RollbackSuccessful
                | Status::RollbackFailed
        )
    }
}

/// `DeploymentLifecycleHookStatus` of one hook's run at one stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookStatus {
    AwaitingAction,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::AwaitingAction => "AWAITING_ACTION",
            HookStatus::InProgress => "IN_PROGRESS",
            HookStatus::Succeeded => "SUCCEEDED",
            HookStatus::Failed => "FAILED",
            HookStatus::TimedOut => "TIMED_OUT",
        }
    }
}

/// One hook's run at one stage (`lifecycleHookDetails`).
#[derive(Clone, Debug)]
pub struct HookRun {
    pub hook_id: String,
    /// Index into the plan's hooks.
    pub hook: usize,
    pub stage: &'static str,
    /// The Lambda function, or `None` for a PAUSE hook.
    pub target_arn: Option<String>,
    pub status: HookStatus,
    pub expires_at: f64,
    pub timeout_action: TimeoutAction,
    /// Lambda hooks: whether an invocation is running, when to invoke again (IN_PROGRESS with a
    /// callBackDelay), and the hook details the function returned, passed to its next invocation.
    pub invoking: bool,
    pub next_invoke_at: f64,
    pub details: Value,
    /// Why the hook failed, for the deployment's status reason and the service's events.
    pub failure: Option<String>,
}

#[derive(Clone, Debug)]
pub struct RollbackInfo {
    pub reason: String,
    pub started_at: f64,
    pub revision_arn: String,
}

/// A revision the deployment works with: its ARN and the deployment (task set) that runs it.
#[derive(Clone, Debug)]
pub struct RevisionRef {
    pub arn: String,
    pub set_id: String,
}

#[derive(Clone, Debug)]
pub struct ServiceDeployment {
    pub arn: String,
    pub service_arn: String,
    pub created_at: f64,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub updated_at: f64,
    pub status: Status,
    pub status_reason: Option<String>,
    pub stage: Option<&'static str>,
    /// Green: the revision being deployed.
    pub target: RevisionRef,
    /// Blue: the revision serving when the deployment started (none for a new service).
    pub source: Option<RevisionRef>,
    /// Other revisions still running when it started (a deployment it superseded), which the
    /// RECONCILE_SERVICE stage scales in.
    pub leftovers: Vec<RevisionRef>,
    /// The `deploymentConfiguration` it was created with, and what that means.
    pub configuration: Value,
    pub plan: Plan,
    /// The target groups green and blue serve from.
    pub green_tg: Option<String>,
    pub blue_tg: Option<String>,
    /// Green's requested share of production and test traffic, in percent.
    pub production_weight: f64,
    pub test_weight: f64,
    pub hooks: Vec<HookRun>,
    pub rollback: Option<RollbackInfo>,
    pub failed_tasks: u32,
    pub triggered_alarms: Vec<String>,
    pub run: Run,
    /// Rolling updates: the deployment (task set) that rolls the service back, once there is one.
    pub rollback_set: Option<String>,
}

impl ServiceDeployment {
    pub fn in_progress(&self) -> bool {
        !self.status.completed()
    }

    fn revision_summary(
        &self,
        r: &RevisionRef,
        green: bool,
        service: &Service,
        tasks: &BTreeMap<String, Task>,
    ) -> Value {
        let set = service.sets.iter().find(|s| s.id == r.set_id);
        let c = counts(tasks, &service.name, &r.set_id);
        let share = |w: f64| if green { w } else { 100.0 - w };
        let traffic = self.plan.traffic.is_some();
        io::compact(json!({
            "arn": r.arn,
            "requestedTaskCount": set.map_or(0, |s| s.desired),
            "runningTaskCount": c.running,
            "pendingTaskCount": c.pending,
            "requestedProductionTrafficWeight": traffic.then(|| share(self.production_weight)),
            "requestedTestTrafficWeight": traffic.then(|| share(self.test_weight)),
        }))
    }

    /// `ServiceDeployment`, as DescribeServiceDeployments shows it.
    pub fn to_json(&self, service: &Service, tasks: &BTreeMap<String, Task>) -> Value {
        let sources: Vec<Value> = self
            .source
            .iter()
            .chain(&self.leftovers)
            .map(|r| self.revision_summary(r, false, service, tasks))
            .collect();
        let hooks: Vec<Value> = self
            .hooks
            .iter()
            .map(|h| {
                io::compact(json!({
                    "hookId": h.hook_id,
                    "targetType": if h.target_arn.is_some() { "AWS_LAMBDA" } else { "PAUSE" },
                    "targetArn": h.target_arn,
                    "status": h.status.as_str(),
                    "expiresAt": h.expires_at,
                    "timeoutAction": h.timeout_action.as_str(),
                }))
            })
            .collect();
        let monitor = |enabled: bool, triggered: bool| match (enabled, triggered) {
            (false, _) => "DISABLED",
            (true, true) => "TRIGGERED",
            (true, false) if self.in_progress() => "MONITORING",
            (true, false) => "MONITORING_COMPLETE",
        };
        let breaker = self.plan.circuit_breaker.is_some();
        let threshold = crate::ecs::scheduler::circuit_breaker_threshold(service.desired_count);
        io::compact(json!({
            "serviceDeploymentArn": self.arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "stoppedAt": self.stopped_at,
            "updatedAt": self.updated_at,
            "sourceServiceRevisions": sources,
            "targetServiceRevision": self.revision_summary(&self.target, true, service, tasks),
            "status": self.status.as_str(),
            "statusReason": self.status_reason,
            "lifecycleStage": self.stage,
            "deploymentConfiguration": self.configuration,
            "rollback": self.rollback.as_ref().map(|r| json!({
                "reason": r.reason,
                "startedAt": r.started_at,
                "serviceRevisionArn": r.revision_arn,
            })),
            "deploymentCircuitBreaker": {
                "status": monitor(breaker, breaker && self.failed_tasks >= threshold),
                "failureCount": self.failed_tasks,
                "threshold": threshold,
            },
            "alarms": {
                "status": monitor(!self.plan.alarms.is_empty(), !self.triggered_alarms.is_empty()),
                "alarmNames": self.plan.alarms,
                "triggeredAlarmNames": self.triggered_alarms,
            },
            "lifecycleHookDetails": hooks,
        }))
    }

    /// `ServiceDeploymentBrief`, as ListServiceDeployments shows it.
    pub fn brief(&self, service: &Service) -> Value {
        io::compact(json!({
            "serviceDeploymentArn": self.arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "startedAt": self.started_at,
            "createdAt": self.created_at,
            "finishedAt": self.finished_at,
            "targetServiceRevisionArn": self.target.arn,
            "status": self.status.as_str(),
            "statusReason": self.status_reason,
        }))
    }
}

/// A service revision: what one deployment of the service runs.
#[derive(Clone, Debug)]
pub struct ServiceRevision {
    pub arn: String,
    pub set_id: String,
    pub created_at: f64,
    pub spec: LaunchSpec,
    /// `resolvedConfiguration.loadBalancers`: the group this revision serves from, and the rule.
    pub target_group: Option<String>,
    pub production_rule: Option<String>,
}

impl ServiceRevision {
    pub fn to_json(&self, service: &Service) -> Value {
        let resolved = self.target_group.as_ref().map(|tg| {
            json!({ "loadBalancers": [io::compact(json!({
                "targetGroupArn": tg,
                "productionListenerRule": self.production_rule,
            }))] })
        });
        io::compact(json!({
            "serviceRevisionArn": self.arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "taskDefinition": self.spec.task_definition,
            "capacityProviderStrategy": self.spec.capacity_provider_strategy,
            "launchType": self.spec.launch_type,
            "platformVersion": self.spec.reported_platform_version(),
            "platformFamily": self.spec.is_fargate().then_some("Linux"),
            "loadBalancers": self.spec.load_balancers_json(),
            "serviceRegistries": self.spec.service_registries_json(),
            "networkConfiguration": self.spec.network_configuration,
            "createdAt": self.created_at,
            "resolvedConfiguration": resolved,
        }))
    }
}

/// A service's deployment history (ECS controller).
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Oldest first.
    pub deployments: Vec<ServiceDeployment>,
    pub revisions: Vec<ServiceRevision>,
    /// The group of the pair that serves production now; the next deployment's green goes to the other.
    pub serving_target_group: Option<String>,
}

impl History {
    pub fn push(&mut self, d: ServiceDeployment) {
        self.deployments.push(d);
        if self.deployments.len() > KEPT
            && let Some(i) = self.deployments.iter().position(|d| !d.in_progress())
        {
            self.deployments.remove(i);
            // Revisions go with the last deployment that names them.
            let named: std::collections::HashSet<&str> = self
                .deployments
                .iter()
                .flat_map(|d| {
                    std::iter::once(&d.target)
                        .chain(&d.source)
                        .chain(&d.leftovers)
                        .map(|r| r.arn.as_str())
                })
                .collect();
            self.revisions.retain(|r| named.contains(r.arn.as_str()));
        }
    }

    /// End the deployment in progress, if any, as STOPPED (it will not go on); returns it.
    pub fn stop_in_progress(&mut self, reason: &str, now: f64) -> Option<&ServiceDeployment> {
        let d = self.in_progress_mut()?;
        d.status = Status::Stopped;
        d.status_reason = Some(reason.to_string());
        d.stopped_at = Some(now);
        d.finished_at = Some(now);
        d.updated_at = now;
        Some(d)
    }

    pub fn current(&self) -> Option<&ServiceDeployment> {
        self.deployments.last()
    }

    pub fn in_progress_mut(&mut self) -> Option<&mut ServiceDeployment> {
        self.deployments.iter_mut().rev().find(|d| d.in_progress())
    }

    pub fn find(&self, arn: &str) -> Option<&ServiceDeployment> {
        self.deployments.iter().find(|d| d.arn == arn)
    }

    pub fn find_mut(&mut self, arn: &str) -> Option<&mut ServiceDeployment> {
        self.deployments.iter_mut().find(|d| d.arn == arn)
    }

    pub fn revision(&self, arn: &str) -> Option<&ServiceRevision> {
        self.revisions.iter().find(|r| r.arn == arn)
    }

    pub fn revision_of_set(&self, set_id: &str) -> Option<&ServiceRevision> {
        self.revisions.iter().find(|r| r.set_id == set_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::native::config::Plan;

    fn deployment(n: usize) -> ServiceDeployment {
        let rev = |k: usize| RevisionRef {
            arn: format!("rev/{k}"),
            set_id: format!("ecs-svc/{k}"),
        };
        ServiceDeployment {
            arn: format!("dep/{n}"),
            service_arn: "svc".into(),
            created_at: n as f64,
            started_at: None,
            finished_at: None,
            stopped_at: None,
            updated_at: 0.0,
            status: Status::Successful,
            status_reason: None,
            stage: None,
            target: rev(n),
            source: n.checked_sub(1).map(rev),
            leftovers: Vec::new(),
            configuration: Value::Null,
            plan: Plan::rolling(&Value::Null),
            green_tg: None,
            blue_tg: None,
            production_weight: 0.0,
            test_weight: 0.0,
            hooks: Vec::new(),
            rollback: None,
            failed_tasks: 0,
            triggered_alarms: Vec::new(),
            run: Default::default(),
            rollback_set: None,
        }
    }

    #[test]
    fn history_is_bounded_and_keeps_the_revisions_its_deployments_name() {
        let mut h = History::default();
        for n in 0..KEPT + 10 {
            h.revisions.push(ServiceRevision {
                arn: format!("rev/{n}"),
                set_id: format!("ecs-svc/{n}"),
                created_at: 0.0,
                spec: LaunchSpec::default(),
                target_group: None,
                production_rule: None,
            });
            h.push(deployment(n));
        }
        assert_eq!(h.deployments.len(), KEPT);
        assert_eq!(h.deployments[0].arn, "dep/10");
        // The oldest kept deployment's source (rev/9) is still described.
        assert_eq!(h.revisions.first().map(|r| r.arn.as_str()), Some("rev/9"));
        assert_eq!(h.revisions.len(), KEPT + 1);
    }
}
