//! Following an ECS service deployment (ECS-native Blue/Green: BLUE_GREEN, LINEAR, CANARY) to its end
//! with DescribeServiceDeployments: its status, lifecycle stage, the per-revision production and test
//! weights, the hooks awaiting action and the tasks. Never ServicesStable: a Blue/Green service is not
//! "stable" during the bake (blue and green both run), and a rollback leaves it stable too.
//!
//! The state machine is small because ECS keeps one record for the whole story: the deployment stays
//! IN_PROGRESS through every stage and the bake, and a rollback happens *in* it (ROLLBACK_REQUESTED →
//! ROLLBACK_IN_PROGRESS → ROLLBACK_SUCCESSFUL / ROLLBACK_FAILED) rather than in a second deployment as
//! on CodeDeploy. So: running → (rolling back) → ended, or stopped waiting ([`Stop`]).

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentLifecycleHookStatus, ServiceDeploymentStatus};
use serde::Serialize;
use tokio::time::Instant;

use super::pace::{self, NativeWaits};
use super::{Poller, Stop};
use crate::aws::{CallFailure, Healing, call_failure};
use crate::connection::Clients;
use crate::native::config::stage_order;
use crate::progress::{Event, now_epoch, utc_clock};
use crate::wire;

/// What the wait is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// The deployment's end.
    End,
    /// `--wait-until STAGE`: the deployment is in this stage or past it (stages can pass between two
    /// polls, so the order counts, not seeing the stage itself).
    Stage(String),
    /// `--wait-until paused`: a PAUSE hook awaits action.
    Paused,
    /// A hook awaits action at this stage (the gate's pause, [`crate::native::gate`]).
    PausedAt(&'static str),
}

/// One revision of the service in a deployment, as ECS reports it (weights are a snapshot, 0-100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    pub arn: String,
    pub requested: i32,
    pub running: i32,
    pub pending: i32,
    pub production_weight: Option<f64>,
    pub test_weight: Option<f64>,
}

impl Revision {
    /// The revision's id (the digits of its `ecs-svc/…` deployment).
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hook {
    pub id: String,
    /// `AWS_LAMBDA` / `PAUSE`.
    pub target_type: Option<String>,
    pub target_arn: Option<String>,
    #[serde(serialize_with = "wire::opt")]
    pub status: Option<DeploymentLifecycleHookStatus>,
    /// Epoch seconds.
    pub expires_at: Option<f64>,
    pub timeout_action: Option<String>,
}

impl Hook {
    pub fn awaiting(&self) -> bool {
        self.status == Some(DeploymentLifecycleHookStatus::AwaitingAction)
    }
}

/// A service deployment as last seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub arn: String,
    #[serde(serialize_with = "wire::str")]
    pub status: ServiceDeploymentStatus,
    pub status_reason: Option<String>,
    /// As ECS names it (a stage newer than the SDK is kept as its name).
    pub stage: Option<String>,
    pub target: Option<Revision>,
    pub sources: Vec<Revision>,
    pub hooks: Vec<Hook>,
    pub rollback_reason: Option<String>,
    pub triggered_alarms: Vec<String>,
    /// Epoch seconds (AWS's clock).
    pub created_at: Option<f64>,
    pub finished_at: Option<f64>,
    /// The stages kirikae saw, in order, with when it first saw each (epoch seconds, local clock): a
    /// stage shorter than a poll may be missing.
    pub stages_seen: Vec<(String, f64)>,
    /// The bakes its configuration sets, for pacing the polls ([`pace::native_interval`]).
    #[serde(skip)]
    pub waits: NativeWaits,
}

impl Snapshot {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status,
            ServiceDeploymentStatus::Successful
                | ServiceDeploymentStatus::Stopped
                | ServiceDeploymentStatus::RollbackSuccessful
                | ServiceDeploymentStatus::RollbackFailed
        )
    }

    pub fn awaiting(&self) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.awaiting())
    }

    /// Production traffic on the new revision, in percent, when ECS says.
    pub fn green_production(&self) -> Option<f64> {
        self.target.as_ref().and_then(|t| t.production_weight)
    }

    /// One line for a person: status, stage, each revision's tasks and weights, a hook awaiting action.
    pub fn said(&self) -> String {
        let mut s = self.status.as_str().to_string();
        if let Some(stage) = &self.stage {
            s.push_str(&format!(" · {stage}"));
        }
        let rev = |who: &str, r: &Revision| {
            let mut line = format!(" · {who} {}: {}/{} running", r.id(), r.running, r.requested);
            if r.pending > 0 {
                line.push_str(&format!(", {} pending", r.pending));
            }
            if let Some(p) = r.production_weight {
                line.push_str(&format!(", production {p:.0}%"));
            }
            if let Some(t) = r.test_weight {
                line.push_str(&format!(", test {t:.0}%"));
            }
            line
        };
        if let Some(t) = &self.target {
            s.push_str(&rev("green", t));
        }
        for b in &self.sources {
            s.push_str(&rev("blue", b));
        }
        if let Some(h) = self.awaiting() {
            s.push_str(&format!(" · hook {} awaits action", h.id));
            if let Some(at) = h.expires_at {
                s.push_str(&format!(
                    " until {} (then {})",
                    utc_clock(at),
                    h.timeout_action.as_deref().unwrap_or("ROLLBACK")
                ));
            }
        }
        if let Some(r) = &self.rollback_reason
            && self.status != ServiceDeploymentStatus::InProgress
        {
            s.push_str(&format!(" · rollback: {r}"));
        }
        s
    }
}

/// How following ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// SUCCESSFUL: production on the new revision, the old one scaled in.
    Succeeded(Snapshot),
    /// `--wait-until`: reached; the deployment goes on.
    Reached(Snapshot),
    /// STOPPED, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED.
    Failed(Snapshot),
    /// Stopped waiting before the deployment ended.
    Unfinished { stop: Stop, last: Option<Snapshot> },
}

/// The snapshot of one service deployment (`None`: ECS does not know it, yet).
pub async fn describe(aws: &Clients, arn: &str) -> Result<Option<Snapshot>, CallFailure> {
    let out = aws
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| call_failure("ecs:DescribeServiceDeployments", e))?;
    Ok(out.service_deployments().first().map(snapshot))
}

fn snapshot(d: &aws_sdk_ecs::types::ServiceDeployment) -> Snapshot {
    let rev = |r: &aws_sdk_ecs::types::ServiceRevisionSummary| Revision {
        arn: r.arn().unwrap_or_default().to_string(),
        requested: r.requested_task_count(),
        running: r.running_task_count(),
        pending: r.pending_task_count(),
        production_weight: r.requested_production_traffic_weight(),
        test_weight: r.requested_test_traffic_weight(),
    };
    Snapshot {
        arn: d.service_deployment_arn().unwrap_or_default().to_string(),
        status: d
            .status()
            .cloned()
            .unwrap_or(ServiceDeploymentStatus::Pending),
        status_reason: d.status_reason().map(str::to_string),
        stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
        target: d.target_service_revision().map(rev),
        sources: d.source_service_revisions().iter().map(rev).collect(),
        hooks: d
            .lifecycle_hook_details()
            .iter()
            .map(|h| Hook {
                id: h.hook_id().unwrap_or_default().to_string(),
                target_type: h.target_type().map(|t| t.as_str().to_string()),
                target_arn: h.target_arn().map(str::to_string),
                status: h.status().cloned(),
                expires_at: h.expires_at().map(|t| t.as_secs_f64()),
                timeout_action: h.timeout_action().map(|a| a.as_str().to_string()),
            })
            .collect(),
        rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_string),
        triggered_alarms: d
            .alarms()
            .map(|a| a.triggered_alarm_names().to_vec())
            .unwrap_or_default(),
        created_at: d.created_at().map(|t| t.as_secs_f64()),
        finished_at: d.finished_at().map(|t| t.as_secs_f64()),
        stages_seen: Vec::new(),
        waits: waits_of(d),
    }
}

/// The bake and the step bake of the deployment's configuration.
fn waits_of(d: &aws_sdk_ecs::types::ServiceDeployment) -> NativeWaits {
    let minutes =
        |m: Option<i32>| m.map(|m| Duration::from_secs(u64::try_from(m).unwrap_or(0) * 60));
    let config = d.deployment_configuration();
    NativeWaits {
        bake: minutes(config.and_then(|c| c.bake_time_in_minutes())),
        step_bake: minutes(config.and_then(|c| {
            c.linear_configuration()
                .and_then(|l| l.step_bake_time_in_minutes())
                .or_else(|| {
                    c.canary_configuration()
                        .and_then(|c| c.canary_bake_time_in_minutes())
                })
        })),
    }
}

/// Whether `snap` is where `until` wanted to be (the deployment still going on).
pub fn reached(snap: &Snapshot, until: &Until) -> bool {
    if snap.status != ServiceDeploymentStatus::InProgress {
        return false;
    }
    match until {
        Until::End => false,
        Until::Paused => snap.awaiting().is_some(),
        Until::PausedAt(stage) => {
            snap.stage.as_deref() == Some(*stage) && snap.awaiting().is_some()
        }
        Until::Stage(want) => match (
            snap.stage.as_deref().and_then(stage_order),
            stage_order(want),
        ) {
            (Some(now), Some(want)) => now >= want,
            _ => false,
        },
    }
}

/// Polls the service deployment until it ends, `until` is reached, or the wait must stop. Says a line
/// whenever what a person sees changes.
pub async fn follow(poller: &mut Poller<'_>, aws: &Clients, arn: &str, until: &Until) -> Followed {
    follow_on(poller, aws, arn, until, None).await
}

/// [`follow`] again after an earlier follow of the same deployment ended at `earlier` (a pause the
/// gate acted on, a rollback the policy started): the stages seen carry on, and a wait stopped before
/// its first poll reports `earlier` as what was last seen.
pub async fn follow_on(
    poller: &mut Poller<'_>,
    aws: &Clients,
    arn: &str,
    until: &Until,
    earlier: Option<Snapshot>,
) -> Followed {
    let mut said = earlier.as_ref().map(Snapshot::said).unwrap_or_default();
    let mut last: Option<Snapshot> = earlier;
    // Since when the deployment looks the same (what a person sees of it), on both clocks.
    let (mut quiet_since, mut quiet_since_epoch) = (Instant::now(), now_epoch());
    loop {
        let until_expected = last
            .as_ref()
            .and_then(|s| pace::native_expected_change(s, quiet_since_epoch))
            .map(|at| at - now_epoch());
        let pace = pace::native_interval(
            poller.base,
            last.as_ref(),
            quiet_since.elapsed(),
            until_expected,
        );
        let got = poller
            .next(pace, || async {
                match describe(aws, arn).await {
                    // Just created: ECS may not list it for a moment (eventual consistency).
                    Ok(None) => Err(CallFailure {
                        operation: "ecs:DescribeServiceDeployments",
                        healing: Healing::Transient,
                        code: Some("MISSING".into()),
                        message: format!("service deployment {arn} not found (yet)"),
                        hint: None,
                    }),
                    other => other,
                }
            })
            .await;
        let mut snap = match got {
            Ok(Some(s)) => s,
            Ok(None) => unreachable!("mapped to a transient failure above"),
            Err(stop) => return Followed::Unfinished { stop, last },
        };
        snap.stages_seen = last
            .as_ref()
            .map(|l| l.stages_seen.clone())
            .unwrap_or_default();
        if let Some(stage) = &snap.stage
            && snap.stages_seen.last().map(|(s, _)| s) != Some(stage)
        {
            snap.stages_seen
                .push((stage.clone(), crate::progress::now_epoch()));
        }
        let line = snap.said();
        if line != said {
            poller.say(&Event::ServiceDeploymentProgress(snap.clone()));
            said = line;
            (quiet_since, quiet_since_epoch) = (Instant::now(), now_epoch());
        }
        if snap.is_terminal() {
            return if snap.status == ServiceDeploymentStatus::Successful {
                Followed::Succeeded(snap)
            } else {
                Followed::Failed(snap)
            };
        }
        if reached(&snap, until) {
            return Followed::Reached(snap);
        }
        last = Some(snap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(status: ServiceDeploymentStatus, stage: &str) -> Snapshot {
        Snapshot {
            arn: "arn:aws:ecs:us-east-1:1:service-deployment/demo/web/abc".into(),
            status,
            status_reason: None,
            stage: Some(stage.into()),
            target: None,
            sources: Vec::new(),
            hooks: Vec::new(),
            rollback_reason: None,
            triggered_alarms: Vec::new(),
            created_at: None,
            finished_at: None,
            stages_seen: Vec::new(),
            waits: NativeWaits::default(),
        }
    }

    #[test]
    fn a_stage_is_reached_once_the_deployment_is_in_it_or_past_it() {
        let want = Until::Stage("BAKE_TIME".into());
        let s = |stage| snap(ServiceDeploymentStatus::InProgress, stage);
        assert!(!reached(&s("PRODUCTION_TRAFFIC_SHIFT"), &want));
        assert!(reached(&s("BAKE_TIME"), &want));
        assert!(reached(&s("CLEAN_UP"), &want));
        // Rolling back is not reaching anything.
        assert!(!reached(
            &snap(ServiceDeploymentStatus::RollbackInProgress, "CLEAN_UP"),
            &want
        ));
        // A stage the enum lacks still has its place.
        assert!(reached(
            &s("PRE_PRODUCTION_TRAFFIC_SHIFT"),
            &Until::Stage("POST_TEST_TRAFFIC_SHIFT".into())
        ));
    }

    #[test]
    fn paused_means_a_hook_awaits_action() {
        let mut s = snap(
            ServiceDeploymentStatus::InProgress,
            "POST_TEST_TRAFFIC_SHIFT",
        );
        assert!(!reached(&s, &Until::Paused));
        s.hooks.push(Hook {
            id: "ecs-pause-1".into(),
            target_type: Some("PAUSE".into()),
            target_arn: None,
            status: Some(DeploymentLifecycleHookStatus::AwaitingAction),
            expires_at: None,
            timeout_action: Some("ROLLBACK".into()),
        });
        assert!(reached(&s, &Until::Paused));
        assert!(
            s.said().contains("hook ecs-pause-1 awaits action"),
            "{}",
            s.said()
        );
    }

    #[test]
    fn every_rollback_and_stop_is_terminal() {
        for st in [
            ServiceDeploymentStatus::Stopped,
            ServiceDeploymentStatus::RollbackSuccessful,
            ServiceDeploymentStatus::RollbackFailed,
            ServiceDeploymentStatus::Successful,
        ] {
            assert!(snap(st, "CLEAN_UP").is_terminal());
        }
        for st in [
            ServiceDeploymentStatus::StopRequested,
            ServiceDeploymentStatus::RollbackRequested,
            ServiceDeploymentStatus::RollbackInProgress,
            ServiceDeploymentStatus::InProgress,
        ] {
            assert!(!snap(st, "BAKE_TIME").is_terminal());
        }
    }
}
