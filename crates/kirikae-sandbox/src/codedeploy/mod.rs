//! AWS CodeDeploy (awsJson 1.1 and RPC v2 CBOR): applications, deployment groups, deployment configs,
//! and ECS Blue/Green deployments that really run, driving ECS and ELBv2 through their own APIs as
//! CodeDeploy does with its service role.
//!
//! Module map: [`applications`], [`deployment_groups`] (with AWS's ECS validation), [`configs`]
//! (predefined and custom, and the traffic-shift schedule they imply), [`revisions`], [`tags`] hold
//! records; [`deployments`] and [`targets`] are the deployment APIs; [`lifecycle`] is the state machine
//! that [`reconcile`] advances on the sandbox clock; it acts through [`platform`] (ECS, ELBv2 and
//! CloudWatch through their own operations) and [`hooks`] (AppSpec hook functions run as local
//! commands or URLs); [`appspec`] parses revisions.

mod applications;
pub mod appspec;
mod configs;
mod deployment_groups;
mod deployments;
#[cfg(test)]
mod fake;
pub mod hooks;
mod ids;
mod lifecycle;
mod platform;
mod revisions;
mod sha256;
mod tags;
mod targets;
#[cfg(test)]
mod tests;
mod types;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::protocol::ApiError;
use crate::world::Ctx;

pub use hooks::HookConfig;

#[derive(Default)]
pub struct CodeDeployState {
    applications: BTreeMap<String, applications::Application>,
    groups: Vec<deployment_groups::DeploymentGroup>,
    /// Custom configs only; the predefined ones are constants.
    configs: BTreeMap<String, configs::DeploymentConfig>,
    deployments: BTreeMap<String, lifecycle::Deployment>,
    revisions: Vec<revisions::RevisionRecord>,
}

pub fn handle(cx: &mut Ctx, op: &str, input: &Value) -> Result<Value, ApiError> {
    match op {
        "CreateApplication" => applications::create(cx, input),
        "GetApplication" => applications::get(cx, input),
        "BatchGetApplications" => applications::batch_get(cx, input),
        "ListApplications" => applications::list(cx, input),
        "UpdateApplication" => applications::update(cx, input),
        "DeleteApplication" => applications::delete(cx, input),

        "CreateDeploymentGroup" => deployment_groups::create(cx, input),
        "GetDeploymentGroup" => deployment_groups::get(cx, input),
        "BatchGetDeploymentGroups" => deployment_groups::batch_get(cx, input),
        "ListDeploymentGroups" => deployment_groups::list(cx, input),
        "UpdateDeploymentGroup" => deployment_groups::update(cx, input),
        "DeleteDeploymentGroup" => deployment_groups::delete(cx, input),

        "CreateDeploymentConfig" => configs::create(cx, input),
        "GetDeploymentConfig" => configs::get(cx, input),
        "ListDeploymentConfigs" => configs::list(cx, input),
        "DeleteDeploymentConfig" => configs::delete(cx, input),

        "CreateDeployment" => deployments::create(cx, input),
        "GetDeployment" => deployments::get(cx, input),
        "BatchGetDeployments" => deployments::batch_get(cx, input),
        "ListDeployments" => deployments::list(cx, input),
        "ContinueDeployment" => deployments::continue_deployment(cx, input),
        "SkipWaitTimeForInstanceTermination" => deployments::skip_wait(cx, input),
        "StopDeployment" => deployments::stop(cx, input),
        "PutLifecycleEventHookExecutionStatus" => deployments::put_hook_status(cx, input),

        "GetDeploymentTarget" => targets::get(cx, input),
        "BatchGetDeploymentTargets" => targets::batch_get(cx, input),
        "ListDeploymentTargets" => targets::list(cx, input),

        "RegisterApplicationRevision" => revisions::register(cx, input),
        "GetApplicationRevision" => revisions::get(cx, input),
        "BatchGetApplicationRevisions" => revisions::batch_get(cx, input),
        "ListApplicationRevisions" => revisions::list(cx, input),

        // Instances are what Server deployments have; ECS deployments have targets.
        "ListDeploymentInstances" | "GetDeploymentInstance" | "BatchGetDeploymentInstances" => {
            Err(err(
                "InvalidComputePlatformException",
                format!(
                    "{op} applies to deployments of the Server compute platform; for ECS deployments use ListDeploymentTargets, GetDeploymentTarget or BatchGetDeploymentTargets."
                ),
            ))
        }

        "TagResource" => tags::tag(cx, input),
        "UntagResource" => tags::untag(cx, input),
        "ListTagsForResource" => tags::list(cx, input),

        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!(
                "codedeploy:{op} is not implemented in the kirikae sandbox (it emulates CodeDeploy for Amazon ECS only)"
            ),
        )),
    }
}

/// Advance every running deployment by what the clock, ECS, ELBv2, CloudWatch and the hooks allow.
pub fn reconcile(cx: &mut Ctx) {
    lifecycle::reconcile(cx);
}

// ---- Small input helpers shared by the handlers. ---------------------------------------------------

fn err(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// A string member, treating `""` as absent (CodeDeploy answers both with its `…RequiredException`).
fn opt_str<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn req_str<'a>(
    input: &'a Value,
    key: &str,
    code: &str,
    message: &str,
) -> Result<&'a str, ApiError> {
    opt_str(input, key).ok_or_else(|| err(code, message))
}

fn application_name(input: &Value) -> Result<&str, ApiError> {
    req_str(
        input,
        "applicationName",
        "ApplicationNameRequiredException",
        "The minimum number of required application names was not specified.",
    )
}

fn str_list(input: &Value, key: &str) -> Vec<String> {
    input
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Deserialize an optional member into a model structure.
fn member<T: serde::de::DeserializeOwned>(input: &Value, key: &str) -> Result<Option<T>, ApiError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| err("InvalidInputException", format!("{key}: {e}"))),
    }
}
