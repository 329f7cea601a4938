//! What a running deploy tells its observer: steps done, and snapshots of the service rollout or the
//! CodeDeploy deployment while waiting. The binary renders them (live on a terminal, timestamped lines
//! elsewhere); the engine never prints.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_codedeploy::types::{
    DeploymentStatus, ErrorCode, LifecycleEventStatus, TargetLabel, TargetStatus,
};
use aws_sdk_ecs::types::StabilityStatus;
use serde::Serialize;

use crate::group::Change;
use crate::wire;

/// Receives a deploy's events, in order. Called from the deploy's task; keep it quick.
pub trait Observer: Send + Sync {
    fn on_event(&self, event: &Event);
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn on_event(&self, _: &Event) {}
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step finished (e.g. "created application AppEcs-demo-web").
    Step {
        message: String,
    },
    /// The deployment group was updated to match the config.
    GroupUpdated {
        name: String,
        changes: Vec<Change>,
    },
    /// The service is being created; `ServiceProgress` follows.
    ServiceCreating {
        service: String,
        task_definition: String,
        desired_count: i32,
    },
    ServiceProgress(ServiceSnapshot),
    DeploymentCreated {
        deployment_id: String,
        console_url: String,
        task_definition: String,
    },
    DeploymentProgress(DeploymentSnapshot),
    /// An ECS service deployment (ECS-native Blue/Green) as last seen: status, stage, each revision's
    /// tasks and weights, a hook awaiting action.
    ServiceDeploymentProgress(crate::watch::native::Snapshot),
    /// CodeDeploy rolls back with a new deployment; `DeploymentProgress` for it follows.
    RollbackStarted {
        deployment_id: String,
        rollback_deployment_id: String,
    },
    /// AWS throttled a poll; waiting longer between polls.
    Throttled {
        interval_seconds: f64,
    },
    /// A poll failed in a way that may heal (network, timeout, 5xx): kirikae keeps asking until the
    /// deadline. `since` is epoch seconds.
    LostContact {
        since: f64,
        operation: String,
        error: String,
    },
    /// Polls answer again after [`Event::LostContact`].
    ContactRestored {
        since: f64,
        down_seconds: f64,
    },
    /// Nothing changed for a while; still waiting (for logs that fail a job after minutes of silence).
    Heartbeat {
        waited_seconds: f64,
    },
    /// Something went wrong that does not fail the deploy (e.g. a notification).
    Warning {
        message: String,
    },
    /// The deployment is Ready: the gate checks green through the test listener.
    GateStarted {
        deployment_id: String,
        test_url: Option<String>,
        /// The HTTP checks, said for a person (`GET /health → 200`).
        checks: Vec<String>,
        command: Option<String>,
    },
    /// One HTTP check of the gate ended.
    GateCheck(crate::gate::CheckResult),
    /// The gate's command ended.
    GateCommand(crate::gate::CommandResult),
    /// The gate decided; `action` says what kirikae does now (shift production, wait for approval, roll
    /// back).
    GateDecided {
        deployment_id: String,
        passed: bool,
        summary: String,
        action: String,
    },
    /// The `before_switch:` task was started (RunTask), before the deployment exists.
    BeforeSwitchStarted {
        task_arn: String,
        container: String,
        command: Vec<String>,
    },
    /// The `before_switch:` task's `lastStatus` changed.
    BeforeSwitchStatus {
        task_arn: String,
        last_status: String,
    },
    /// The `before_switch:` task stopped, or kirikae stopped waiting for it (`still_running`).
    BeforeSwitchEnded(crate::before_switch::TaskReport),
    /// Held in Ready until someone promotes it (`promote`: how), or kirikae does at `auto_promote_at`
    /// (epoch seconds).
    AwaitingApproval {
        deployment_id: String,
        promote: String,
        auto_promote_at: Option<f64>,
    },
}

/// The service's task sets while a new CODE_DEPLOY service starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSnapshot {
    pub status: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub pending_count: i32,
    /// The PRIMARY task set's stability (`STABILIZING` / `STEADY_STATE`).
    #[serde(serialize_with = "wire::opt")]
    pub stability: Option<StabilityStatus>,
    /// The newest service event message.
    pub last_event: Option<String>,
}

/// A CodeDeploy deployment as last seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentSnapshot {
    pub deployment_id: String,
    /// `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed`, `Stopped`.
    #[serde(serialize_with = "wire::str")]
    pub status: DeploymentStatus,
    /// The ECS target's status (`Succeeded` while blue waits for termination).
    #[serde(serialize_with = "wire::opt")]
    pub target_status: Option<TargetStatus>,
    pub lifecycle_events: Vec<LifecycleEvent>,
    pub task_sets: Vec<TaskSet>,
    pub error: Option<ErrorInfo>,
    pub rollback: Option<RollbackInfo>,
    /// Whether blue's termination wait has started (traffic fully on green).
    pub termination_wait_started: bool,
    /// Whether this is a rollback deployment made by CodeDeploy.
    pub is_rollback: bool,
    /// When the deployment ended (epoch seconds, AWS's clock).
    pub complete_time: Option<f64>,
}

impl DeploymentSnapshot {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status,
            DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped
        )
    }

    pub fn event(&self, name: &str) -> Option<&LifecycleEvent> {
        self.lifecycle_events.iter().find(|e| e.name == name)
    }

    /// Percent of production traffic on green (the task set labelled Green, else the non-PRIMARY one while
    /// shifting).
    pub fn green_weight(&self) -> Option<f64> {
        self.task_sets
            .iter()
            .find(|t| t.label == Some(TargetLabel::Green))
            .map(|t| t.traffic_weight)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LifecycleEvent {
    pub name: String,
    /// `Pending`, `InProgress`, `Succeeded`, `Failed`, `Skipped`, `Unknown`.
    #[serde(serialize_with = "wire::str")]
    pub status: LifecycleEventStatus,
    /// Epoch seconds (AWS's clock).
    pub start: Option<f64>,
    pub end: Option<f64>,
    /// What CodeDeploy says of a failed event (its diagnostics: error code, message, log tail).
    pub diagnostic: Option<String>,
}

impl LifecycleEvent {
    pub fn duration_seconds(&self) -> Option<f64> {
        Some(self.end? - self.start?)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskSet {
    pub id: String,
    /// `Blue` / `Green`.
    #[serde(serialize_with = "wire::opt")]
    pub label: Option<TargetLabel>,
    /// `PRIMARY`, `ACTIVE`, `DRAINING`.
    pub status: String,
    pub traffic_weight: f64,
    pub desired_count: i64,
    pub running_count: i64,
    pub pending_count: i64,
    pub target_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    #[serde(serialize_with = "wire::opt")]
    pub code: Option<ErrorCode>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackInfo {
    pub rollback_deployment_id: Option<String>,
    pub rollback_triggering_deployment_id: Option<String>,
    pub message: Option<String>,
}

/// Now, as epoch seconds.
pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `HH:MM:SS UTC` of an epoch time, for messages that must be read in logs from anywhere.
pub fn utc_clock(epoch: f64) -> String {
    let s = epoch.max(0.0) as u64 % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

/// The AWS console page of a deployment.
pub fn console_url(region: &str, deployment_id: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}?region={region}"
    )
}
