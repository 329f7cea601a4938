//! The deployment APIs: create (validating the revision and the one-active-deployment rule), read,
//! list, and the control calls (continue, stop, hook status) that steer the [`lifecycle`].

use serde_json::{Value, json};

use super::deployment_groups::{self, to, validate_alarms};
use super::lifecycle::{self, Deployment, HookReportError, Plan, Status};
use super::types::{AlarmConfiguration, AutoRollbackConfiguration};
use super::{
    application_name, applications, appspec, configs, err, ids, member, opt_str, revisions, sha256,
    str_list,
};
use crate::protocol::ApiError;
use crate::world::Ctx;

fn deployment_id(input: &Value) -> Result<&str, ApiError> {
    let id = opt_str(input, "deploymentId").ok_or_else(|| {
        err(
            "DeploymentIdRequiredException",
            "At least one deployment ID must be specified.",
        )
    })?;
    if !ids::is_deployment_id(id) {
        return Err(err(
            "InvalidDeploymentIdException",
            format!("Specified DeploymentId is not in the valid format: {id}"),
        ));
    }
    Ok(id)
}

pub fn not_found(id: &str) -> ApiError {
    err(
        "DeploymentDoesNotExistException",
        format!("The deployment {id} could not be found."),
    )
}

/// The deployment `id`, or AWS's exceptions.
pub fn existing<'a>(cx: &'a Ctx, input: &Value) -> Result<&'a Deployment, ApiError> {
    let id = deployment_id(input)?;
    cx.region
        .codedeploy
        .deployments
        .get(id)
        .ok_or_else(|| not_found(id))
}

fn existing_mut<'a>(cx: &'a mut Ctx, input: &Value) -> Result<&'a mut Deployment, ApiError> {
    let id = deployment_id(input)?;
    cx.region
        .codedeploy
        .deployments
        .get_mut(id)
        .ok_or_else(|| not_found(id))
}

/// Content and optional sha256 of an inline revision; S3 and GitHub revisions cannot be read here.
fn revision_content(revision: &Value) -> Result<String, ApiError> {
    let kind = revision
        .get("revisionType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = match kind {
        "AppSpecContent" => revision.get("appSpecContent"),
        // The deprecated Lambda form carries the same content.
        "String" => revision.get("string"),
        "S3" | "GitHub" => {
            return Err(err(
                "InvalidRevisionException",
                format!(
                    "The kirikae sandbox cannot read {kind} revisions: send the AppSpec inline as revisionType AppSpecContent with appSpecContent.content (as `aws ecs deploy` does)."
                ),
            ));
        }
        _ => {
            return Err(err(
                "InvalidRevisionException",
                "The revision type must be AppSpecContent for an ECS deployment.",
            ));
        }
    };
    let content = body
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            err(
                "InvalidRevisionException",
                "The AppSpec content of the revision was not specified.",
            )
        })?;
    if let Some(expected) = body
        .and_then(|b| b.get("sha256"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        // Hex SHA-256 of the exact content bytes; AWS validates it when given. [U: exact exception]
        let actual = sha256::hex(content.as_bytes());
        if !expected.eq_ignore_ascii_case(&actual) {
            return Err(err(
                "InvalidRevisionException",
                format!(
                    "The sha256 of the AppSpec content does not match: expected {expected}, the content hashes to {actual}."
                ),
            ));
        }
    }
    Ok(content.to_string())
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app_name = application_name(input)?;
    applications::existing(cx, app_name)?;
    let group_name = opt_str(input, "deploymentGroupName").ok_or_else(|| {
        err(
            "DeploymentGroupNameRequiredException",
            "The deployment group name was not specified.",
        )
    })?;
    let group = deployment_groups::existing(cx, app_name, group_name)?.clone();
    if let Some(active) = cx
        .region
        .codedeploy
        .deployments
        .values()
        .find(|d| d.group_id == group.id && !d.status.terminal())
    {
        return Err(err(
            "DeploymentLimitExceededException",
            format!(
                "The Deployment Group '{group_name}' already has an active Deployment '{}'",
                active.id
            ),
        ));
    }
    let revision = match input.get("revision").filter(|v| !v.is_null()) {
        Some(r) => r.clone(),
        None => group.target_revision.clone().ok_or_else(|| {
            err(
                "RevisionRequiredException",
                "RevisionLocation must be specified",
            )
        })?,
    };
    let content = revision_content(&revision)?;
    let config_name = opt_str(input, "deploymentConfigName")
        .unwrap_or(&group.deployment_config_name)
        .to_string();
    let config = configs::ecs_config(cx, &config_name)?;
    let schedule = configs::schedule_checked(&config.routing.clone().unwrap_or_default())?;
    // EC2/On-Premises only (AWS: "For Lambda, ECS and Kubernetes deployment, fileExistsBehavior can
    // not be specified").
    if input
        .get("fileExistsBehavior")
        .is_some_and(|v| !v.is_null())
    {
        return Err(err(
            "InvalidFileExistsBehaviorException",
            "For Lambda, ECS and Kubernetes deployment, fileExistsBehavior can not be specified",
        ));
    }
    let description = opt_str(input, "description").map(String::from);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(err(
            "DescriptionTooLongException",
            "The description is too long.",
        ));
    }
    let auto_rollback: AutoRollbackConfiguration =
        member(input, "autoRollbackConfiguration")?.unwrap_or_else(|| group.auto_rollback.clone());
    if auto_rollback.enabled && auto_rollback.events.is_empty() {
        return Err(err(
            "InvalidAutoRollbackConfigException",
            "At least one rollback event must be specified when automatic rollback is enabled.",
        ));
    }
    let override_alarms: Option<AlarmConfiguration> = member(input, "overrideAlarmConfiguration")?;
    if let Some(a) = &override_alarms {
        validate_alarms(a)?;
    }
    if input
        .get("targetInstances")
        .is_some_and(|t| t.as_object().is_some_and(|o| !o.is_empty()))
    {
        return Err(err(
            "InvalidTargetInstancesException",
            "targetInstances cannot be specified for an ECS deployment.",
        ));
    }
    let previous_revision = cx
        .region
        .codedeploy
        .deployments
        .values()
        .filter(|d| d.group_id == group.id && d.status == Status::Succeeded)
        .max_by(|a, b| a.create_time.total_cmp(&b.create_time))
        .map(|d| d.plan.revision.clone());
    let mut id = ids::deployment_id();
    while cx.region.codedeploy.deployments.contains_key(&id) {
        id = ids::deployment_id();
    }
    let plan = Plan {
        application: app_name.to_string(),
        group_name: group.name.clone(),
        group_id: group.id.clone(),
        config_name,
        schedule,
        revision: revision.clone(),
        previous_revision,
        // A malformed AppSpec is not a CreateDeployment error: the deployment fails (INVALID_REVISION).
        appspec: appspec::parse(&content),
        description: description.clone(),
        auto_rollback,
        override_alarms,
        group_alarms: group.alarms.clone(),
        blue_green: group.blue_green.clone(),
        load_balancer_info: group.load_balancer_info.clone(),
        deployment_style: group.deployment_style.clone(),
        service: group.service().clone(),
    };
    let deployment = Deployment::new(id.clone(), plan, cx.now);
    revisions::record_use(cx, app_name, &revision, &group.name, description.as_deref());
    if let Some(g) = cx
        .region
        .codedeploy
        .groups
        .iter_mut()
        .find(|g| g.id == group.id)
    {
        g.target_revision = Some(revision);
    }
    cx.region
        .codedeploy
        .deployments
        .insert(id.clone(), deployment);
    tracing::info!(deployment = %id, application = app_name, group = group_name, "deployment created");
    Ok(json!({ "deploymentId": id }))
}

pub fn get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let d = existing(cx, input)?;
    Ok(json!({ "deploymentInfo": d.info() }))
}

pub fn batch_get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let ids_in = str_list(input, "deploymentIds");
    if ids_in.is_empty() {
        return Err(err(
            "DeploymentIdRequiredException",
            "At least one deployment ID must be specified.",
        ));
    }
    if ids_in.len() > 25 {
        return Err(err(
            "BatchLimitExceededException",
            "The maximum number of names or IDs allowed for this request (25) was exceeded.",
        ));
    }
    if let Some(bad) = ids_in.iter().find(|i| !ids::is_deployment_id(i)) {
        return Err(err(
            "InvalidDeploymentIdException",
            format!("Specified DeploymentId is not in the valid format: {bad}"),
        ));
    }
    // Unknown ids are left out, not errors.
    let infos: Vec<Value> = ids_in
        .iter()
        .filter_map(|i| cx.region.codedeploy.deployments.get(i))
        .map(Deployment::info)
        .collect();
    Ok(json!({ "deploymentsInfo": infos }))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app = opt_str(input, "applicationName");
    let group = opt_str(input, "deploymentGroupName");
    let group_id = match (app, group) {
        (Some(a), Some(g)) => Some(deployment_groups::existing(cx, a, g)?.id.clone()),
        (Some(a), None) => {
            applications::existing(cx, a)?;
            return Err(err(
                "DeploymentGroupNameRequiredException",
                "The deployment group name was not specified.",
            ));
        }
        (None, Some(_)) => {
            return Err(err(
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            ));
        }
        (None, None) => None,
    };
    let statuses = str_list(input, "includeOnlyStatuses");
    let external_id = opt_str(input, "externalId");
    let range = input.get("createTimeRange");
    let start = range.and_then(|r| r.get("start")).and_then(Value::as_f64);
    let end = range.and_then(|r| r.get("end")).and_then(Value::as_f64);
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(err(
            "InvalidTimeRangeException",
            "The specified time range was specified in an invalid format.",
        ));
    }
    let mut matching: Vec<&Deployment> = cx
        .region
        .codedeploy
        .deployments
        .values()
        .filter(|d| group_id.as_ref().is_none_or(|g| &d.group_id == g))
        .filter(|d| statuses.is_empty() || statuses.iter().any(|s| s == d.status.as_str()))
        .filter(|d| {
            start.is_none_or(|s| d.create_time >= s) && end.is_none_or(|e| d.create_time <= e)
        })
        // ECS deployments have no external id (that is CloudFormation's); a filter on one matches none.
        .filter(|_| external_id.is_none())
        .collect();
    // Newest first, as AWS lists them (ecspresso takes the first as the latest).
    matching.sort_by(|a, b| b.create_time.total_cmp(&a.create_time));
    let all: Vec<String> = matching.iter().map(|d| d.id.clone()).collect();
    let (page, next) = ids::page(&all, ids::next_token(input))?;
    let mut out = json!({ "deployments": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

fn already_completed(d: &Deployment) -> ApiError {
    err(
        "DeploymentAlreadyCompletedException",
        format!("The deployment {} has already completed.", d.id),
    )
}

pub fn continue_deployment(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let wait = opt_str(input, "deploymentWaitType").unwrap_or("READY_WAIT");
    let d = existing_mut(cx, input)?;
    if d.status.terminal() {
        return Err(already_completed(d));
    }
    match wait {
        "READY_WAIT" => {
            if d.status != Status::Ready {
                return Err(err(
                    "DeploymentIsNotInReadyStateException",
                    format!(
                        "The deployment {} is not in the Ready state (it is {}).",
                        d.id,
                        d.status.as_str()
                    ),
                ));
            }
            d.continue_from_ready();
        }
        "TERMINATION_WAIT" => {
            if !d.in_termination_wait() {
                return Err(err(
                    "DeploymentIsNotInReadyStateException",
                    format!(
                        "The deployment {} is not waiting to terminate the original task set.",
                        d.id
                    ),
                ));
            }
            d.skip_termination_wait();
        }
        other => {
            return Err(err(
                "InvalidDeploymentWaitTypeException",
                format!("The wait type {other} is invalid."),
            ));
        }
    }
    let id = d.id.clone();
    lifecycle::advance_one(cx, &id);
    Ok(json!({}))
}

/// The deprecated form of `ContinueDeployment(TERMINATION_WAIT)`.
pub fn skip_wait(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let d = existing_mut(cx, input)?;
    if d.status.terminal() {
        return Err(already_completed(d));
    }
    if d.status == Status::Created {
        return Err(err(
            "DeploymentNotStartedException",
            "The specified deployment has not started.",
        ));
    }
    d.skip_termination_wait();
    let id = d.id.clone();
    lifecycle::advance_one(cx, &id);
    Ok(json!({}))
}

pub fn stop(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let rollback = input.get("autoRollbackEnabled").and_then(Value::as_bool);
    let d = existing_mut(cx, input)?;
    if d.status.terminal() {
        return Err(already_completed(d));
    }
    d.request_stop(rollback);
    // The stop is acted on by the controller's next pass (woken by this call), not within it: AWS
    // answers `Pending` (its API reference's sample answer, words included), and a GetDeployment
    // right after may still see the deployment running.
    Ok(json!({
        "status": "Pending",
        "statusMessage": "Stopping Pending. Stopping to schedule commands in the deployment instances",
    }))
}

pub fn put_hook_status(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let execution_id = opt_str(input, "lifecycleEventHookExecutionId")
        .ok_or_else(|| {
            err(
                "InvalidLifecycleEventHookExecutionIdException",
                "A lifecycle event hook execution ID must be specified.",
            )
        })?
        .to_string();
    let status = opt_str(input, "status").unwrap_or_default();
    let outcome = match status {
        "Succeeded" => Ok(()),
        "Failed" => Err(String::new()),
        other => {
            return Err(err(
                "InvalidLifecycleEventHookExecutionStatusException",
                format!("The status {other} is not valid: a hook reports Succeeded or Failed."),
            ));
        }
    };
    let d = existing_mut(cx, input)?;
    let event = d
        .hook_executions
        .iter()
        .find(|h| h.id == execution_id)
        .map(|h| h.event);
    let outcome = outcome.map_err(|_| {
        let event = event.unwrap_or("lifecycle");
        format!("The {event} hook reported Failed with PutLifecycleEventHookExecutionStatus.")
    });
    match d.report_hook(&execution_id, outcome) {
        Ok(()) => {}
        Err(HookReportError::Unknown) => {
            return Err(err(
                "InvalidLifecycleEventHookExecutionIdException",
                "The ID of a lifecycle event hook is not valid for this deployment.",
            ));
        }
        Err(HookReportError::AlreadyCompleted) => {
            return Err(err(
                "LifecycleEventAlreadyCompletedException",
                "An attempt to return the status of an already completed lifecycle event occurred.",
            ));
        }
    }
    let id = d.id.clone();
    lifecycle::advance_one(cx, &id);
    Ok(json!({ "lifecycleEventHookExecutionId": execution_id }))
}

impl Deployment {
    /// `DeploymentInfo` as AWS answers it for an ECS deployment.
    pub fn info(&self) -> Value {
        let n = |p: lifecycle::Phase| i64::from(self.target_status == p);
        let mut v = json!({
            "applicationName": self.application,
            "deploymentGroupName": self.group_name,
            "deploymentConfigName": self.plan.config_name,
            "deploymentId": self.id,
            "revision": self.plan.revision,
            "status": self.status.as_str(),
            "createTime": self.create_time,
            "deploymentOverview": {
                "Pending": n(lifecycle::Phase::Pending),
                "InProgress": n(lifecycle::Phase::InProgress),
                "Succeeded": n(lifecycle::Phase::Succeeded),
                "Failed": n(lifecycle::Phase::Failed),
                "Skipped": n(lifecycle::Phase::Skipped),
                "Ready": n(lifecycle::Phase::Ready),
            },
            "creator": self.creator,
            "ignoreApplicationStopFailures": false,
            "autoRollbackConfiguration": to(&self.plan.auto_rollback),
            "updateOutdatedInstancesOnly": false,
            "deploymentStyle": to(&self.plan.deployment_style),
            "instanceTerminationWaitTimeStarted": self.termination_wait_started,
            "blueGreenDeploymentConfiguration": to(&self.plan.blue_green),
            "loadBalancerInfo": to(&self.plan.load_balancer_info),
            "fileExistsBehavior": "DISALLOW",
            "targetInstances": { "tagFilters": [], "autoScalingGroups": [] },
            "deploymentStatusMessages": self.status_messages,
            "computePlatform": "ECS",
        });
        let put = |v: &mut Value, k: &str, x: Option<Value>| {
            if let Some(x) = x {
                v[k] = x;
            }
        };
        put(
            &mut v,
            "previousRevision",
            self.plan.previous_revision.clone(),
        );
        put(&mut v, "startTime", self.start_time.map(|t| json!(t)));
        put(&mut v, "completeTime", self.complete_time.map(|t| json!(t)));
        put(
            &mut v,
            "description",
            self.plan.description.clone().map(Value::from),
        );
        put(
            &mut v,
            "errorInformation",
            self.error
                .as_ref()
                .map(|(code, message)| json!({ "code": code, "message": message })),
        );
        put(
            &mut v,
            "overrideAlarmConfiguration",
            self.plan
                .override_alarms
                .as_ref()
                .filter(|_| !self.is_rollback())
                .map(to),
        );
        let r = &self.rollback_info;
        if r.deployment_id.is_some() || r.triggering_deployment_id.is_some() || r.message.is_some()
        {
            let mut info = json!({});
            put(
                &mut info,
                "rollbackDeploymentId",
                r.deployment_id.clone().map(Value::from),
            );
            put(
                &mut info,
                "rollbackTriggeringDeploymentId",
                r.triggering_deployment_id.clone().map(Value::from),
            );
            put(
                &mut info,
                "rollbackMessage",
                r.message.clone().map(Value::from),
            );
            v["rollbackInfo"] = info;
        }
        v
    }

    /// `LastDeploymentInfo` for the group's last attempted/successful deployment.
    pub fn last_info(&self) -> Value {
        let mut v = json!({ "deploymentId": self.id, "status": self.status.as_str(), "createTime": self.create_time });
        if let Some(t) = self.complete_time {
            v["endTime"] = json!(t);
        }
        v
    }
}
