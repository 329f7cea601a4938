//! The ECS scheduler: on every controller pass it moves tasks through their lifecycle, stops tasks
//! that fail their load balancer health checks, starts missing and stops surplus tasks of every
//! deployment and task set (rolling ECS deployments within their minimum/maximum percent, with the
//! deployment circuit breaker), tracks stability, and retires what is drained.

mod circuit_breaker;
mod exits;
mod health;
pub mod lifecycle;
pub mod notices;
mod rolling;
mod scale;
mod stability;
pub mod timing;

pub use circuit_breaker::threshold as circuit_breaker_threshold;
pub use exits::on_container_exit;
pub use health::is_healthy;

use notices::Notice;

use super::EcsState;
use super::clusters::Cluster;
use super::services::ServiceStatus;
use super::tasks::Task;
use crate::elbv2::Elbv2State;
use crate::world::{Ctx, Region, RegionKey, Shared};

/// What the scheduler works with in one pass over a region.
pub struct Env<'a> {
    pub shared: &'a Shared,
    pub elbv2: &'a mut Elbv2State,
    pub key: &'a RegionKey,
    pub now: f64,
    pub notices: Vec<Notice>,
}

impl<'a> Env<'a> {
    pub fn new(
        shared: &'a Shared,
        elbv2: &'a mut Elbv2State,
        key: &'a RegionKey,
        now: f64,
    ) -> Env<'a> {
        Env {
            shared,
            elbv2,
            key,
            now,
            notices: Vec::new(),
        }
    }

    /// The epoch second at which `aws_seconds` from now have passed.
    pub fn after(&self, aws_seconds: f64) -> f64 {
        timing::after(self.shared, self.now, aws_seconds)
    }

    /// Report something about a service's task to its service (tasks of RunTask have none).
    pub fn notice(&mut self, task: &Task, make: impl FnOnce(String, String) -> Notice) {
        if let (Some(service), Some(set)) = (&task.service, &task.set_id) {
            self.notices.push(make(service.clone(), set.clone()));
        }
    }

    pub fn notice_failure(&mut self, task: &Task) {
        self.notice(task, |service, set| Notice::TaskFailed { service, set });
    }
}

pub fn reconcile(cx: &mut Ctx) {
    let Region {
        ecs, elbv2, key, ..
    } = &mut *cx.region;
    let EcsState {
        clusters,
        task_definitions,
    } = ecs;
    let mut env = Env::new(cx.shared, elbv2, key, cx.now);
    for cluster in clusters.iter_mut().filter(|c| c.active) {
        let Cluster {
            name,
            arn,
            services,
            tasks,
            ..
        } = &mut *cluster;
        for task in tasks.values_mut() {
            lifecycle::advance(task, &mut env);
        }
        for service in services.values_mut() {
            health::check(service, tasks, &mut env);
            scale::run(
                service,
                tasks,
                task_definitions,
                (name.as_str(), arn.as_str()),
                &mut env,
            );
        }
        notices::publish(&mut env, services);
        for service in services.values_mut() {
            circuit_breaker::check(service, &env);
            stability::update(service, tasks, &mut env);
        }
        retire_drained_services(cluster);
        prune_stopped_tasks(cluster, &env);
    }
}

/// DRAINING services whose every task has stopped become INACTIVE.
fn retire_drained_services(cluster: &mut Cluster) {
    let drained: Vec<String> = cluster
        .services
        .values()
        .filter(|s| s.status == ServiceStatus::Draining)
        .filter(|s| {
            !cluster
                .tasks
                .values()
                .any(|t| t.service.as_deref() == Some(&s.name) && !t.is_stopped())
        })
        .map(|s| s.name.clone())
        .collect();
    for name in drained {
        if let Some(mut s) = cluster.services.remove(&name) {
            s.status = ServiceStatus::Inactive;
            s.sets.clear();
            cluster.retire(s);
        }
    }
}

/// STOPPED tasks stay describable for about an hour (bounded), as on AWS.
fn prune_stopped_tasks(cluster: &mut Cluster, env: &Env) {
    let keep_for = (timing::STOPPED_RETENTION / env.shared.clock.scale())
        .max(timing::STOPPED_RETENTION_MIN_REAL);
    cluster
        .tasks
        .retain(|_, t| !t.is_stopped() || t.stopped_at.is_none_or(|at| env.now - at < keep_for));
    let mut stopped: Vec<(f64, String)> = cluster
        .tasks
        .values()
        .filter(|t| t.is_stopped())
        .map(|t| (t.stopped_at.unwrap_or(0.0), t.id.clone()))
        .collect();
    if stopped.len() > timing::STOPPED_KEPT {
        stopped.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, id) in stopped.iter().take(stopped.len() - timing::STOPPED_KEPT) {
            cluster.tasks.remove(id);
        }
    }
}
