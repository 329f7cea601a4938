//! Stability: a task set (or deployment) is in STEADY_STATE when it runs its computed desired count,
//! has nothing pending and every running task is healthy in its target groups. A service is steady
//! when all of its sets are (and, for the ECS controller, only one deployment is left); it announces
//! that once, as AWS does.

use std::collections::BTreeMap;

use super::health::is_healthy;
use super::{Env, timing};
use crate::ecs::services::{Controller, Service};
use crate::ecs::task_sets::SetStatus;
use crate::ecs::tasks::Task;

pub fn update(svc: &mut Service, tasks: &BTreeMap<String, Task>, env: &mut Env) {
    let name = svc.name.clone();
    let mut all_steady = svc.is_active();
    for set in svc.sets.iter_mut() {
        let live: Vec<&Task> = tasks
            .values()
            .filter(|t| t.belongs_to(&name, &set.id) && t.is_live())
            .collect();
        let running = live.iter().filter(|t| t.is_running()).count() as u32;
        let pending = live.len() as u32 - running;
        let healthy = live
            .iter()
            .all(|t| !t.is_running() || is_healthy(t, env.elbv2));
        let steady =
            running == set.desired && pending == 0 && healthy && set.status != SetStatus::Draining;
        if steady != set.stable {
            set.stable = steady;
            set.stability_at = env.now;
        }
        // Failures are forgiven once the set has run steadily for a while, not at the first moment
        // of steadiness (a task that crashes a few seconds after starting would never be throttled).
        let settled = live.iter().all(|t| {
            t.started_at.is_some_and(|at| {
                env.now >= timing::after(env.shared, at, timing::FAILURES_FORGOTTEN_AFTER)
            })
        });
        if steady && settled {
            set.launch_failures = 0;
        }
        all_steady &= steady;
    }
    if svc.controller == Controller::Ecs && svc.sets.len() != 1 {
        all_steady = false;
    }
    if all_steady && !svc.steady {
        if svc.controller == Controller::Ecs
            && let Some(d) = svc
                .sets
                .iter_mut()
                .find(|s| s.status == SetStatus::Primary && s.rollout_state == "IN_PROGRESS")
        {
            d.rollout_state = "COMPLETED";
            d.updated_at = env.now;
            let msg = format!(
                "(service {name}) (deployment {}) deployment completed.",
                d.id
            );
            svc.event(env.now, msg);
        }
        svc.event(
            env.now,
            format!("(service {name}) has reached a steady state."),
        );
    }
    svc.steady = all_steady;
}
