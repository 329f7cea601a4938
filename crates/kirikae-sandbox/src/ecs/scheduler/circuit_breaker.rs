//! The ECS deployment circuit breaker (`deploymentConfiguration.deploymentCircuitBreaker`): a rolling
//! deployment whose tasks keep failing is marked FAILED, and with `rollback` the service returns to the
//! deployment it replaced.

use super::Env;
use crate::ecs::services::{Controller, Service};
use crate::ecs::task_sets::{SetKind, SetStatus, TaskSet};

/// Failed tasks that trip the breaker: half the desired count, at least 3 and at most 200 (AWS).
pub fn threshold(desired: u32) -> u32 {
    desired.div_ceil(2).clamp(3, 200)
}

pub fn check(svc: &mut Service, env: &Env) {
    let breaker = &svc.deployment_configuration["deploymentCircuitBreaker"];
    if svc.controller != Controller::Ecs || !svc.is_active() || breaker["enable"] != true {
        return;
    }
    // A Blue/Green-family deployment watches the breaker itself and rolls back its own way.
    if crate::ecs::native::runs_lifecycle(svc) {
        return;
    }
    let rollback = breaker["rollback"] == true;
    let Some(p) = svc
        .sets
        .iter()
        .position(|s| s.status == SetStatus::Primary && s.rollout_state == "IN_PROGRESS")
    else {
        return;
    };
    if svc.sets[p].failed_tasks < threshold(svc.desired_count) {
        return;
    }
    let failed_id = svc.sets[p].id.clone();
    svc.sets[p].rollout_state = "FAILED";
    svc.sets[p].updated_at = env.now;
    let name = svc.name.clone();
    svc.event(
        env.now,
        format!(
            "(service {name}) (deployment {failed_id}) deployment failed: tasks failed to start."
        ),
    );
    // Roll back to the newest older deployment (the one this deployment was replacing).
    let Some(previous) = svc
        .sets
        .iter()
        .rev()
        .find(|s| s.id != failed_id)
        .map(|s| s.spec.clone())
    else {
        return;
    };
    if !rollback {
        return;
    }
    svc.sets[p].status = SetStatus::Active;
    svc.spec = previous.clone();
    let mut d = TaskSet::new(
        SetKind::Deployment,
        SetStatus::Primary,
        svc,
        previous,
        env.now,
    );
    d.desired = svc.desired_count;
    let msg = format!("(service {name}) rolling back to deployment {}.", d.id);
    svc.sets.push(d);
    svc.steady = false;
    svc.event(env.now, msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_half_the_desired_count_within_3_and_200() {
        assert_eq!(threshold(0), 3);
        assert_eq!(threshold(2), 3);
        assert_eq!(threshold(7), 4);
        assert_eq!(threshold(10), 5);
        assert_eq!(threshold(1000), 200);
    }
}
