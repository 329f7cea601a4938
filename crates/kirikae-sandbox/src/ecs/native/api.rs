//! ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
//! StopServiceDeployment and ContinueServiceDeployment.

use serde_json::{Value, json};

use super::deployment::{HookStatus, Status};
use super::lifecycle::{self, Place};
use super::owner_of;
use crate::ecs::clusters::Cluster;
use crate::ecs::services::Service;
use crate::ecs::{arns, errors, io};
use crate::protocol::ApiError;
use crate::world::Ctx;

/// Most ARNs one Describe call takes (model docs).
const MAX_ARNS: usize = 20;

fn not_found() -> ApiError {
    ApiError::new(
        "ServiceDeploymentNotFoundException",
        "The service deployment does not exist.",
    )
}

fn arns_of<'a>(input: &'a Value, member: &str) -> Result<Vec<&'a str>, ApiError> {
    let list: Vec<&str> = input[member]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if list.len() > MAX_ARNS {
        return Err(errors::invalid(format!(
            "{member} can have at most {MAX_ARNS} items."
        )));
    }
    Ok(list)
}

/// The cluster and service an ARN of one of their deployments or revisions names.
fn owner<'a>(cx: &'a mut Ctx, arn: &str) -> Option<(&'a Cluster, &'a Service)> {
    let (cluster, service) = owner_of(arn)?;
    if !arn.contains(&format!(
        ":{}:{}:",
        cx.region.key.region, cx.region.key.account
    )) {
        return None;
    }
    let c = cx.region.ecs.clusters.active(&cluster).ok()?;
    let s = c.services.get(&service)?;
    Some((c, s))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let reference = input["service"].as_str().unwrap_or_default();
    let (cluster_in_arn, name) = arns::service_name(reference);
    let cluster_ref = cluster_in_arn.unwrap_or_else(|| io::cluster_ref(input).to_string());
    let cluster = cx.region.ecs.clusters.active(&cluster_ref)?;
    let service = cluster
        .services
        .get(&name)
        .ok_or_else(errors::service_not_found)?;
    let statuses: Vec<&str> = input["status"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let after = input["createdAt"]["after"].as_f64();
    let before = input["createdAt"]["before"].as_f64();
    let items: Vec<Value> = service
        .history
        .deployments
        .iter()
        .rev()
        .filter(|d| statuses.is_empty() || statuses.contains(&d.status.as_str()))
        .filter(|d| after.is_none_or(|t| d.created_at >= t))
        .filter(|d| before.is_none_or(|t| d.created_at <= t))
        .map(|d| d.brief(service))
        .collect();
    let (page, next) = io::page(items, input, 20)?;
    Ok(io::compact(
        json!({ "serviceDeployments": page, "nextToken": next }),
    ))
}

pub fn describe(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns_of(input, "serviceDeploymentArns")? {
        match owner(cx, arn).and_then(|(c, s)| Some(s.history.find(arn)?.to_json(s, &c.tasks))) {
            Some(d) => found.push(d),
            None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
        }
    }
    Ok(json!({ "serviceDeployments": found, "failures": failures }))
}

pub fn describe_revisions(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns_of(input, "serviceRevisionArns")? {
        match owner(cx, arn).and_then(|(_, s)| Some(s.history.revision(arn)?.to_json(s))) {
            Some(mut r) => {
                r["containerImages"] = container_images(cx, &r["taskDefinition"]);
                found.push(r)
            }
            None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
        }
    }
    Ok(json!({ "serviceRevisions": found, "failures": failures }))
}

/// `containerImages` of a revision: each container of its task definition with its image, as AWS
/// reports them (without `imageDigest`: the sandbox pulls from no registry, so it has no digest to say).
fn container_images(cx: &Ctx, task_definition: &Value) -> Value {
    let containers = task_definition
        .as_str()
        .and_then(|arn| cx.region.ecs.task_definitions.find(arn))
        .map(|td| {
            td.containers
                .iter()
                .map(|c| json!({ "containerName": c.name, "image": c.image }))
                .collect()
        })
        .unwrap_or_default();
    Value::Array(containers)
}

/// The deployment an ARN names, for a call that changes it.
fn find(cx: &mut Ctx, arn: &str) -> Result<(String, String), ApiError> {
    let (cluster, service) = owner_of(arn).ok_or_else(not_found)?;
    owner(cx, arn)
        .filter(|(_, s)| s.history.find(arn).is_some())
        .ok_or_else(not_found)?;
    Ok((cluster, service))
}

fn deployment_mut<'a>(
    cx: &'a mut Ctx,
    (cluster, service): &(String, String),
    arn: &str,
) -> Option<&'a mut super::deployment::ServiceDeployment> {
    cx.region
        .ecs
        .clusters
        .get_mut(cluster)?
        .services
        .get_mut(service)?
        .history
        .find_mut(arn)
}

/// StopServiceDeployment: "ROLLBACK - This option rolls back the service deployment to the previous
/// service revision. You can use this option even if you didn't configure the service deployment for
/// the rollback option." (API reference; ROLLBACK is the only stop type it documents).
pub fn stop(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let arn = input["serviceDeploymentArn"].as_str().unwrap_or_default();
    let stop_type = input["stopType"].as_str().unwrap_or("ROLLBACK");
    let owner = find(cx, arn)?;
    if stop_type != "ROLLBACK" {
        return Err(errors::invalid(format!(
            "The stop type {stop_type} is not supported: ROLLBACK is the only stop type Amazon ECS documents for StopServiceDeployment."
        )));
    }
    let now = cx.now;
    let d = deployment_mut(cx, &owner, arn).ok_or_else(not_found)?;
    let stoppable = matches!(d.status, Status::Pending | Status::InProgress)
        && d.stage != Some("CLEAN_UP")
        && d.source.is_some();
    if !stoppable {
        return Err(ApiError::new(
            "ConflictException",
            format!(
                "The service deployment cannot be stopped: its status is {}{}.",
                d.status.as_str(),
                d.stage.map(|s| format!(" at {s}")).unwrap_or_default()
            ),
        ));
    }
    d.status = Status::RollbackRequested;
    d.status_reason = Some(
        "Service deployment rolled back because StopServiceDeployment was called with stop type ROLLBACK.".into(),
    );
    d.stopped_at = Some(now);
    d.updated_at = now;
    cx.shared.wake.notify_one();
    Ok(json!({ "serviceDeploymentArn": arn }))
}

/// ContinueServiceDeployment: resolves a PAUSE hook that is AWAITING_ACTION (CONTINUE, the default,
/// or ROLLBACK); the deployment must be IN_PROGRESS.
pub fn continue_(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let arn = input["serviceDeploymentArn"].as_str().unwrap_or_default();
    let hook_id = input["hookId"].as_str().unwrap_or_default();
    let rollback = input["action"].as_str() == Some("ROLLBACK");
    let owner = find(cx, arn)?;
    let now = cx.now;
    let d = deployment_mut(cx, &owner, arn).ok_or_else(not_found)?;
    if d.status != Status::InProgress {
        return Err(errors::invalid(format!(
            "The service deployment is {}, not IN_PROGRESS: there is nothing to continue.",
            d.status.as_str()
        )));
    }
    let Some(hook) = d.hooks.iter_mut().find(|h| h.hook_id == hook_id) else {
        return Err(errors::invalid(format!(
            "The service deployment has no lifecycle hook with hookId {hook_id}."
        )));
    };
    if hook.status != HookStatus::AwaitingAction {
        return Err(errors::invalid(format!(
            "The lifecycle hook {hook_id} is {}, not AWAITING_ACTION.",
            hook.status.as_str()
        )));
    }
    if rollback {
        hook.status = HookStatus::Failed;
        d.status = Status::RollbackRequested;
        d.status_reason = Some(
            "Service deployment rolled back because ContinueServiceDeployment was called with action ROLLBACK.".into(),
        );
    } else {
        hook.status = HookStatus::Succeeded;
    }
    d.updated_at = now;
    // The effect shows at once (the next stage starts in this call), as a client continuing expects.
    let (cluster, service) = owner;
    lifecycle::advance_one(
        cx,
        &Place {
            cluster: &cluster,
            service: &service,
        },
        arn,
    );
    Ok(json!({ "serviceDeploymentArn": arn }))
}
