//! ListTasks, DescribeTasks, StopTask, RunTask.

use serde_json::{Value, json};

use super::launch::{self, Launch};
use crate::ecs::clusters::Cluster;
use crate::ecs::scheduler::{Env, lifecycle, notices};
use crate::ecs::spec::{self, LaunchSpec, Purpose};
use crate::ecs::task_definitions::TaskDefinition;
use crate::ecs::{EcsState, arns, errors, io, tags};
use crate::protocol::ApiError;
use crate::world::{Ctx, Region};

/// Tasks DescribeTasks accepts per call.
const MAX_DESCRIBE: usize = 100;
/// Tasks RunTask starts per call.
const MAX_RUN: u64 = 10;

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let cluster = cx.region.ecs.clusters.active(io::cluster_ref(input))?;
    let text = |k: &str| input.get(k).and_then(Value::as_str);
    let service = text("serviceName").map(|s| arns::service_name(s).1);
    if let Some(name) = &service
        && !cluster.services.contains_key(name)
        && !cluster.retired_services.iter().any(|s| &s.name == name)
    {
        return Err(errors::service_not_found());
    }
    let desired = text("desiredStatus").unwrap_or("RUNNING");
    let family = text("family");
    let started_by = text("startedBy");
    let launch_type = text("launchType");
    // The sandbox has no container instances: filtering by one matches nothing.
    let by_instance = text("containerInstance").is_some();
    let mut tasks: Vec<_> = cluster
        .tasks
        .values()
        .filter(|t| match desired {
            "STOPPED" => t.desired_stopped,
            "RUNNING" => !t.desired_stopped,
            _ => false,
        })
        .filter(|t| {
            service
                .as_deref()
                .is_none_or(|s| t.service.as_deref() == Some(s))
        })
        .filter(|t| family.is_none_or(|f| t.family == f))
        .filter(|t| started_by.is_none_or(|s| t.started_by.as_deref() == Some(s)))
        .filter(|t| launch_type.is_none_or(|lt| t.launch_type.as_deref() == Some(lt)))
        .filter(|_| !by_instance)
        .collect();
    tasks.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let arns: Vec<String> = tasks.into_iter().map(|t| t.arn.clone()).collect();
    let (page, next) = io::page(arns, input, 100)?;
    Ok(io::compact(json!({ "taskArns": page, "nextToken": next })))
}

pub fn describe(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let refs: Vec<String> = io::parse(&input["tasks"])?;
    if refs.len() > MAX_DESCRIBE {
        return Err(errors::invalid(format!(
            "Too many tasks were provided. The maximum is {MAX_DESCRIBE}."
        )));
    }
    let with_tags = io::includes_tags(input);
    let region = cx.region.key.region.clone();
    let key = cx.region.key.clone();
    let cluster = cx.region.ecs.clusters.active(io::cluster_ref(input))?;
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for r in refs {
        let (arn_cluster, id) = arns::task_id(&r);
        let found = cluster
            .tasks
            .get(&id)
            .filter(|_| arn_cluster.is_none_or(|c| c == cluster.name));
        match found {
            Some(t) => tasks.push(t.to_json(&region, with_tags)),
            None => {
                let arn = if r.starts_with("arn:") {
                    r
                } else {
                    arns::task(&key, &cluster.name, &id)
                };
                failures.push(json!({ "arn": arn, "reason": "MISSING" }));
            }
        }
    }
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

pub fn stop(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let Region {
        ecs, elbv2, key, ..
    } = &mut *cx.region;
    let cluster = ecs.clusters.active_mut(io::cluster_ref(input))?;
    let (arn_cluster, id) = arns::task_id(input["task"].as_str().unwrap_or_default());
    let Cluster {
        name,
        tasks,
        services,
        ..
    } = cluster;
    let task = tasks
        .get_mut(&id)
        .filter(|_| arn_cluster.as_deref().is_none_or(|c| c == name))
        .ok_or_else(|| errors::invalid("The referenced task was not found."))?;
    let reason = input
        .get("reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .unwrap_or("Task stopped by user")
        .to_string();
    let mut env = Env::new(cx.shared, elbv2, key, cx.now);
    lifecycle::begin_stop(task, &mut env, reason, "UserInitiated", true);
    let out = json!({ "task": task.to_json(&key.region, false) });
    notices::publish(&mut env, services);
    Ok(out)
}

pub fn run(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let count = input.get("count").and_then(Value::as_u64).unwrap_or(1);
    if !(1..=MAX_RUN).contains(&count) {
        return Err(errors::invalid(format!(
            "count must be between 1 and {MAX_RUN}."
        )));
    }
    let task_tags = tags::from_input(input)?;
    let Region {
        ecs, elbv2, key, ..
    } = &mut *cx.region;
    let EcsState {
        clusters,
        task_definitions,
    } = ecs;
    let cluster = clusters.active_mut(io::cluster_ref(input))?;
    let td = task_definitions.for_launch(input["taskDefinition"].as_str().unwrap_or_default())?;
    let spec = LaunchSpec::from_input(input, Some(td.arn.clone()))?;
    spec::check(&spec, td, elbv2, Purpose::RunTask)?;
    check_overrides(input.get("overrides"), td)?;
    let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
    // ECS's documented idempotency (ECS_Idempotency.html): a retry with the token of a call that
    // succeeded answers that call's tasks and starts none (a retry with other parameters is not
    // compared: what AWS answers then is not documented for RunTask).
    let token = text("clientToken").filter(|t| !t.is_empty());
    if let Some(token) = &token {
        let mut earlier: Vec<_> = cluster
            .tasks
            .values()
            .filter(|t| t.client_token.as_ref() == Some(token))
            .collect();
        if !earlier.is_empty() {
            earlier.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then(a.id.cmp(&b.id)));
            let tasks: Vec<Value> = earlier
                .iter()
                .map(|t| t.to_json(&key.region, true))
                .collect();
            return Ok(json!({ "tasks": tasks, "failures": [] }));
        }
    }
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for _ in 0..count {
        let placed = launch::new_task(
            key,
            cx.shared,
            cx.now,
            Launch {
                cluster_name: &cluster.name,
                cluster_arn: &cluster.arn,
                td,
                spec: &spec,
                group: text("group").unwrap_or_else(|| format!("family:{}", td.family)),
                started_by: text("startedBy"),
                service: None,
                set_id: None,
                overrides: input.get("overrides").filter(|v| !v.is_null()),
                tags: task_tags.clone(),
                client_token: token.clone(),
            },
        );
        match placed {
            Ok(task) => {
                out.push(task.to_json(&key.region, true));
                cluster.tasks.insert(task.id.clone(), task);
            }
            // As on AWS, tasks that cannot be placed are failures of the call, not errors.
            Err(e) => failures.push(json!({ "reason": launch::placement_failure(e) })),
        }
    }
    Ok(json!({ "tasks": out, "failures": failures }))
}

/// RunTask's `overrides.containerOverrides`: each names a container of the task definition. ECS refuses
/// the call otherwise (InvalidParameterException, in the words public reports of RunTask quote); an
/// override without a name changes no container, and is accepted as ECS accepts it (the model makes
/// `name` optional).
fn check_overrides(overrides: Option<&Value>, td: &TaskDefinition) -> Result<(), ApiError> {
    let named = overrides
        .and_then(|o| o.get("containerOverrides"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str));
    for name in named {
        if !td.containers.iter().any(|c| c.name == name) {
            return Err(errors::invalid(format!(
                "Override for container named {name} is not a container in the TaskDefinition."
            )));
        }
    }
    Ok(())
}
