//! A container process exited on its own. If it was essential and the task was meant to run, the task
//! stops (EssentialContainerExited) and its service starts a replacement. As on ECS, the exit code is
//! the container's `exitCode`, and the task's `stoppedReason` is ECS's fixed sentence.

use super::{Env, lifecycle, notices};
use crate::ecs::arns::{self, Resource};
use crate::ecs::clusters::Cluster;
use crate::world::{Ctx, Region};

pub fn on_container_exit(cx: &mut Ctx, task_arn: &str, container: &str, exit_code: Option<i32>) {
    let Some(Resource::Task {
        cluster: Some(cluster),
        id,
    }) = arns::parse(task_arn)
    else {
        return;
    };
    let Region {
        ecs, elbv2, key, ..
    } = &mut *cx.region;
    let Some(cluster) = ecs.clusters.get_mut(&cluster) else {
        return;
    };
    let Cluster {
        tasks, services, ..
    } = cluster;
    let Some(task) = tasks.get_mut(&id) else {
        return;
    };
    let Some(c) = task.containers.iter_mut().find(|c| c.name == container) else {
        return;
    };
    c.exited = true;
    c.exit_code = exit_code;
    c.last_status = "STOPPED";
    let essential = c.essential;
    task.bump();
    tracing::debug!(task = %task.id, container, ?exit_code, "container exited");
    if task.desired_stopped || !essential {
        return;
    }
    let reason = "Essential container in task exited".to_string();
    let mut env = Env::new(cx.shared, elbv2, key, cx.now);
    // The process is gone: nothing to drain, the task stops at once (its targets are deregistered).
    lifecycle::begin_stop(task, &mut env, reason, "EssentialContainerExited", false);
    env.notice_failure(task);
    notices::publish(&mut env, services);
}
