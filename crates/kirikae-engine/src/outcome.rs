//! The result of one service's deploy: for humans (the binary renders it) and machines (`--output json`,
//! step outputs, webhooks).

use serde::Serialize;

use crate::group::Change;
use crate::progress::{DeploymentSnapshot, ErrorInfo};

/// How the deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Result {
    /// The deployment (or the new service) finished successfully.
    Succeeded,
    /// `--wait-until EVENT`: that event succeeded; the deployment goes on.
    Reached,
    /// `--no-wait`: the deployment (or service) was created; nobody waited.
    Started,
    /// The deployment failed, and was not rolled back.
    Failed,
    /// The deployment was stopped (by someone, an alarm, or the ready wait running out), not rolled back.
    Stopped,
    /// The deployment failed or was stopped, and CodeDeploy rolled it back.
    RolledBack,
    /// `--timeout` passed while the deployment still runs.
    TimedOut,
    /// kirikae stopped watching because it could not reach AWS (until the deadline) or AWS refused to
    /// answer it (expired credentials, access denied); the deployment goes on, unwatched.
    LostContact,
    /// Ctrl-C, SIGTERM or SIGHUP while waiting; the deployment goes on.
    Interrupted,
    /// An AWS call failed before the deployment existed; what was changed so far is listed.
    Error,
}

impl Result {
    /// The documented exit status: 0 succeeded, 1 failed/stopped/rolled back (or a call failed before
    /// the deployment existed), 3 stopped watching while AWS goes on (timed out, lost contact), 128 + the
    /// signal when interrupted (`interrupt_code`: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
    pub fn exit_code_with(self, interrupt_code: u8) -> u8 {
        match self {
            Result::Succeeded | Result::Reached | Result::Started => 0,
            Result::Failed | Result::Stopped | Result::RolledBack | Result::Error => 1,
            Result::TimedOut | Result::LostContact => 3,
            Result::Interrupted => interrupt_code,
        }
    }

    /// [`Self::exit_code_with`] for an interrupt by Ctrl-C.
    pub fn exit_code(self) -> u8 {
        self.exit_code_with(crate::interrupt::DEFAULT_EXIT_CODE)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Result::Succeeded => "succeeded",
            Result::Reached => "reached",
            Result::Started => "started",
            Result::Failed => "failed",
            Result::Stopped => "stopped",
            Result::RolledBack => "rolled_back",
            Result::TimedOut => "timed_out",
            Result::LostContact => "lost_contact",
            Result::Interrupted => "interrupted",
            Result::Error => "error",
        }
    }

    pub fn is_success(self) -> bool {
        self.exit_code() == 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub container: String,
    pub image: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupAction {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub event: String,
    pub status: String,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub duration_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackOutcome {
    pub deployment_id: String,
    pub status: String,
    /// Whether production traffic is back on the original (blue) task set.
    pub traffic_on_blue: bool,
}

/// The deployment controller of the service deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Controller {
    /// CodeDeploy runs the Blue/Green deployment (`codedeploy:` configs).
    CodeDeploy,
    /// ECS runs it itself (`ecs:` configs).
    Ecs,
}

/// What a deploy did with CodeDeploy's application and deployment group.
#[derive(Debug, Clone, Serialize)]
pub struct CodeDeployParts {
    pub application: String,
    pub application_created: bool,
    pub deployment_group: String,
    pub deployment_group_action: GroupAction,
    pub deployment_group_changes: Vec<Change>,
}

/// Why kirikae itself could not finish (an AWS call failed, or contact with AWS was lost), as opposed to
/// the deployment's own error (`Outcome::error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// `aws` (a call failed), `conflict` (AWS's state forbade the step), `lost_contact`.
    pub kind: &'static str,
    pub operation: Option<String>,
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

/// One service's deploy, start to end.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub config: String,
    pub region: String,
    pub cluster: String,
    pub service: String,
    pub result: Result,
    /// The process's exit status for this deploy alone (see [`Result::exit_code_with`]).
    pub exit_code: u8,
    /// One sentence saying what happened (and, on failure, why and where traffic is).
    pub message: String,
    /// Commands to follow, continue, stop or roll back a deployment that goes on in AWS (timed out,
    /// lost contact, interrupted, `--wait-until`, `--no-wait`), or to pick up after an error.
    pub next_steps: Vec<String>,
    /// Why kirikae could not finish, when a call failed or contact was lost.
    pub failure: Option<Failure>,
    /// `CODE_DEPLOY` or `ECS`: who runs the deployment (a reader knows which fields to expect).
    pub controller: Controller,
    /// The CodeDeploy application and group (on the CODE_DEPLOY controller only; the ECS controller
    /// has neither, and the document leaves their keys out instead of saying empty names).
    #[serde(flatten)]
    pub codedeploy: Option<CodeDeployParts>,
    pub task_definition_arn: Option<String>,
    pub task_definition_registered: bool,
    pub images: Vec<Image>,
    pub service_created: bool,
    /// Changes made to an existing service outside a deployment (its desired count).
    pub service_changes: Vec<Change>,
    pub deployment_id: Option<String>,
    pub console_url: Option<String>,
    /// The deployment's last AWS status.
    pub status: Option<String>,
    pub error: Option<ErrorInfo>,
    pub rollback: Option<RollbackOutcome>,
    /// Why the deployment failed, as far as AWS tells (failed or rolled back deployments).
    pub diagnosis: Option<crate::deploy::Diagnosis>,
    /// What the gate before production traffic did (config `gate:`), when there is one.
    pub gate: Option<crate::gate::GateReport>,
    /// What the `before_switch:` task (the migration) did, when the config has one and it ran.
    pub before_switch: Option<crate::before_switch::TaskReport>,
    pub timeline: Vec<TimelineEntry>,
    pub started_at: f64,
    pub finished_at: f64,
    pub duration_seconds: f64,
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }
}

/// The lifecycle events of a deployment as a timeline.
pub fn timeline(snapshot: &DeploymentSnapshot) -> Vec<TimelineEntry> {
    snapshot
        .lifecycle_events
        .iter()
        .map(|e| TimelineEntry {
            event: e.name.clone(),
            status: e.status.as_str().to_string(),
            start: e.start,
            end: e.end,
            duration_seconds: e.duration_seconds(),
        })
        .collect()
}
