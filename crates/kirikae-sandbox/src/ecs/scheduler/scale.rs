//! Start missing and stop surplus tasks: every task set converges on its computedDesiredCount; an ECS
//! service's PRIMARY deployment replaces older ones step by step (see `rolling`).

use std::collections::BTreeMap;

use super::health::is_healthy;
use super::rolling::{self, RollingInput};
use super::{Env, lifecycle, timing};
use crate::ecs::services::{Controller, Service};
use crate::ecs::task_definitions::TaskDefinitions;
use crate::ecs::task_sets::{SetKind, SetStatus, computed_desired_count};
use crate::ecs::tasks::Task;
use crate::ecs::tasks::launch::{self, Launch};

/// A cluster's (name, ARN).
pub type ClusterId<'a> = (&'a str, &'a str);

pub fn run(
    svc: &mut Service,
    tasks: &mut BTreeMap<String, Task>,
    tds: &TaskDefinitions,
    cluster: ClusterId,
    env: &mut Env,
) {
    if svc.controller == Controller::Ecs && crate::ecs::native::runs_lifecycle(svc) {
        blue_green(svc, tasks, tds, cluster, env);
    } else if svc.controller == Controller::Ecs {
        deployments(svc, tasks, tds, cluster, env);
    } else {
        task_sets(svc, tasks, tds, cluster, env);
    }
    remove_finished_sets(svc, tasks);
}

fn task_sets(
    svc: &mut Service,
    tasks: &mut BTreeMap<String, Task>,
    tds: &TaskDefinitions,
    cluster: ClusterId,
    env: &mut Env,
) {
    for i in 0..svc.sets.len() {
        let set = &svc.sets[i];
        let target = if !svc.is_active() || set.status == SetStatus::Draining {
            0
        } else {
            computed_desired_count(svc.desired_count, set.scale)
        };
        svc.sets[i].desired = target;
        converge(svc, i, target, tasks, tds, cluster, env);
    }
}

/// A Blue/Green-family deployment in progress: each deployment runs the count its lifecycle gives it
/// (green from SCALE_UP, blue until CLEAN_UP), side by side.
fn blue_green(
    svc: &mut Service,
    tasks: &mut BTreeMap<String, Task>,
    tds: &TaskDefinitions,
    cluster: ClusterId,
    env: &mut Env,
) {
    for i in 0..svc.sets.len() {
        let target = if svc.is_active() {
            svc.sets[i].desired
        } else {
            0
        };
        converge(svc, i, target, tasks, tds, cluster, env);
    }
}

fn deployments(
    svc: &mut Service,
    tasks: &mut BTreeMap<String, Task>,
    tds: &TaskDefinitions,
    cluster: ClusterId,
    env: &mut Env,
) {
    let desired = if svc.is_active() {
        svc.desired_count
    } else {
        0
    };
    let Some(p) = svc.sets.iter().position(|s| s.status == SetStatus::Primary) else {
        return;
    };
    svc.sets[p].desired = desired;
    let old_live: Vec<String> = svc
        .sets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != p)
        .flat_map(|(_, s)| live(tasks, &svc.name, &s.id))
        .collect();
    if old_live.is_empty() || desired == 0 {
        for i in 0..svc.sets.len() {
            let target = if i == p { desired } else { 0 };
            svc.sets[i].desired = target;
            converge(svc, i, target, tasks, tds, cluster, env);
        }
        return;
    }
    let new_live = live(tasks, &svc.name, &svc.sets[p].id);
    let healthy = |id: &String| is_healthy(&tasks[id], env.elbv2);
    let new_healthy = new_live.iter().filter(|id| healthy(id)).count() as u32;
    let old_healthy = old_live.iter().filter(|id| healthy(id)).count() as u32;
    let percent =
        |k: &str, default: u64| svc.deployment_configuration[k].as_u64().unwrap_or(default) as u32;
    let step = rolling::step(RollingInput {
        desired,
        minimum_healthy_percent: percent("minimumHealthyPercent", 100),
        maximum_percent: percent("maximumPercent", 200),
        new_live: new_live.len() as u32,
        old_live: old_live.len() as u32,
        old_unhealthy: old_live.len() as u32 - old_healthy,
        healthy: new_healthy + old_healthy,
        new_in_flight: new_live.len() as u32 - new_healthy,
    });
    if step.start_new > 0 {
        start(svc, p, step.start_new, tasks, tds, cluster, env);
    }
    // The desired count dropped during the rollout: the new deployment sheds its surplus too.
    if new_live.len() > desired as usize {
        let n = new_live.len() - desired as usize;
        let surplus = pick_victims(tasks, new_live, n, env);
        stop(svc, p, surplus, tasks, env);
    }
    if step.stop_old > 0 {
        let victims = pick_victims(tasks, old_live, step.stop_old as usize, env);
        stop(svc, p, victims, tasks, env);
    }
    for i in (0..svc.sets.len()).filter(|i| *i != p) {
        svc.sets[i].desired = live(tasks, &svc.name, &svc.sets[i].id).len() as u32;
    }
}

/// Start or stop tasks of one set until it runs `target`.
fn converge(
    svc: &mut Service,
    i: usize,
    target: u32,
    tasks: &mut BTreeMap<String, Task>,
    tds: &TaskDefinitions,
    cluster: ClusterId,
    env: &mut Env,
) {
    let ids = live(tasks, &svc.name, &svc.sets[i].id);
    let n = ids.len() as u32;
    if n < target {
        start(svc, i, target - n, tasks, tds, cluster, env);
    } else if n > target {
        let victims = pick_victims(tasks, ids, (n - target) as usize, env);
        stop(svc, i, victims, tasks, env);
    }
}

/// Ids of the set's tasks whose desired status is RUNNING.
fn live(tasks: &BTreeMap<String, Task>, service: &str, set_id: &str) -> Vec<String> {
    tasks
        .values()
        .filter(|t| t.belongs_to(service, set_id) && t.is_live())
        .map(|t| t.id.clone())
        .collect()
}

fn start(
    svc: &mut Service,
    i: usize,
    count: u32,
    tasks: &mut BTreeMap<String, Task>,
    tds: &TaskDefinitions,
    cluster: ClusterId,
    env: &mut Env,
) {
    let set = &svc.sets[i];
    if env.now < set.next_launch_at {
        return;
    }
    let Some(td) = set
        .spec
        .task_definition
        .as_deref()
        .and_then(|arn| tds.find(arn))
    else {
        return;
    };
    // propagateTags copies the service's or the task definition's tags onto its tasks.
    let task_tags = match svc.propagate_tags.as_str() {
        "SERVICE" => svc.tags.clone(),
        "TASK_DEFINITION" => td.tags.clone(),
        _ => Vec::new(),
    };
    let mut started = Vec::new();
    let mut unplaced = None;
    for _ in 0..count {
        let placed = launch::new_task(
            env.key,
            env.shared,
            env.now,
            Launch {
                cluster_name: cluster.0,
                cluster_arn: cluster.1,
                td,
                spec: &set.spec,
                group: format!("service:{}", svc.name),
                started_by: Some(set.id.clone()),
                service: Some(svc.name.clone()),
                set_id: Some(set.id.clone()),
                overrides: None,
                tags: task_tags.clone(),
                client_token: None,
            },
        );
        match placed {
            Ok(task) => {
                started.push(format!("(task {})", task.id));
                tasks.insert(task.id.clone(), task);
            }
            Err(e) => {
                unplaced = Some(e);
                break;
            }
        }
    }
    let set_id = set.id.clone();
    if !started.is_empty() {
        let scope = svc.scope(Some(&set_id));
        svc.event(
            env.now,
            format!(
                "{scope} has started {} tasks: {}.",
                started.len(),
                started.join(" ")
            ),
        );
    }
    if let Some(e) = unplaced {
        // Try again a little later, as ECS does, rather than on every pass.
        svc.sets[i].next_launch_at = env.after(timing::PLACEMENT_RETRY);
        svc.event(
            env.now,
            format!(
                "(service {}) was unable to place a task. Reason: {}",
                svc.name,
                launch::placement_failure(e)
            ),
        );
    }
}

/// Which of `ids` to stop first: tasks not yet running, then unhealthy ones, then the newest.
fn pick_victims(
    tasks: &BTreeMap<String, Task>,
    mut ids: Vec<String>,
    n: usize,
    env: &Env,
) -> Vec<String> {
    ids.sort_by(|a, b| {
        let (ta, tb) = (&tasks[a], &tasks[b]);
        let rank = |t: &Task| (t.is_running(), is_healthy(t, env.elbv2));
        rank(ta)
            .cmp(&rank(tb))
            .then(tb.created_at.total_cmp(&ta.created_at))
    });
    ids.truncate(n);
    ids
}

fn stop(
    svc: &mut Service,
    i: usize,
    victims: Vec<String>,
    tasks: &mut BTreeMap<String, Task>,
    env: &mut Env,
) {
    if victims.is_empty() {
        return;
    }
    let set_id = svc.sets[i].id.clone();
    let mut names = Vec::new();
    for id in &victims {
        let Some(task) = tasks.get_mut(id) else {
            continue;
        };
        let reason = format!("Scaling activity initiated by (deployment {set_id})");
        lifecycle::begin_stop(task, env, reason, "ServiceSchedulerInitiated", true);
        names.push(format!("(task {id})"));
    }
    let scope = svc.scope(Some(&set_id));
    svc.event(
        env.now,
        format!(
            "{scope} has stopped {} running tasks: {}.",
            names.len(),
            names.join(" ")
        ),
    );
}

/// Old deployments and DRAINING task sets disappear once all their tasks have stopped.
fn remove_finished_sets(svc: &mut Service, tasks: &BTreeMap<String, Task>) {
    let name = svc.name.clone();
    let has_tasks = |id: &str| {
        tasks
            .values()
            .any(|t| t.belongs_to(&name, id) && !t.is_stopped())
    };
    svc.sets.retain(|s| {
        let finished = match s.kind {
            SetKind::Deployment => s.status != SetStatus::Primary,
            SetKind::TaskSet => s.status == SetStatus::Draining,
        };
        !finished || has_tasks(&s.id)
    });
}
