//! Deployment targets: an ECS deployment has one, the service, with id `<cluster>:<service>`, its
//! lifecycle events and its two task sets with their traffic weights.

use serde_json::{Value, json};

use super::deployments;
use super::lifecycle::{Deployment, Status};
use super::{err, ids, opt_str, str_list};
use crate::protocol::ApiError;
use crate::world::Ctx;

impl Deployment {
    /// `<cluster>:<service>`, as AWS names ECS targets.
    pub fn target_id(&self) -> String {
        format!(
            "{}:{}",
            self.plan.service.cluster(),
            self.plan.service.service()
        )
    }

    /// `DeploymentTarget` (type `ECSTarget`).
    pub fn target(&self) -> Value {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| {
                let mut v = json!({ "lifecycleEventName": e.name, "status": e.status.as_str() });
                if let Some(t) = e.start {
                    v["startTime"] = json!(t);
                }
                if let Some(t) = e.end {
                    v["endTime"] = json!(t);
                }
                v
            })
            .collect();
        let task_sets: Vec<Value> = self
            .task_sets
            .iter()
            .map(|s| {
                let replacement = self
                    .resolved
                    .as_ref()
                    .and_then(|r| r.replacement.as_deref())
                    == Some(s.view.id.as_str());
                let weight = if replacement {
                    self.replacement_weight
                } else {
                    100.0 - self.replacement_weight
                };
                json!({
                    // Sic: the model spells the member `identifer`.
                    "identifer": s.view.id,
                    "desiredCount": s.view.computed_desired_count,
                    "pendingCount": s.view.pending_count,
                    "runningCount": s.view.running_count,
                    "status": s.view.status,
                    "trafficWeight": weight,
                    "targetGroup": { "name": s.target_group },
                    "taskSetLabel": s.label,
                })
            })
            .collect();
        let target_arn = self
            .resolved
            .as_ref()
            .map(|r| r.service_arn.clone())
            .unwrap_or_default();
        json!({
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": self.id,
                "targetId": self.target_id(),
                "targetArn": target_arn,
                "lastUpdatedAt": self.target_updated,
                "lifecycleEvents": events,
                "status": self.target_status.as_str(),
                "taskSetsInfo": task_sets,
            }
        })
    }
}

fn started<'a>(cx: &'a Ctx, input: &Value) -> Result<&'a Deployment, ApiError> {
    let d = deployments::existing(cx, input)?;
    if d.status == Status::Created {
        return Err(err(
            "DeploymentNotStartedException",
            "The specified deployment has not started.",
        ));
    }
    Ok(d)
}

fn target_of(d: &Deployment, target_id: &str) -> Result<Value, ApiError> {
    if target_id != d.target_id() {
        return Err(err(
            "DeploymentTargetDoesNotExistException",
            format!(
                "The provided target ID {target_id} does not belong to deployment {}.",
                d.id
            ),
        ));
    }
    Ok(d.target())
}

pub fn get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let d = started(cx, input)?;
    let target_id = opt_str(input, "targetId").ok_or_else(|| {
        err(
            "DeploymentTargetIdRequiredException",
            "A deployment target ID was not provided.",
        )
    })?;
    Ok(json!({ "deploymentTarget": target_of(d, target_id)? }))
}

pub fn batch_get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let d = started(cx, input)?;
    let wanted = str_list(input, "targetIds");
    if wanted.is_empty() {
        return Err(err(
            "DeploymentTargetIdRequiredException",
            "A deployment target ID was not provided.",
        ));
    }
    // The model allows 25 ids, but an ECS (or Lambda) deployment has one target, and AWS refuses a
    // longer list: "The target list of both types of deployments must have exactly one item"
    // (DeploymentTargetListSizeExceededException, CodeDeploy API reference).
    if wanted.len() > 1 {
        return Err(err(
            "DeploymentTargetListSizeExceededException",
            "The maximum number of targets that can be associated with an Amazon ECS or AWS Lambda deployment was exceeded. The target list of both types of deployments must have exactly one item.",
        ));
    }
    let targets = wanted
        .iter()
        .map(|t| target_of(d, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "deploymentTargets": targets }))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let d = started(cx, input)?;
    let filters = input.get("targetFilters").and_then(Value::as_object);
    let mut keep = true;
    for (name, values) in filters.into_iter().flatten() {
        let values: Vec<&str> = values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match name.as_str() {
            "TargetStatus" => {
                keep &= values.is_empty() || values.contains(&d.target_status.as_str())
            }
            // Blue/Green labels apply to EC2 instances; an ECS target carries none.
            "ServerInstanceLabel" => keep &= values.is_empty(),
            other => {
                return Err(err(
                    "InvalidTargetFilterNameException",
                    format!("The target filter name {other} is invalid."),
                ));
            }
        }
    }
    let all: Vec<String> = if keep {
        vec![d.target_id()]
    } else {
        Vec::new()
    };
    let (page, next) = ids::page(&all, ids::next_token(input))?;
    let mut out = json!({ "targetIds": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}
