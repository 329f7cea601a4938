//! CreateTaskSet, DescribeTaskSets, UpdateTaskSet, UpdateServicePrimaryTaskSet, DeleteTaskSet.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{SetKind, SetStatus, TaskSet, computed_desired_count};
use crate::ecs::services::{Controller, Service};
use crate::ecs::spec::{self, LaunchSpec, Purpose};
use crate::ecs::tasks::Task;
use crate::ecs::{Caller, arns, errors, io, tags};
use crate::protocol::ApiError;
use crate::world::Ctx;

/// AWS's limit of task sets ("deployments") per service.
const MAX_TASK_SETS: usize = 5;

/// AWS's answer to task set management a caller may not do (its words).
fn not_external() -> ApiError {
    errors::invalid(
        "Amazon ECS only supports task set management on services configured to use external deployment controllers.",
    )
}

/// The ACTIVE task-set service a request names (task set APIs need `cluster` and `service`), if
/// `caller` may `manage` (create, update, delete, make primary) its task sets, or read them.
/// Clients manage only EXTERNAL services' task sets ("This is used when a service uses the EXTERNAL
/// deployment controller type", API reference); CodeDeploy manages those of CODE_DEPLOY services.
fn task_set_service<'a>(
    cx: &'a mut Ctx,
    input: &Value,
    caller: Caller,
    manage: bool,
) -> Result<(&'a mut Service, &'a BTreeMap<String, Task>), ApiError> {
    let cluster = cx.region.ecs.clusters.active_mut(io::cluster_ref(input))?;
    let (_, name) = arns::service_name(input["service"].as_str().unwrap_or_default());
    let service = cluster
        .services
        .get_mut(&name)
        .ok_or_else(errors::service_not_found)?;
    if !service.is_active() {
        return Err(errors::service_not_active());
    }
    match service.controller {
        Controller::Ecs => return Err(not_external()),
        Controller::CodeDeploy if manage && caller == Caller::Client => {
            return Err(not_external());
        }
        _ => {}
    }
    Ok((service, &cluster.tasks))
}

/// `scale.value` of a request (absent: `None`). "Accepted values are numbers between 0 and 100"
/// (model doc of `Scale`): AWS refuses others rather than capping them.
fn scale_value(input: &Value) -> Result<Option<f64>, ApiError> {
    match input.get("scale").and_then(|s| s.get("value")) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if (0.0..=100.0).contains(&n) => Ok(Some(n)),
            _ => Err(errors::invalid(format!(
                "The scale value {v} is not valid: accepted values are numbers between 0 and 100 (percent of the service's desired count)."
            ))),
        },
    }
}

fn find_set<'a>(service: &'a mut Service, reference: &str) -> Result<&'a mut TaskSet, ApiError> {
    let id = arns::task_set_id(reference);
    service
        .sets
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| errors::task_set_not_found(&id))
}

pub fn create(cx: &mut Ctx, input: &Value, caller: Caller) -> Result<Value, ApiError> {
    let td_ref = input["taskDefinition"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let td = cx.region.ecs.task_definitions.for_launch(&td_ref)?;
    let (td_arn, awsvpc) = (td.arn.clone(), td.network_mode() == "awsvpc");
    let mut spec = LaunchSpec::from_input(input, Some(td_arn.clone()))?;
    let set_tags = tags::from_input(input)?;
    let scale = scale_value(input)?.unwrap_or(0.0);
    let now = cx.now;
    // The service is looked up twice: first for what the new set inherits from it, then (after the
    // checks against ELBv2, which borrow the whole region) to add the set.
    let (service, tasks) = task_set_service(cx, input, caller, true)?;
    if let Some(token) = input.get("clientToken").and_then(Value::as_str)
        && let Some(existing) = service
            .sets
            .iter()
            .find(|s| s.client_token.as_deref() == Some(token))
    {
        return Ok(json!({ "taskSet": existing.to_json(service, tasks, true) }));
    }
    if service.sets.len() >= MAX_TASK_SETS {
        return Err(errors::invalid(format!(
            "{MAX_TASK_SETS} deployments exist on the service. Unable to create new TaskSet since this exceeds the maximum limit."
        )));
    }
    // Settings the request leaves out follow the service (CodeDeploy passes the service's own when the
    // AppSpec omits them).
    if spec.launch_type.is_none() && spec.capacity_provider_strategy.is_none() {
        spec.launch_type = service.spec.launch_type.clone();
        spec.capacity_provider_strategy = service.spec.capacity_provider_strategy.clone();
    }
    if spec.network_configuration.is_none() && awsvpc {
        spec.network_configuration = service.primary_spec().network_configuration.clone();
    }
    let service_name = service.name.clone();
    let cluster_name = service.cluster_name.clone();
    let region = &mut *cx.region;
    let td = region.ecs.task_definitions.for_launch(&td_arn)?;
    spec::check(&spec, td, &region.elbv2, Purpose::TaskSet)?;
    let cluster = region.ecs.clusters.active_mut(&cluster_name)?;
    let service = cluster
        .services
        .get_mut(&service_name)
        .ok_or_else(errors::service_not_found)?;
    let mut set = TaskSet::new(SetKind::TaskSet, SetStatus::Active, service, spec, now);
    set.scale = scale;
    set.desired = computed_desired_count(service.desired_count, set.scale);
    set.external_id = input
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    set.client_token = input
        .get("clientToken")
        .and_then(Value::as_str)
        .map(str::to_string);
    set.tags = set_tags;
    // Only CodeDeploy creates task sets on CODE_DEPLOY services; AWS marks those `CODE_DEPLOY`.
    if service.controller == Controller::CodeDeploy {
        set.started_by = Some("CODE_DEPLOY".to_string());
    }
    let out = json!({ "taskSet": set.to_json(service, &cluster.tasks, true) });
    service.sets.push(set);
    service.steady = false;
    Ok(out)
}

pub fn describe(cx: &mut Ctx, input: &Value, caller: Caller) -> Result<Value, ApiError> {
    let with_tags = io::includes_tags(input);
    let wanted: Option<Vec<String>> = match input.get("taskSets") {
        Some(v) if v.as_array().is_some_and(|a| !a.is_empty()) => Some(io::parse(v)?),
        _ => None,
    };
    let (service, tasks) = task_set_service(cx, input, caller, false)?;
    let service = &*service;
    let Some(wanted) = wanted else {
        let sets: Vec<Value> = service
            .sets
            .iter()
            .map(|s| s.to_json(service, tasks, with_tags))
            .collect();
        return Ok(json!({ "taskSets": sets, "failures": [] }));
    };
    let mut sets = Vec::new();
    let mut failures = Vec::new();
    for r in wanted {
        let id = arns::task_set_id(&r);
        match service.sets.iter().find(|s| s.id == id) {
            Some(s) => sets.push(s.to_json(service, tasks, with_tags)),
            None => failures.push(json!({ "arn": r, "reason": "MISSING" })),
        }
    }
    Ok(json!({ "taskSets": sets, "failures": failures }))
}

pub fn update(cx: &mut Ctx, input: &Value, caller: Caller) -> Result<Value, ApiError> {
    let now = cx.now;
    let scale = scale_value(input)?.unwrap_or(0.0);
    let (service, tasks) = task_set_service(cx, input, caller, true)?;
    let desired = service.desired_count;
    let set = find_set(service, input["taskSet"].as_str().unwrap_or_default())?;
    if set.status == SetStatus::Draining {
        return Err(errors::invalid(
            "The specified task set is DRAINING and cannot be updated.",
        ));
    }
    set.scale = scale;
    set.desired = computed_desired_count(desired, scale);
    set.updated_at = now;
    let set = set.clone();
    service.steady = false;
    Ok(json!({ "taskSet": set.to_json(service, tasks, true) }))
}

pub fn update_primary(cx: &mut Ctx, input: &Value, caller: Caller) -> Result<Value, ApiError> {
    let now = cx.now;
    let (service, tasks) = task_set_service(cx, input, caller, true)?;
    let id = find_set(
        service,
        input["primaryTaskSet"].as_str().unwrap_or_default(),
    )?
    .id
    .clone();
    for set in service.sets.iter_mut() {
        if set.id == id {
            if set.status == SetStatus::Draining {
                return Err(errors::invalid(
                    "A DRAINING task set cannot become the primary task set.",
                ));
            }
            if set.status != SetStatus::Primary {
                set.status = SetStatus::Primary;
                set.updated_at = now;
            }
        } else if set.status == SetStatus::Primary {
            set.status = SetStatus::Active;
            set.updated_at = now;
        }
    }
    let set = service
        .sets
        .iter()
        .find(|s| s.id == id)
        .expect("found above")
        .clone();
    Ok(json!({ "taskSet": set.to_json(service, tasks, true) }))
}

/// DeleteTaskSet: the set goes DRAINING; the scheduler deregisters and stops its tasks and removes it
/// once they are all stopped. Without `force`, the set must have been scaled to zero first (model doc).
pub fn delete(cx: &mut Ctx, input: &Value, caller: Caller) -> Result<Value, ApiError> {
    let now = cx.now;
    let force = input.get("force").and_then(Value::as_bool).unwrap_or(false);
    let (service, tasks) = task_set_service(cx, input, caller, true)?;
    let set = find_set(service, input["taskSet"].as_str().unwrap_or_default())?;
    if !force && set.desired > 0 && set.status != SetStatus::Draining {
        return Err(errors::invalid(format!(
            "The task set {} cannot be deleted because it has not been scaled down to zero. Scale it to 0 or use force.",
            set.id
        )));
    }
    set.status = SetStatus::Draining;
    set.desired = 0;
    set.updated_at = now;
    let set = set.clone();
    service.steady = false;
    Ok(json!({ "taskSet": set.to_json(service, tasks, true) }))
}
