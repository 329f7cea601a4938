//! A task's way through `lastStatus`: PROVISIONING → PENDING (containers start) → RUNNING (registered
//! with its target groups) → DEACTIVATING (deregistered, draining for the deregistration delay) →
//! STOPPING (SIGTERM, SIGKILL after stopTimeout) → DEPROVISIONING → STOPPED.

use super::notices::Notice;
use super::{Env, timing};
use crate::ecs::tasks::{Task, TaskStatus};
use crate::runtime::ContainerSpec;

/// Take the task's next timed step, if it is due.
pub fn advance(task: &mut Task, env: &mut Env) {
    // Stopping ends as soon as every container has exited, whatever the deadline.
    if task.last_status == TaskStatus::Stopping && task.containers.iter().all(|c| c.exited) {
        deprovision(task, env);
        return;
    }
    if env.now < task.next_at {
        return;
    }
    match task.last_status {
        TaskStatus::Provisioning if task.desired_stopped => deprovision(task, env),
        TaskStatus::Provisioning => start(task, env),
        TaskStatus::Pending if !task.desired_stopped => running(task, env),
        TaskStatus::Deactivating => stop_processes(task, env),
        TaskStatus::Stopping => deprovision(task, env),
        TaskStatus::Deprovisioning => stopped(task, env),
        _ => {}
    }
}

/// Start every container. An image the runtime cannot run fails the task (TaskFailedToStart).
fn start(task: &mut Task, env: &mut Env) {
    task.pull_started_at = Some(env.now);
    let mut failure = None;
    for c in task.containers.iter_mut() {
        let spec = ContainerSpec {
            region: env.key.clone(),
            task_arn: task.arn.clone(),
            task_id: task.id.clone(),
            task_definition_arn: task.task_definition_arn.clone(),
            container_name: c.name.clone(),
            image: c.image.clone(),
            ip: task.eni.ip,
            port: c.port,
            environment: c.environment.clone(),
            command: c.command.clone(),
        };
        match env.shared.runtime.start(spec) {
            Ok(()) => c.exited = false,
            Err(e) => {
                c.reason = Some(e.to_string());
                failure = Some(e.to_string());
                break;
            }
        }
    }
    task.bump();
    if let Some(reason) = failure {
        tracing::info!(task = %task.id, "task failed to start: {reason}");
        env.shared
            .runtime
            .stop(&task.arn, std::time::Duration::ZERO);
        task.desired_stopped = true;
        task.stop_code = Some("TaskFailedToStart");
        task.stopped_reason = Some(reason);
        task.stopping_at = Some(env.now);
        task.pull_stopped_at = Some(env.now);
        for c in task.containers.iter_mut() {
            c.exited = true;
        }
        env.notice_failure(task);
        deprovision(task, env);
        return;
    }
    task.last_status = TaskStatus::Pending;
    task.next_at = env.after(timing::PULL);
}

/// Containers are up: RUNNING, and registered with the task's target groups.
fn running(task: &mut Task, env: &mut Env) {
    task.last_status = TaskStatus::Running;
    task.pull_stopped_at = Some(env.now);
    task.started_at = Some(env.now);
    task.connectivity_at = Some(env.now);
    for c in task.containers.iter_mut().filter(|c| !c.exited) {
        c.last_status = "RUNNING";
    }
    let ip = task.ip();
    for target in task.lb_targets.clone() {
        match env
            .elbv2
            .register_target(&target.target_group_arn, &ip, target.port, env.now)
        {
            Ok(()) => {
                env.notice(task, |service, set| Notice::Registered {
                    service,
                    set,
                    target_group: target.target_group_arn.clone(),
                });
                task.registered.push(target);
            }
            Err(e) => env.notice(task, |service, set| Notice::RegisterFailed {
                service,
                set,
                target_group: target.target_group_arn.clone(),
                error: e.message.clone(),
            }),
        }
    }
    task.bump();
}

/// Begin stopping a task: desired STOPPED now; deregistered targets drain for the target group's
/// deregistration delay first when `drain` (a live task), else the processes stop at once.
pub fn begin_stop(task: &mut Task, env: &mut Env, reason: String, code: &'static str, drain: bool) {
    if task.desired_stopped {
        return;
    }
    task.desired_stopped = true;
    task.stopping_at = Some(env.now);
    task.stop_code = Some(code);
    task.stopped_reason = Some(reason);
    task.unhealthy_since = None;
    task.bump();
    match task.last_status {
        TaskStatus::Provisioning => {
            task.next_at = env.now;
        }
        TaskStatus::Pending | TaskStatus::Running => {
            let delay = deregister(task, env);
            if drain && delay > 0.0 {
                task.last_status = TaskStatus::Deactivating;
                task.next_at = env.after(delay);
            } else {
                stop_processes(task, env);
            }
        }
        _ => {}
    }
}

/// Deregister every target; returns the longest deregistration delay (AWS seconds).
fn deregister(task: &mut Task, env: &mut Env) -> f64 {
    let ip = task.ip();
    let mut delay: f64 = 0.0;
    for target in std::mem::take(&mut task.registered) {
        let tg = &target.target_group_arn;
        if let Some(info) = env.elbv2.target_group(tg) {
            delay = delay.max(info.deregistration_delay);
        }
        env.elbv2.deregister_target(tg, &ip, target.port, env.now);
        env.notice(task, |service, set| Notice::Deregistered {
            service,
            set,
            target_group: tg.clone(),
        });
    }
    delay
}

/// SIGTERM now, SIGKILL after stopTimeout; STOPPING until every container has exited.
fn stop_processes(task: &mut Task, env: &mut Env) {
    task.last_status = TaskStatus::Stopping;
    env.shared
        .runtime
        .stop(&task.arn, env.shared.clock.real(task.stop_timeout));
    task.next_at = env.after(task.stop_timeout + timing::STOP_GRACE);
    task.bump();
}

fn deprovision(task: &mut Task, env: &mut Env) {
    // Targets of a task that never drained (it failed, or its process died) leave now.
    deregister(task, env);
    for c in task.containers.iter_mut() {
        c.exited = true;
        c.last_status = "STOPPED";
    }
    task.last_status = TaskStatus::Deprovisioning;
    task.execution_stopped_at = Some(env.now);
    task.next_at = env.after(timing::DEPROVISIONING);
    task.bump();
}

fn stopped(task: &mut Task, env: &mut Env) {
    if task.last_status != TaskStatus::Stopped {
        // Its ENI is gone: the task no longer counts against the sandbox's task cap.
        env.shared.addrs.release_task();
    }
    task.last_status = TaskStatus::Stopped;
    task.stopped_at = Some(env.now);
    task.bump();
}
