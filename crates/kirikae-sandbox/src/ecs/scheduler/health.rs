//! Load balancer health, as ECS sees it: a task is healthy when every target group it is registered
//! with reports it healthy; tasks reported unhealthy past the service's health check grace period are
//! stopped (and then replaced by the scaling step).

use std::collections::BTreeMap;

use super::{Env, lifecycle, timing};
use crate::ecs::services::Service;
use crate::ecs::tasks::Task;
use crate::elbv2::{Elbv2State, TargetState};

pub fn is_healthy(task: &Task, elbv2: &Elbv2State) -> bool {
    let ip = task.ip();
    task.is_running()
        && task.registered.len() == task.lb_targets.len()
        && task.registered.iter().all(|t| {
            // A target group no load balancer uses reports `unused`: nothing can judge the task, so it
            // does not hold the service back.
            matches!(
                elbv2.target_state(&t.target_group_arn, &ip, t.port),
                Some(TargetState::Healthy | TargetState::Unused)
            )
        })
}

pub fn check(svc: &mut Service, tasks: &mut BTreeMap<String, Task>, env: &mut Env) {
    if !svc.is_active() {
        return;
    }
    let grace = svc.health_check_grace_period.unwrap_or(0).max(0) as f64;
    let name = svc.name.clone();
    for task in tasks
        .values_mut()
        .filter(|t| t.service.as_deref() == Some(name.as_str()) && t.is_running())
    {
        if task
            .started_at
            .is_none_or(|at| env.now < timing::after(env.shared, at, grace))
        {
            continue;
        }
        let ip = task.ip();
        let failing = task
            .registered
            .iter()
            .find(|t| {
                env.elbv2.target_state(&t.target_group_arn, &ip, t.port)
                    == Some(TargetState::Unhealthy)
            })
            .map(|t| t.target_group_arn.clone());
        let Some(tg) = failing else {
            task.unhealthy_since = None;
            continue;
        };
        let since = *task.unhealthy_since.get_or_insert(env.now);
        if env.now < timing::after(env.shared, since, timing::UNHEALTHY_REACTION) {
            continue;
        }
        let scope = svc.scope(task.set_id.as_deref());
        svc.event(
            env.now,
            format!(
                "{scope} (task {}) failed ELB health checks in (target-group {tg})",
                task.id
            ),
        );
        lifecycle::begin_stop(
            task,
            env,
            format!("Task failed ELB health checks in (target-group {tg})"),
            "ServiceSchedulerInitiated",
            true,
        );
        env.notice_failure(task);
        svc.event(
            env.now,
            format!("{scope} has stopped 1 running tasks: (task {}).", task.id),
        );
    }
}
