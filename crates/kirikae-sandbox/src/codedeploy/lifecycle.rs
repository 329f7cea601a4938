//! The ECS Blue/Green deployment as a state machine, advanced by [`reconcile`] on the sandbox clock.
//!
//! Order (CodeDeploy User Guide, "deployment-steps-ecs"): BeforeInstall → Install (replacement task
//! set in the other target group, until it is healthy) → AfterInstall → AllowTestTraffic →
//! AfterAllowTestTraffic → [Ready wait] → BeforeAllowTraffic → AllowTraffic (production shifted per
//! the config; the replacement becomes PRIMARY when it has all traffic) → AfterAllowTraffic →
//! termination wait → original task set deleted → Succeeded.
//!
//! Failures end the deployment `Failed` (hooks, an unhealthy replacement, API errors) or `Stopped`
//! (StopDeployment, alarms, an expired Ready wait); with rollback a new deployment (creator
//! `codeDeployRollback`) sends traffic back to the original, makes it PRIMARY again and deletes the
//! replacement. A deployment in its termination wait is still `InProgress` (target `Succeeded`), as in
//! AWS, so `deployment_successful` waits for the end.

use serde_json::{Value, json};

use super::appspec::AppSpec;
use super::configs::ShiftStep;
use super::hooks::{HookRunner, LiveHooks};
use super::ids;
use super::platform::{Live, Platform, ServiceView, TargetGroupView, TaskSetView};
use super::types::{
    AlarmConfiguration, AutoRollbackConfiguration, BlueGreenDeploymentConfiguration,
    DeploymentStyle, EcsService, LoadBalancerInfo,
};
use crate::elbv2::weights;
use crate::world::Ctx;

/// How long CodeDeploy waits for the replacement task set to become healthy (AWS: "up to an hour").
const INSTALL_TIMEOUT_SECS: f64 = 3600.0;
/// How long a hook function has to report with `PutLifecycleEventHookExecutionStatus`.
const HOOK_TIMEOUT_SECS: f64 = 3600.0;

/// `DeploymentStatus`. ECS blue/green deployments never queue or bake; those are listed for the model.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Queued,
    InProgress,
    Baking,
    Ready,
    Succeeded,
    Failed,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "Created",
            Status::Queued => "Queued",
            Status::InProgress => "InProgress",
            Status::Baking => "Baking",
            Status::Ready => "Ready",
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::Stopped => "Stopped",
        }
    }

    pub fn terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Stopped)
    }
}

/// Status of the deployment's one target, and of its lifecycle events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    Skipped,
    Ready,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::InProgress => "InProgress",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Skipped => "Skipped",
            Phase::Ready => "Ready",
        }
    }
}

#[derive(Clone, Debug)]
pub struct LifecycleEvent {
    pub name: &'static str,
    pub status: Phase,
    pub start: Option<f64>,
    pub end: Option<f64>,
}

/// One step of the run. Hooks, Install, AllowTestTraffic and AllowTraffic are lifecycle events; the
/// waits and the final deletion are not.
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    Hook(&'static str),
    Install,
    AllowTestTraffic,
    ReadyWait,
    AllowTraffic,
    TerminationWait,
    Terminate,
}

impl Stage {
    fn event(&self) -> Option<&'static str> {
        match self {
            Stage::Hook(e) => Some(e),
            Stage::Install => Some("Install"),
            Stage::AllowTestTraffic => Some("AllowTestTraffic"),
            Stage::AllowTraffic => Some("AllowTraffic"),
            _ => None,
        }
    }
}

/// Where the current stage stands.
#[derive(Clone, Debug, PartialEq)]
enum Progress {
    NotStarted,
    Hook {
        execution_id: String,
        until: f64,
        outcome: Option<Result<(), String>>,
    },
    Installing {
        until: f64,
    },
    Shifting {
        next: usize,
        at: f64,
    },
    Waiting {
        until: f64,
    },
    /// A task set was deleted; waiting until ECS has drained and removed it.
    Deleting,
}

/// The resources a deployment works on, found when it starts.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub cluster: String,
    pub service: String,
    pub service_arn: String,
    /// The task set serving production when the deployment started (blue), and its target group.
    pub original: String,
    pub original_tg: TargetGroupView,
    /// The other target group of the pair (green), and the task set created in it.
    pub replacement: Option<String>,
    pub replacement_tg: TargetGroupView,
    pub prod_listener: String,
    pub test_listener: Option<String>,
}

/// The last seen state of the original (`Blue`) or replacement (`Green`) task set.
#[derive(Clone, Debug)]
pub struct TaskSetSnapshot {
    pub label: &'static str,
    pub view: TaskSetView,
    pub target_group: String,
}

#[derive(Clone, Debug)]
pub struct HookExecution {
    pub id: String,
    pub event: &'static str,
    pub done: bool,
}

#[derive(Clone, Debug, Default)]
pub struct RollbackInfo {
    pub deployment_id: Option<String>,
    pub triggering_deployment_id: Option<String>,
    pub message: Option<String>,
}

/// What a deployment was created with (a snapshot of its group and config at that time).
#[derive(Clone, Debug)]
pub struct Plan {
    pub application: String,
    pub group_name: String,
    pub group_id: String,
    pub config_name: String,
    pub schedule: Vec<ShiftStep>,
    pub revision: Value,
    pub previous_revision: Option<Value>,
    pub appspec: Result<AppSpec, String>,
    pub description: Option<String>,
    pub auto_rollback: AutoRollbackConfiguration,
    pub override_alarms: Option<AlarmConfiguration>,
    pub group_alarms: AlarmConfiguration,
    pub blue_green: BlueGreenDeploymentConfiguration,
    pub load_balancer_info: LoadBalancerInfo,
    pub deployment_style: DeploymentStyle,
    pub service: EcsService,
}

#[derive(Clone, Debug)]
pub struct Deployment {
    pub id: String,
    pub application: String,
    pub group_name: String,
    pub group_id: String,
    pub plan: Plan,
    pub creator: &'static str,
    pub status: Status,
    pub create_time: f64,
    pub start_time: Option<f64>,
    pub complete_time: Option<f64>,
    pub error: Option<(String, String)>,
    pub rollback_info: RollbackInfo,
    pub termination_wait_started: bool,
    pub target_status: Phase,
    pub target_updated: f64,
    pub events: Vec<LifecycleEvent>,
    pub resolved: Option<Resolved>,
    /// Percent of production traffic on the replacement.
    pub replacement_weight: f64,
    pub task_sets: Vec<TaskSetSnapshot>,
    pub hook_executions: Vec<HookExecution>,
    pub status_messages: Vec<String>,
    stages: Vec<Stage>,
    cursor: usize,
    progress: Progress,
    /// A `StopDeployment` to act on: whether to roll back.
    stop: Option<bool>,
    continue_ready: bool,
    skip_termination_wait: bool,
    is_rollback: bool,
}

/// What the state machine acts through, and when.
pub struct Env<'a> {
    pub platform: &'a mut dyn Platform,
    pub hooks: &'a mut dyn HookRunner,
    pub now: f64,
    /// AWS seconds per real second.
    pub scale: f64,
}

impl Env<'_> {
    /// The epoch time an AWS duration from now ends at.
    fn after(&self, aws_secs: f64) -> f64 {
        self.now + aws_secs / self.scale
    }
}

enum Flow {
    /// The stage is complete: on to the next.
    Done,
    /// Nothing more to do until time passes or something reports.
    Wait,
    /// End the deployment.
    End {
        status: Status,
        code: &'static str,
        message: String,
        rollback: bool,
    },
}

impl Flow {
    fn fail(d: &Deployment, code: &'static str, message: impl Into<String>) -> Flow {
        Flow::End {
            status: Status::Failed,
            code,
            message: message.into(),
            rollback: d.plan.auto_rollback.on("DEPLOYMENT_FAILURE"),
        }
    }
}

impl Deployment {
    pub fn new(id: String, plan: Plan, now: f64) -> Deployment {
        let test = plan
            .load_balancer_info
            .pair()
            .and_then(|p| p.test_listener())
            .is_some();
        let mut stages = vec![
            Stage::Hook("BeforeInstall"),
            Stage::Install,
            Stage::Hook("AfterInstall"),
        ];
        if test {
            stages.extend([
                Stage::AllowTestTraffic,
                Stage::Hook("AfterAllowTestTraffic"),
            ]);
        }
        if plan.blue_green.ready_wait_minutes().is_some() {
            stages.push(Stage::ReadyWait);
        }
        stages.extend([
            Stage::Hook("BeforeAllowTraffic"),
            Stage::AllowTraffic,
            Stage::Hook("AfterAllowTraffic"),
            Stage::TerminationWait,
            Stage::Terminate,
        ]);
        let events = stages
            .iter()
            .filter_map(Stage::event)
            .map(|name| LifecycleEvent {
                name,
                status: Phase::Pending,
                start: None,
                end: None,
            })
            .collect();
        Deployment {
            id,
            application: plan.application.clone(),
            group_name: plan.group_name.clone(),
            group_id: plan.group_id.clone(),
            plan,
            creator: "user",
            status: Status::Created,
            create_time: now,
            start_time: None,
            complete_time: None,
            error: None,
            rollback_info: RollbackInfo::default(),
            termination_wait_started: false,
            target_status: Phase::Pending,
            target_updated: now,
            events,
            resolved: None,
            replacement_weight: 0.0,
            task_sets: Vec::new(),
            hook_executions: Vec::new(),
            status_messages: Vec::new(),
            stages,
            cursor: 0,
            progress: Progress::NotStarted,
            stop: None,
            continue_ready: false,
            skip_termination_wait: false,
            is_rollback: false,
        }
    }

    pub fn is_rollback(&self) -> bool {
        self.is_rollback
    }

    /// The alarms this deployment watches (its override, else its group's).
    pub fn alarms(&self) -> &AlarmConfiguration {
        self.plan
            .override_alarms
            .as_ref()
            .unwrap_or(&self.plan.group_alarms)
    }

    pub fn in_termination_wait(&self) -> bool {
        self.stages.get(self.cursor) == Some(&Stage::TerminationWait)
            && matches!(self.progress, Progress::Waiting { .. })
    }

    // ---- What the API handlers ask for. ------------------------------------------------------------

    /// `StopDeployment`; acted on at the next advance.
    pub fn request_stop(&mut self, rollback: Option<bool>) {
        let rollback =
            rollback.unwrap_or_else(|| self.plan.auto_rollback.on("DEPLOYMENT_STOP_ON_REQUEST"));
        self.stop = Some(rollback);
    }

    /// `ContinueDeployment(READY_WAIT)`.
    pub fn continue_from_ready(&mut self) {
        self.continue_ready = true;
    }

    /// `ContinueDeployment(TERMINATION_WAIT)`.
    pub fn skip_termination_wait(&mut self) {
        self.skip_termination_wait = true;
    }

    /// A hook's outcome, from `PutLifecycleEventHookExecutionStatus` or from a failed invocation.
    /// `Err` when the execution is unknown or already complete.
    pub fn report_hook(
        &mut self,
        execution_id: &str,
        outcome: Result<(), String>,
    ) -> Result<(), HookReportError> {
        let exec = self
            .hook_executions
            .iter_mut()
            .find(|h| h.id == execution_id)
            .ok_or(HookReportError::Unknown)?;
        if exec.done {
            return Err(HookReportError::AlreadyCompleted);
        }
        match &mut self.progress {
            Progress::Hook {
                execution_id: current,
                outcome: slot @ None,
                ..
            } if current == execution_id => {
                exec.done = true;
                *slot = Some(outcome);
                Ok(())
            }
            _ => {
                exec.done = true;
                Err(HookReportError::AlreadyCompleted)
            }
        }
    }

    // ---- The state machine. -----------------------------------------------------------------------

    /// Advance as far as possible now. Returns the rollback deployment this one started, if any.
    pub fn advance(&mut self, env: &mut Env) -> Option<Deployment> {
        // Every pass either completes a stage or returns; the bound only guards against a bug.
        for _ in 0..64 {
            if self.status.terminal() {
                return None;
            }
            if let Some(rollback) = self.stop.take() {
                let message = format!(
                    "Deployment {} was stopped by the StopDeployment API.",
                    self.id
                );
                return self.end(env, Status::Stopped, "MANUAL_STOP", message, rollback);
            }
            if self.status == Status::Created {
                if let Flow::End {
                    status,
                    code,
                    message,
                    rollback,
                } = self.start(env)
                {
                    return self.end(env, status, code, message, rollback);
                }
                continue;
            }
            self.refresh_task_sets(env);
            if let Some(message) = self.alarm_activated(env) {
                let rollback = self.plan.auto_rollback.on("DEPLOYMENT_STOP_ON_ALARM");
                return self.end(env, Status::Stopped, "ALARM_ACTIVE", message, rollback);
            }
            let Some(stage) = self.stages.get(self.cursor).cloned() else {
                self.succeed(env.now);
                return None;
            };
            match self.run(&stage, env) {
                Flow::Wait => return None,
                Flow::Done => {
                    if let Some(e) = stage.event().and_then(|n| self.event_mut(n))
                        && e.status == Phase::InProgress
                    {
                        e.status = Phase::Succeeded;
                        e.end = Some(env.now);
                    }
                    self.target_updated = env.now;
                    self.cursor += 1;
                    self.progress = Progress::NotStarted;
                }
                Flow::End {
                    status,
                    code,
                    message,
                    rollback,
                } => return self.end(env, status, code, message, rollback),
            }
        }
        tracing::warn!(deployment = %self.id, "lifecycle made no progress in 64 passes");
        None
    }

    /// Created → InProgress: find the service's primary task set, which target group it serves from
    /// (blue) and so which one the replacement goes to (green).
    fn start(&mut self, env: &mut Env) -> Flow {
        self.status = Status::InProgress;
        self.start_time = Some(env.now);
        self.target_status = Phase::InProgress;
        self.target_updated = env.now;
        if self.is_rollback {
            return Flow::Done;
        }
        if let Err(message) = &self.plan.appspec {
            let message = message.clone();
            return Flow::End {
                status: Status::Failed,
                code: "INVALID_REVISION",
                message,
                rollback: false,
            };
        }
        match resolve(&self.plan, env.platform) {
            Ok(r) => {
                self.resolved = Some(r);
                self.refresh_task_sets(env);
                Flow::Done
            }
            Err((code, message)) => Flow::End {
                status: Status::Failed,
                code,
                message,
                rollback: false,
            },
        }
    }

    fn run(&mut self, stage: &Stage, env: &mut Env) -> Flow {
        match stage {
            Stage::Hook(event) => self.run_hook(event, env),
            Stage::Install => self.run_install(env),
            Stage::AllowTestTraffic => {
                self.begin_event("AllowTestTraffic", env.now);
                let r = self.resolved.clone().expect("resolved at start");
                let Some(test) = &r.test_listener else {
                    return Flow::Done;
                };
                match route(env.platform, test, &r, 100) {
                    Ok(()) => Flow::Done,
                    Err(m) => Flow::fail(self, "ELASTIC_LOAD_BALANCING_INVALID", m),
                }
            }
            Stage::ReadyWait => self.run_ready_wait(env),
            Stage::AllowTraffic => self.run_allow_traffic(env),
            Stage::TerminationWait => {
                if self.progress == Progress::NotStarted {
                    // The target is done; the deployment stays InProgress until the original is gone.
                    self.target_status = Phase::Succeeded;
                    self.target_updated = env.now;
                    // "Status is 'false' if the KEEP_ALIVE option is specified. Otherwise, 'true' as
                    // soon as the termination wait period starts." (model doc of DeploymentInfo)
                    self.termination_wait_started = self.plan.blue_green.terminates_original();
                    let minutes = self.plan.blue_green.termination_wait_minutes() as f64;
                    self.progress = Progress::Waiting {
                        until: env.after(minutes * 60.0),
                    };
                }
                match self.progress {
                    Progress::Waiting { until }
                        if self.skip_termination_wait || env.now >= until =>
                    {
                        Flow::Done
                    }
                    _ => Flow::Wait,
                }
            }
            Stage::Terminate => {
                let r = self.resolved.clone().expect("resolved at start");
                if !(self.is_rollback || self.plan.blue_green.terminates_original()) {
                    return Flow::Done;
                }
                if self.progress == Progress::NotStarted {
                    if let Err(e) =
                        env.platform
                            .delete_task_set(&r.cluster, &r.service, &r.original)
                        && e.code != "TaskSetNotFoundException"
                    {
                        return Flow::fail(
                            self,
                            "ECS_UPDATE_ERROR",
                            format!(
                                "Deleting the original task set {} failed: {}",
                                r.original, e.message
                            ),
                        );
                    }
                    if let Some(s) = self.task_sets.iter_mut().find(|s| s.view.id == r.original) {
                        s.view.status = "DRAINING".into();
                    }
                    if !self.is_rollback {
                        return Flow::Done;
                    }
                    self.progress = Progress::Deleting;
                }
                // A rollback ends when the replacement it deleted is gone: its tasks deregistered
                // (after the target group's deregistration delay, on the sandbox clock) and stopped.
                // Until then clients see the rollback InProgress, as on AWS, where it is not instant.
                match env.platform.describe_service(&r.cluster, &r.service) {
                    Ok(Some(service)) if service.task_set(&r.original).is_some() => Flow::Wait,
                    _ => Flow::Done,
                }
            }
        }
    }

    fn run_hook(&mut self, event: &'static str, env: &mut Env) -> Flow {
        match &self.progress {
            Progress::NotStarted => {
                self.begin_event(event, env.now);
                // A rollback reroutes at once; it runs no hooks.
                if self.is_rollback {
                    if let Some(e) = self.event_mut(event) {
                        e.status = Phase::Skipped;
                        e.end = Some(env.now);
                    }
                    return Flow::Done;
                }
                let Some(function) = self
                    .plan
                    .appspec
                    .as_ref()
                    .ok()
                    .and_then(|a| a.hook(event))
                    .map(String::from)
                else {
                    return Flow::Done;
                };
                let execution_id = ids::hook_execution_id();
                self.hook_executions.push(HookExecution {
                    id: execution_id.clone(),
                    event,
                    done: false,
                });
                if let Err(message) = env.hooks.invoke(&self.id, &execution_id, event, &function) {
                    return Flow::fail(self, "HOOK_EXECUTION_FAILURE", message);
                }
                self.progress = Progress::Hook {
                    execution_id,
                    until: env.after(HOOK_TIMEOUT_SECS),
                    outcome: None,
                };
                Flow::Wait
            }
            Progress::Hook {
                outcome: Some(Ok(())),
                ..
            } => Flow::Done,
            Progress::Hook {
                outcome: Some(Err(m)),
                ..
            } => {
                let m = m.clone();
                Flow::fail(self, "HOOK_EXECUTION_FAILURE", m)
            }
            Progress::Hook { until, .. } if env.now >= *until => {
                let function = self
                    .plan
                    .appspec
                    .as_ref()
                    .ok()
                    .and_then(|a| a.hook(event))
                    .unwrap_or_default()
                    .to_string();
                Flow::fail(
                    self,
                    "HOOK_EXECUTION_FAILURE",
                    format!(
                        "The {event} hook function {function} did not report a status with PutLifecycleEventHookExecutionStatus within 60 minutes."
                    ),
                )
            }
            _ => Flow::Wait,
        }
    }

    fn run_install(&mut self, env: &mut Env) -> Flow {
        let r = self.resolved.clone().expect("resolved at start");
        if self.is_rollback {
            // The original task set is still there: nothing to install.
            self.begin_event("Install", env.now);
            if let Some(e) = self.event_mut("Install") {
                e.status = Phase::Skipped;
                e.end = Some(env.now);
            }
            return Flow::Done;
        }
        match self.progress {
            Progress::NotStarted => {
                self.begin_event("Install", env.now);
                let appspec = self.plan.appspec.clone().expect("checked at start");
                // Leftovers of earlier deployments that ended without rollback would share the
                // replacement's target group; CodeDeploy starts from the primary alone. [U]
                if let Ok(Some(service)) = env.platform.describe_service(&r.cluster, &r.service) {
                    for ts in service
                        .task_sets
                        .iter()
                        .filter(|t| t.status == "ACTIVE" && t.id != r.original)
                    {
                        let _ = env.platform.delete_task_set(&r.cluster, &r.service, &ts.id);
                    }
                }
                // Since late 2022 CodeDeploy keeps the replacement's target group on the production
                // listener at weight 0, so the load balancer health-checks the new tasks.
                if let Err(m) = route(env.platform, &r.prod_listener, &r, 0) {
                    return Flow::fail(self, "ELASTIC_LOAD_BALANCING_INVALID", m);
                }
                let service = match env.platform.describe_service(&r.cluster, &r.service) {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        return Flow::fail(
                            self,
                            "INVALID_ECS_SERVICE",
                            format!("The ECS service {} no longer exists.", r.service),
                        );
                    }
                    Err(e) => return Flow::fail(self, "ECS_UPDATE_ERROR", e.message),
                };
                match env
                    .platform
                    .create_task_set(task_set_input(&self.id, &appspec, &r, &service))
                {
                    Ok(ts) => {
                        self.resolved.as_mut().expect("resolved").replacement = Some(ts.id.clone());
                        self.task_sets.push(TaskSetSnapshot {
                            label: "Green",
                            view: ts,
                            target_group: r.replacement_tg.name.clone(),
                        });
                        self.progress = Progress::Installing {
                            until: env.after(INSTALL_TIMEOUT_SECS),
                        };
                        Flow::Wait
                    }
                    Err(e) => Flow::fail(
                        self,
                        "ECS_UPDATE_ERROR",
                        format!(
                            "The replacement task set could not be created: {}: {}",
                            e.code, e.message
                        ),
                    ),
                }
            }
            Progress::Installing { until } => {
                let id = r.replacement.clone().unwrap_or_default();
                let steady = self
                    .task_sets
                    .iter()
                    .any(|s| s.view.id == id && s.view.steady());
                if steady {
                    Flow::Done
                } else if env.now >= until {
                    Flow::fail(
                        self,
                        "ECS_UPDATE_ERROR",
                        format!(
                            "The deployment timed out while waiting for the replacement task set {id} to become healthy. This time out period is 60 minutes."
                        ),
                    )
                } else {
                    Flow::Wait
                }
            }
            _ => Flow::Wait,
        }
    }

    fn run_ready_wait(&mut self, env: &mut Env) -> Flow {
        if self.progress == Progress::NotStarted {
            self.status = Status::Ready;
            self.target_status = Phase::Ready;
            self.target_updated = env.now;
            let minutes = self.plan.blue_green.ready_wait_minutes().unwrap_or(0) as f64;
            self.progress = Progress::Waiting {
                until: env.after(minutes * 60.0),
            };
        }
        let Progress::Waiting { until } = self.progress else {
            return Flow::Wait;
        };
        if self.continue_ready {
            self.status = Status::InProgress;
            self.target_status = Phase::InProgress;
            self.target_updated = env.now;
            Flow::Done
        } else if env.now >= until {
            // An expired Ready wait stops the deployment (model doc of DeploymentReadyOption). Whether
            // it rolls back is not documented; it does when failures roll back. [U]
            Flow::End {
                status: Status::Stopped,
                code: "TIMEOUT",
                message: "The deployment was stopped because traffic was not rerouted to the replacement task set within the specified wait time.".into(),
                rollback: self.plan.auto_rollback.on("DEPLOYMENT_FAILURE"),
            }
        } else {
            Flow::Wait
        }
    }

    fn run_allow_traffic(&mut self, env: &mut Env) -> Flow {
        let r = self.resolved.clone().expect("resolved at start");
        if self.progress == Progress::NotStarted {
            self.begin_event("AllowTraffic", env.now);
            self.progress = Progress::Shifting {
                next: 0,
                at: env.now,
            };
        }
        let Progress::Shifting { next, at } = self.progress else {
            return Flow::Wait;
        };
        if env.now < at {
            return Flow::Wait;
        }
        let step = self.plan.schedule[next];
        // One ModifyListener under the world lock: the switch is atomic for the proxy.
        if let Err(m) = route(env.platform, &r.prod_listener, &r, step.replacement_percent) {
            return Flow::fail(self, "ELASTIC_LOAD_BALANCING_INVALID", m);
        }
        self.replacement_weight = step.replacement_percent as f64;
        if next + 1 < self.plan.schedule.len() {
            self.progress = Progress::Shifting {
                next: next + 1,
                at: env.after(step.hold_minutes as f64 * 60.0),
            };
            return Flow::Wait;
        }
        // All production traffic is on the replacement: it becomes the service's primary task set.
        let replacement = r.replacement.clone().unwrap_or_default();
        let already = self
            .task_sets
            .iter()
            .any(|s| s.view.id == replacement && s.view.status == "PRIMARY");
        if !already
            && let Err(e) =
                env.platform
                    .update_primary_task_set(&r.cluster, &r.service, &replacement)
        {
            return Flow::fail(
                self,
                "ECS_UPDATE_ERROR",
                format!("UpdateServicePrimaryTaskSet failed: {}", e.message),
            );
        }
        self.refresh_task_sets(env);
        Flow::Done
    }

    /// End the deployment; with `rollback` (and something to roll back) start the rollback deployment.
    fn end(
        &mut self,
        env: &mut Env,
        status: Status,
        code: &'static str,
        message: String,
        rollback: bool,
    ) -> Option<Deployment> {
        for e in &mut self.events {
            match e.status {
                Phase::InProgress => {
                    e.status = Phase::Failed;
                    e.end = Some(env.now);
                }
                Phase::Pending => e.status = Phase::Skipped,
                _ => {}
            }
        }
        tracing::info!(deployment = %self.id, status = status.as_str(), code, "{message}");
        self.status = status;
        self.target_status = Phase::Failed;
        self.target_updated = env.now;
        self.complete_time = Some(env.now);
        self.error = Some((code.to_string(), message));
        self.progress = Progress::NotStarted;
        let r = self.resolved.clone()?;
        // BeforeInstall failures leave nothing to roll back.
        let green = r.replacement.clone()?;
        if !rollback || self.is_rollback {
            return None;
        }
        let mut rb = self.clone();
        rb.id = ids::deployment_id();
        rb.creator = "codeDeployRollback";
        rb.is_rollback = true;
        rb.status = Status::Created;
        rb.create_time = env.now;
        rb.start_time = None;
        rb.complete_time = None;
        rb.error = None;
        rb.termination_wait_started = false;
        rb.target_status = Phase::Pending;
        rb.hook_executions.clear();
        rb.status_messages.clear();
        rb.stop = None;
        rb.plan.auto_rollback = AutoRollbackConfiguration::default();
        rb.plan.override_alarms = Some(AlarmConfiguration::default());
        rb.plan.schedule = vec![ShiftStep {
            replacement_percent: 100,
            hold_minutes: 0,
        }];
        rb.plan.revision = self
            .plan
            .previous_revision
            .clone()
            .unwrap_or_else(|| self.plan.revision.clone());
        rb.plan.previous_revision = Some(self.plan.revision.clone());
        // The rollback's "replacement" is the original task set; it deletes what this one created.
        rb.resolved = Some(Resolved {
            original: green,
            original_tg: r.replacement_tg.clone(),
            replacement: Some(r.original.clone()),
            replacement_tg: r.original_tg.clone(),
            ..r
        });
        rb.replacement_weight = 100.0 - self.replacement_weight;
        for s in &mut rb.task_sets {
            s.label = if s.label == "Blue" { "Green" } else { "Blue" };
        }
        rb.stages = self
            .stages
            .iter()
            .filter(|s| !matches!(s, Stage::ReadyWait | Stage::TerminationWait))
            .cloned()
            .collect();
        rb.events = rb
            .stages
            .iter()
            .filter_map(Stage::event)
            .map(|name| LifecycleEvent {
                name,
                status: Phase::Pending,
                start: None,
                end: None,
            })
            .collect();
        rb.cursor = 0;
        rb.progress = Progress::NotStarted;
        rb.rollback_info = RollbackInfo {
            deployment_id: None,
            triggering_deployment_id: Some(self.id.clone()),
            message: Some(format!(
                "Rollback of deployment {} to the original task set {}.",
                self.id, r.original
            )),
        };
        self.rollback_info.deployment_id = Some(rb.id.clone());
        self.rollback_info.message = Some(format!(
            "Deployment {} was rolled back by deployment {}.",
            self.id, rb.id
        ));
        Some(rb)
    }

    fn succeed(&mut self, now: f64) {
        self.status = Status::Succeeded;
        self.target_status = Phase::Succeeded;
        self.target_updated = now;
        self.complete_time = Some(now);
    }

    fn begin_event(&mut self, name: &str, now: f64) {
        if let Some(e) = self.event_mut(name) {
            e.status = Phase::InProgress;
            e.start = Some(now);
        }
        self.target_updated = now;
    }

    fn event_mut(&mut self, name: &str) -> Option<&mut LifecycleEvent> {
        self.events.iter_mut().find(|e| e.name == name)
    }

    /// Keep `taskSetsInfo` current while the deployment runs.
    fn refresh_task_sets(&mut self, env: &mut Env) {
        let Some(r) = &self.resolved else { return };
        let Ok(Some(service)) = env.platform.describe_service(&r.cluster, &r.service) else {
            return;
        };
        let wanted = [
            (&Some(r.original.clone()), &r.original_tg),
            (&r.replacement, &r.replacement_tg),
        ];
        for (i, (id, tg)) in wanted.into_iter().enumerate() {
            let Some(id) = id else { continue };
            let Some(view) = service.task_set(id) else {
                continue;
            };
            let label = if (i == 0) != self.is_rollback {
                "Blue"
            } else {
                "Green"
            };
            match self.task_sets.iter_mut().find(|s| &s.view.id == id) {
                Some(s) => s.view = view.clone(),
                None => self.task_sets.push(TaskSetSnapshot {
                    label,
                    view: view.clone(),
                    target_group: tg.name.clone(),
                }),
            }
        }
    }

    /// `Some(reason)` when a watched alarm is in ALARM, or cannot be read and that is not ignored.
    fn alarm_activated(&mut self, env: &mut Env) -> Option<String> {
        if self.is_rollback {
            return None;
        }
        let config = self.alarms().clone();
        let names = config.watched();
        if names.is_empty() {
            return None;
        }
        let unreadable = |detail: String| {
            (!config.ignore_poll_alarm_failure)
                .then(|| format!("The deployment was stopped because the state of its CloudWatch alarms could not be retrieved: {detail}"))
        };
        let states = match env.platform.alarm_states(&names) {
            Ok(s) => s,
            Err(e) => return unreadable(e.message),
        };
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !states.iter().any(|(s, _)| s == *n))
            .collect();
        let firing: Vec<&str> = states
            .iter()
            .filter(|(_, s)| s == "ALARM")
            .map(|(n, _)| n.as_str())
            .collect();
        if !firing.is_empty() {
            return Some(format!(
                "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <{}>",
                firing.join(", ")
            ));
        }
        if !missing.is_empty() {
            return unreadable(format!(
                "alarm(s) {} do not exist",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum HookReportError {
    Unknown,
    AlreadyCompleted,
}

/// Find the service, its primary task set, the target group pair's roles and the listeners.
fn resolve(plan: &Plan, p: &mut dyn Platform) -> Result<Resolved, (&'static str, String)> {
    let (cluster, service) = (
        plan.service.cluster().to_string(),
        plan.service.service().to_string(),
    );
    let view = match p.describe_service(&cluster, &service) {
        Ok(Some(v)) if v.status == "ACTIVE" => v,
        Ok(_) => {
            return Err((
                "INVALID_ECS_SERVICE",
                format!(
                    "The ECS service {service} in cluster {cluster} does not exist or is not ACTIVE."
                ),
            ));
        }
        Err(e) => {
            return Err((
                "ECS_UPDATE_ERROR",
                format!("DescribeServices failed: {}", e.message),
            ));
        }
    };
    let Some(primary) = view.primary() else {
        return Err((
            "INVALID_ECS_SERVICE",
            format!("The ECS service {service} has no PRIMARY task set."),
        ));
    };
    let pair = plan.load_balancer_info.pair().cloned().unwrap_or_default();
    let tgs = p.target_groups(&pair.names()).map_err(|e| {
        (
            "ELASTIC_LOAD_BALANCING_INVALID",
            format!(
                "The deployment group's target groups cannot be read: {}",
                e.message
            ),
        )
    })?;
    let primary_tg = primary.target_group_arn().unwrap_or_default();
    let Some(blue) = tgs.iter().find(|t| t.arn == primary_tg).cloned() else {
        // AWS's words first (a deployment failing right after it starts); the detail is the sandbox's.
        return Err((
            "ELASTIC_LOAD_BALANCING_INVALID",
            format!(
                "A deployment group associated with an application that uses the ECS compute platform must contain a valid pair of target groups that identify a load balancer. (The PRIMARY task set {} is registered with target group {primary_tg}, which is not one of the deployment group's target groups: {}.)",
                primary.id,
                pair.names().join(", ")
            ),
        ));
    };
    let green = tgs.iter().find(|t| t.arn != blue.arn).cloned().ok_or((
        "ELASTIC_LOAD_BALANCING_INVALID",
        "The target group pair has one target group.".to_string(),
    ))?;
    let prod = pair.prod_listener().unwrap_or_default().to_string();
    let test = pair.test_listener().map(String::from);
    for l in std::iter::once(&prod).chain(test.as_ref()) {
        p.listener_actions(l).map_err(|e| {
            (
                "ELASTIC_LOAD_BALANCING_INVALID",
                format!("Listener {l} cannot be read: {}", e.message),
            )
        })?;
    }
    // The production listener must serve the original task set: CodeDeploy shifts its traffic from
    // there. AWS fails the deployment with this message (CodeDeploy User Guide, "Troubleshoot Amazon
    // ECS deployment issues"); the group itself was accepted when it was created.
    if !behind_listener(p, &prod, &blue.arn) {
        return Err((
            "ELASTIC_LOAD_BALANCING_INVALID",
            format!(
                "The ELB could not be updated due to the following error: Primary taskset target group must be behind listener {prod}"
            ),
        ));
    }
    Ok(Resolved {
        cluster,
        service,
        service_arn: view.service_arn.clone(),
        original: primary.id.clone(),
        original_tg: blue,
        replacement: None,
        replacement_tg: green,
        prod_listener: prod,
        test_listener: test,
    })
}

/// Whether a listener forwards to a target group, by its default actions or one of its rules (weight 0
/// included: the group is still behind the listener).
fn behind_listener(p: &mut dyn Platform, listener: &str, tg_arn: &str) -> bool {
    let forwards = |actions: &[Value]| weights::forwards_to(actions, tg_arn);
    p.listener_actions(listener)
        .is_ok_and(|actions| forwards(&actions))
        || p.listener_rules(listener)
            .unwrap_or_default()
            .iter()
            .any(|r| forwards(&r.actions))
}

/// `CreateTaskSet` for the replacement: the AppSpec's settings, else the service's.
fn task_set_input(deployment_id: &str, a: &AppSpec, r: &Resolved, service: &ServiceView) -> Value {
    let mut input = json!({
        "cluster": r.cluster,
        "service": r.service,
        "externalId": deployment_id,
        "taskDefinition": a.task_definition,
        "loadBalancers": [{ "targetGroupArn": r.replacement_tg.arn, "containerName": a.container_name, "containerPort": a.container_port }],
        "scale": { "value": 100.0, "unit": "PERCENT" },
        "clientToken": deployment_id,
    });
    if let Some(n) = a
        .network_configuration
        .clone()
        .or_else(|| service.network_configuration.clone())
    {
        input["networkConfiguration"] = n;
    }
    if let Some(v) = a
        .platform_version
        .clone()
        .or_else(|| service.platform_version.clone())
    {
        input["platformVersion"] = json!(v);
    }
    match (a.capacity_provider_strategy.clone(), &service.launch_type) {
        (Some(cps), _) => input["capacityProviderStrategy"] = cps,
        (None, Some(lt)) => input["launchType"] = json!(lt),
        (None, None) => {
            if let Some(cps) = service
                .capacity_provider_strategy
                .clone()
                .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
            {
                input["capacityProviderStrategy"] = cps;
            }
        }
    }
    input
}

/// Point a listener's forwards over the pair at `replacement_percent` on the replacement.
fn route(
    p: &mut dyn Platform,
    listener: &str,
    r: &Resolved,
    replacement_percent: u32,
) -> Result<(), String> {
    let actions = p
        .listener_actions(listener)
        .map_err(|e| format!("Listener {listener} cannot be read: {}", e.message))?;
    let new = reweight(&actions, r, replacement_percent).ok_or_else(|| {
        format!(
            "Listener {listener} does not forward to target group {} or {}.",
            r.original_tg.name, r.replacement_tg.name
        )
    })?;
    p.modify_listener(listener, new).map_err(|e| {
        format!(
            "ModifyListener on {listener} failed: {}: {}",
            e.code, e.message
        )
    })?;
    // Rules that forward to the pair follow the default action. A listener whose rules cannot be read
    // has only its default action to move.
    for rule in p
        .listener_rules(listener)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| !r.is_default)
    {
        if let Some(actions) = reweight(&rule.actions, r, replacement_percent) {
            p.modify_rule(&rule.arn, actions)
                .map_err(|e| format!("ModifyRule on {} failed: {}", rule.arn, e.message))?;
        }
    }
    Ok(())
}

/// The actions with every forward to either target group of the pair replaced by a weighted forward
/// over both (the inactive one stays at weight 0, as CodeDeploy leaves it). `None` when no action
/// forwards to the pair.
pub fn reweight(actions: &[Value], r: &Resolved, replacement_percent: u32) -> Option<Vec<Value>> {
    weights::reweight(
        actions,
        (&r.replacement_tg.arn, replacement_percent),
        (&r.original_tg.arn, 100 - replacement_percent),
    )
}

/// Advance every unfinished deployment of the region.
pub fn reconcile(cx: &mut Ctx) {
    let active: Vec<String> = cx
        .region
        .codedeploy
        .deployments
        .values()
        .filter(|d| !d.status.terminal())
        .map(|d| d.id.clone())
        .collect();
    for id in active {
        advance_one(cx, &id);
    }
}

/// The time a deployment step is stamped with: read now, under the world lock, rather than `cx.now`,
/// which the controller reads before it waits for the lock and runs the other services' reconcile.
/// A listener switch stamped `t` is then in effect for every request routed after `t` (routing takes
/// the same lock), so clients can compare the reported event times with their own clocks.
fn decision_time(cx: &Ctx) -> f64 {
    cx.now.max(cx.shared.clock.now_epoch())
}

/// Advance one deployment now (reconcile, and handlers whose effect AWS shows at once).
pub fn advance_one(cx: &mut Ctx, id: &str) {
    let Some(mut d) = cx.region.codedeploy.deployments.remove(id) else {
        return;
    };
    let (now, scale) = (decision_time(cx), cx.shared.clock.scale());
    let mut hooks = LiveHooks::new(cx);
    let rollback = {
        let mut platform = Live { cx };
        let mut env = Env {
            platform: &mut platform,
            hooks: &mut hooks,
            now,
            scale,
        };
        d.advance(&mut env)
    };
    cx.region.codedeploy.deployments.insert(id.to_string(), d);
    // The rollback is a deployment of its own, `Created` until the next pass of the controller starts it.
    if let Some(rb) = rollback {
        cx.region.codedeploy.deployments.insert(rb.id.clone(), rb);
    }
}

#[cfg(test)]
mod tests;
