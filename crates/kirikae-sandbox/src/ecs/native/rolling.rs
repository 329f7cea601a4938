//! Rolling updates as service deployments. The scheduler replaces the tasks (`scheduler::rolling`, the
//! circuit breaker); ECS also reports every rolling update as a service deployment (developer guide,
//! "View service history using Amazon ECS service deployments"), which this records: IN_PROGRESS until
//! the new deployment completes (SUCCESSFUL), or its rollback does (ROLLBACK_SUCCESSFUL).
//! StopServiceDeployment(ROLLBACK), or a deployment alarm in ALARM with `rollback`, rolls back to the
//! revision the update replaced.
//!
//! Not documented, so the sandbox's choice: a circuit breaker that trips without `rollback` leaves the
//! service deployment STOPPED (the model's statuses have no FAILED); no lifecycle stage is reported.

use serde_json::Value;

use super::config::Plan;
use super::deployment::{RevisionRef, RollbackInfo, ServiceDeployment, Status};
use super::lifecycle::Place;
use super::monitors;
use super::{new_deployment_arn, record_revision};
use crate::ecs::services::Service;
use crate::ecs::task_sets::{SetKind, SetStatus, TaskSet};
use crate::world::Ctx;

/// Record the service deployment of a rolling update whose new deployment (task set) is `set_id`;
/// `source` is the deployment it replaces (none for a new service).
pub fn begin(
    svc: &mut Service,
    set_id: &str,
    source: Option<&str>,
    configuration: Value,
    now: f64,
) {
    svc.history.stop_in_progress(
        "Service deployment stopped because a newer service deployment started.",
        now,
    );
    let revision_of = |svc: &mut Service, id: &str| {
        let spec = svc.sets.iter().find(|s| s.id == id).map(|s| s.spec.clone());
        spec.map(|spec| record_revision(svc, id, &spec, None, None, now))
    };
    let Some(target) = revision_of(svc, set_id) else {
        return;
    };
    let source = source.and_then(|id| revision_of(svc, id));
    let d = ServiceDeployment {
        arn: new_deployment_arn(&svc.region, &svc.cluster_name, &svc.name),
        service_arn: svc.arn.clone(),
        created_at: now,
        started_at: Some(now),
        finished_at: None,
        stopped_at: None,
        updated_at: now,
        status: Status::InProgress,
        status_reason: None,
        stage: None,
        target,
        source,
        leftovers: Vec::new(),
        plan: Plan::rolling(&configuration),
        configuration,
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
    };
    svc.history.push(d);
}

fn set_state(svc: &Service, id: &str) -> Option<&'static str> {
    svc.sets
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.rollout_state)
}

/// Follow the scheduler's rollout of one rolling update.
pub fn step(cx: &mut Ctx, at: &Place, d: &mut ServiceDeployment) {
    let now = cx.now;
    // Deployment alarms, watched while the update rolls out.
    let mut alarm_rollback = None;
    if d.status == Status::InProgress && d.rollback_set.is_none() && !d.plan.alarms.is_empty() {
        let firing = monitors::firing_alarms(cx, &d.plan.alarms.clone());
        for name in &firing {
            if !d.triggered_alarms.contains(name) {
                d.triggered_alarms.push(name.clone());
            }
        }
        if !firing.is_empty() && d.plan.alarm_rollback && d.source.is_some() {
            alarm_rollback = Some(monitors::alarm_reason(&firing));
        }
    }
    let Some(svc) = cx
        .region
        .ecs
        .clusters
        .get_mut(at.cluster)
        .and_then(|c| c.services.get_mut(at.service))
    else {
        return;
    };
    d.failed_tasks = svc
        .sets
        .iter()
        .find(|s| s.id == d.target.set_id)
        .map_or(d.failed_tasks, |s| s.failed_tasks);
    if let Some(reason) = alarm_rollback {
        d.status_reason = Some(reason);
        return roll_back(svc, d, now);
    }
    if d.status == Status::RollbackRequested {
        return roll_back(svc, d, now);
    }
    let finish = |d: &mut ServiceDeployment, status: Status, reason: Option<String>| {
        d.status = status;
        if reason.is_some() {
            d.status_reason = reason;
        }
        d.finished_at = Some(now);
        d.updated_at = now;
    };
    if let Some(rb) = d.rollback_set.clone() {
        match set_state(svc, &rb) {
            Some("COMPLETED") => finish(d, Status::RollbackSuccessful, None),
            Some("FAILED") | None => finish(d, Status::RollbackFailed, None),
            _ => {}
        }
        return;
    }
    match set_state(svc, &d.target.set_id) {
        Some("COMPLETED") => finish(
            d,
            Status::Successful,
            Some("Service deployment completed successfully.".into()),
        ),
        Some("FAILED") => {
            // With `rollback`, the circuit breaker has started a deployment of the previous settings.
            let rollback = svc
                .sets
                .iter()
                .find(|s| s.status == SetStatus::Primary && s.id != d.target.set_id)
                .map(|s| s.id.clone());
            let reason = "Service deployment rolled back because the circuit breaker threshold was exceeded.";
            match rollback {
                Some(id) => {
                    d.status = Status::RollbackInProgress;
                    d.status_reason = Some(reason.into());
                    d.rollback = Some(RollbackInfo {
                        reason: reason.into(),
                        started_at: now,
                        revision_arn: d
                            .source
                            .as_ref()
                            .map_or_else(|| d.target.arn.clone(), |s| s.arn.clone()),
                    });
                    d.rollback_set = Some(id);
                    d.updated_at = now;
                }
                None => finish(
                    d,
                    Status::Stopped,
                    Some("ECS deployment circuit breaker: tasks failed to start.".into()),
                ),
            }
        }
        None => finish(d, Status::Stopped, None),
        _ => {}
    }
}

/// StopServiceDeployment(ROLLBACK): a new deployment of the revision the update replaced, which the
/// scheduler rolls out like any other.
fn roll_back(svc: &mut Service, d: &mut ServiceDeployment, now: f64) {
    let Some(source) = d.source.clone() else {
        d.status = Status::RollbackFailed;
        d.finished_at = Some(now);
        return;
    };
    let Some(spec) = svc.history.revision(&source.arn).map(|r| r.spec.clone()) else {
        d.status = Status::RollbackFailed;
        d.finished_at = Some(now);
        return;
    };
    for set in svc
        .sets
        .iter_mut()
        .filter(|s| s.status == SetStatus::Primary)
    {
        set.status = SetStatus::Active;
        set.rollout_state = "FAILED";
        set.updated_at = now;
    }
    svc.spec = spec.clone();
    let mut set = TaskSet::new(
        SetKind::Deployment,
        SetStatus::Primary,
        svc,
        spec.clone(),
        now,
    );
    set.desired = svc.desired_count;
    let RevisionRef { set_id, .. } = record_revision(svc, &set.id.clone(), &spec, None, None, now);
    svc.sets.push(set);
    svc.steady = false;
    d.status = Status::RollbackInProgress;
    d.rollback = Some(RollbackInfo {
        reason: d.status_reason.clone().unwrap_or_default(),
        started_at: now,
        revision_arn: source.arn,
    });
    d.rollback_set = Some(set_id);
    d.updated_at = now;
}
