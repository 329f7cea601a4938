//! Why a service deployment failed (or has not finished by the deadline), as far as AWS tells, gathered
//! once following it ended: the lifecycle hooks that failed or timed out (with the stages the service
//! runs them at), why green's tasks stopped (with their containers' exit codes), what green's target
//! group — the alternate one — says of its targets, the deployment's alarms in ALARM, and the service's
//! latest events. The same [`Diagnosis`] as on CodeDeploy, from the reads `deploy::diagnose` shares;
//! only which tasks and group are green's is said differently. Read-only and best effort: a read that
//! fails is left out, never an error (the outcome is already known).

use aws_sdk_ecs::types::{DeploymentLifecycleHookStatus, Service, Task};

use super::ending;
use crate::connection::Clients;
use crate::deploy::Diagnosis;
use crate::deploy::diagnose::{
    alarms_firing, created_since, service_events, stopped_tasks, target_health,
};
use crate::deploy::ending::Facts;
use crate::outcome::Outcome;
use crate::watch::Stop;
use crate::watch::native::{Followed, Hook, Snapshot};

/// [`ending::deployment`], with AWS's reasons when the service deployment failed, or was still not
/// done when the wait timed out.
pub async fn ending(
    aws: &Clients,
    facts: &Facts,
    arn: &str,
    followed: Followed,
    wait: Option<&str>,
) -> Outcome {
    let explain = match &followed {
        Followed::Failed(s) => Some(s.clone()),
        Followed::Unfinished {
            stop: Stop::TimedOut,
            last: Some(s),
        } => Some(s.clone()),
        _ => None,
    };
    let mut outcome = ending::deployment(facts, arn, followed, wait);
    if let Some(snap) = explain {
        let diagnosis = diagnose(aws, &facts.cluster, &facts.service, &snap).await;
        if !diagnosis.is_empty() {
            outcome.diagnosis = Some(diagnosis);
        }
    }
    outcome
}

/// What AWS says about service deployment `snap` of `cluster`/`service`.
pub async fn diagnose(aws: &Clients, cluster: &str, service: &str, snap: &Snapshot) -> Diagnosis {
    let (svc, green_task_definition) = tokio::join!(
        aws.batch.service(cluster, service),
        target_task_definition(aws, snap),
    );
    let svc = svc.ok().flatten();
    let green_started_by = snap.target.as_ref().map(|t| format!("ecs-svc/{}", t.id()));
    let of_green = |t: &Task| {
        let by_deployment = match (&green_started_by, t.started_by()) {
            (Some(green), Some(by)) => by == green,
            _ => false,
        };
        let by_revision = green_task_definition
            .as_deref()
            .is_some_and(|td| t.task_definition_arn() == Some(td))
            && created_since(t, snap.created_at);
        by_deployment || by_revision
    };
    let alarms = alarm_names(svc.as_ref(), snap);
    let (stopped_tasks, target_health, alarms) = tokio::join!(
        stopped_tasks(aws, cluster, service, of_green),
        target_health(aws, svc.as_ref().and_then(alternate_group)),
        alarms_firing(aws, &alarms),
    );
    Diagnosis {
        lifecycle: failed_hooks(snap, svc.as_ref()),
        stopped_tasks,
        target_health,
        alarms,
        service_events: svc.as_ref().map(service_events).unwrap_or_default(),
    }
}

/// The task definition green's revision runs (DescribeServiceRevisions), when ECS says.
async fn target_task_definition(aws: &Clients, snap: &Snapshot) -> Option<String> {
    let target = snap.target.as_ref()?;
    let out = aws
        .ecs
        .describe_service_revisions()
        .service_revision_arns(&target.arn)
        .send()
        .await
        .ok()?;
    out.service_revisions()
        .first()
        .and_then(|r| r.task_definition())
        .map(str::to_string)
}

/// The alternate target group: where green's tasks register during a deployment (the groups swap roles
/// only once one succeeded, so after a failure it is still green's).
fn alternate_group(svc: &Service) -> Option<&str> {
    svc.load_balancers()
        .iter()
        .filter_map(|lb| lb.advanced_configuration())
        .find_map(|a| a.alternate_target_group_arn())
}

/// The deployment's alarms: those the service watches, and any ECS says triggered.
fn alarm_names(svc: Option<&Service>, snap: &Snapshot) -> Vec<String> {
    let mut names: Vec<String> = svc
        .and_then(|s| s.deployment_configuration())
        .and_then(|c| c.alarms())
        .map(|a| a.alarm_names().to_vec())
        .unwrap_or_default();
    for name in &snap.triggered_alarms {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The hooks that failed or timed out. ECS's hook details do not say the stage; the service's hook
/// configuration does (a hook's target, or PAUSE, at its stages).
fn failed_hooks(snap: &Snapshot, svc: Option<&Service>) -> Vec<String> {
    snap.hooks
        .iter()
        .filter(|h| {
            matches!(
                h.status,
                Some(
                    DeploymentLifecycleHookStatus::Failed | DeploymentLifecycleHookStatus::TimedOut
                )
            )
        })
        .map(|h| hook_said(h, &configured_stages(h, svc)))
        .collect()
}

/// `hook arn:…:function:smoke at POST_TEST_TRAFFIC_SHIFT FAILED`.
fn hook_said(h: &Hook, stages: &[String]) -> String {
    let what = match (&h.target_arn, h.target_type.as_deref()) {
        (Some(arn), _) => format!("hook {arn}"),
        (None, Some(kind)) => format!("{kind} hook {}", h.id),
        (None, None) => format!("hook {}", h.id),
    };
    let at = if stages.is_empty() {
        String::new()
    } else {
        format!(" at {}", stages.join(" / "))
    };
    let status = h.status.as_ref().map_or("FAILED", |s| s.as_str());
    let mut said = format!("{what}{at} {status}");
    if h.status == Some(DeploymentLifecycleHookStatus::TimedOut) {
        said.push_str(&format!(
            " (timeout action {})",
            h.timeout_action.as_deref().unwrap_or("ROLLBACK")
        ));
    }
    said
}

/// The stages the service runs hook `h` at: the Lambda hooks with its target, or the PAUSE hooks.
fn configured_stages(h: &Hook, svc: Option<&Service>) -> Vec<String> {
    let Some(hooks) = svc
        .and_then(|s| s.deployment_configuration())
        .map(|c| c.lifecycle_hooks())
    else {
        return Vec::new();
    };
    let mut stages: Vec<String> = Vec::new();
    for configured in hooks {
        let same = match &h.target_arn {
            Some(arn) => configured.hook_target_arn() == Some(arn.as_str()),
            None => configured
                .target_type()
                .is_some_and(|t| t.as_str() == "PAUSE"),
        };
        if !same {
            continue;
        }
        for stage in configured.lifecycle_stages() {
            let stage = stage.as_str().to_string();
            if !stages.contains(&stage) {
                stages.push(stage);
            }
        }
    }
    stages
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        DeploymentConfiguration, DeploymentLifecycleHook, DeploymentLifecycleHookStage,
        DeploymentLifecycleHookTargetType,
    };

    fn hook(id: &str, target: Option<&str>, status: DeploymentLifecycleHookStatus) -> Hook {
        Hook {
            id: id.into(),
            target_type: Some(
                if target.is_some() {
                    "AWS_LAMBDA"
                } else {
                    "PAUSE"
                }
                .into(),
            ),
            target_arn: target.map(str::to_string),
            status: Some(status),
            expires_at: None,
            timeout_action: Some("ROLLBACK".into()),
        }
    }

    fn service() -> Service {
        let lambda = DeploymentLifecycleHook::builder()
            .target_type(DeploymentLifecycleHookTargetType::AwsLambda)
            .hook_target_arn("arn:aws:lambda:us-east-1:1:function:smoke")
            .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
            .build();
        let pause = DeploymentLifecycleHook::builder()
            .target_type(DeploymentLifecycleHookTargetType::Pause)
            .lifecycle_stages(DeploymentLifecycleHookStage::PreProductionTrafficShift)
            .build();
        Service::builder()
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .lifecycle_hooks(lambda)
                    .lifecycle_hooks(pause)
                    .build(),
            )
            .build()
    }

    #[test]
    fn failed_and_timed_out_hooks_are_named_with_their_stage() {
        let snap = Snapshot {
            arn: "arn:d".into(),
            status: aws_sdk_ecs::types::ServiceDeploymentStatus::RollbackSuccessful,
            status_reason: None,
            stage: Some("CLEAN_UP".into()),
            target: None,
            sources: Vec::new(),
            hooks: vec![
                hook("ok", Some("arn:aws:lambda:us-east-1:1:function:other"), {
                    DeploymentLifecycleHookStatus::Succeeded
                }),
                hook(
                    "ecs-lambda-1",
                    Some("arn:aws:lambda:us-east-1:1:function:smoke"),
                    DeploymentLifecycleHookStatus::Failed,
                ),
                hook("ecs-pause-1", None, DeploymentLifecycleHookStatus::TimedOut),
            ],
            rollback_reason: None,
            triggered_alarms: Vec::new(),
            created_at: None,
            finished_at: None,
            stages_seen: Vec::new(),
            waits: Default::default(),
        };
        assert_eq!(
            failed_hooks(&snap, Some(&service())),
            [
                "hook arn:aws:lambda:us-east-1:1:function:smoke at POST_TEST_TRAFFIC_SHIFT FAILED",
                "PAUSE hook ecs-pause-1 at PRE_PRODUCTION_TRAFFIC_SHIFT TIMED_OUT (timeout action ROLLBACK)",
            ]
        );
        // Without the service's configuration, still named, without a stage.
        assert_eq!(
            failed_hooks(&snap, None)[0],
            "hook arn:aws:lambda:us-east-1:1:function:smoke FAILED"
        );
    }
}
