//! UpdateService. ECS-controller services roll out a new deployment when what tasks run changes; task
//! set services (CODE_DEPLOY, EXTERNAL) reject such changes, as AWS does, by the mere presence of the
//! member (even with an unchanged value).

use serde_json::{Value, json};

use super::create::{check_strategy, merged_deployment_configuration};
use super::{Controller, Service};
use crate::ecs::spec::{self, Purpose};
use crate::ecs::task_sets::{SetKind, SetStatus, TaskSet};
use crate::ecs::{arns, errors, io};
use crate::protocol::ApiError;
use crate::world::Ctx;

/// Members a CODE_DEPLOY service cannot update, with what AWS calls them in its message.
/// AWS's wording is confirmed for the first three; the others follow the same pattern.
const TASK_SET_CONTROLLED: [(&str, &str); 5] = [
    ("taskDefinition", "task definition"),
    ("networkConfiguration", "network parameters"),
    ("loadBalancers", "load balancers"),
    ("platformVersion", "platform version"),
    ("serviceRegistries", "service registries"),
];

fn reject_task_set_controlled(controller: Controller, input: &Value) -> Result<(), ApiError> {
    let message = |what: &str| match controller {
        Controller::CodeDeploy => format!(
            "Unable to update {what} on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."
        ),
        _ => format!(
            "Unable to update {what} on services with an EXTERNAL deployment controller. Use task sets to deploy changes."
        ),
    };
    for (member, what) in TASK_SET_CONTROLLED {
        if input.get(member).is_some_and(|v| !v.is_null()) {
            return Err(errors::invalid(message(what)));
        }
    }
    // forceNewDeployment is reported with the network parameters message.
    if input.get("forceNewDeployment").and_then(Value::as_bool) == Some(true) {
        return Err(errors::invalid(message("network parameters")));
    }
    Ok(())
}

pub fn update(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let now = cx.now;
    let region = &mut *cx.region;
    let (_, name) = arns::service_name(input["service"].as_str().unwrap_or_default());
    let desired_count = super::desired_count(input)?;
    let cluster = region.ecs.clusters.active(io::cluster_ref(input))?;
    let cluster_name = cluster.name.clone();
    let service: &Service = cluster
        .services
        .get(&name)
        .ok_or_else(errors::service_not_found)?;
    if !service.is_active() {
        return Err(errors::service_not_active());
    }
    let controller = service.controller;
    if let Some(t) = input["deploymentController"]["type"].as_str()
        && t != controller.as_str()
    {
        return Err(errors::invalid(format!(
            "The kirikae sandbox cannot change a service's deployment controller ({} to {t}).",
            controller.as_str()
        )));
    }
    if controller != Controller::Ecs {
        reject_task_set_controlled(controller, input)?;
    }
    check_strategy(&input["deploymentConfiguration"])?;

    // What tasks would run after the update (ECS controller).
    let mut new_spec = service.spec.clone();
    if let Some(r) = input.get("taskDefinition").and_then(Value::as_str) {
        new_spec.task_definition = Some(region.ecs.task_definitions.for_launch(r)?.arn.clone());
    }
    let given = |k: &str| input.get(k).filter(|v| !v.is_null());
    if let Some(v) = given("loadBalancers") {
        new_spec.load_balancers = io::parse(v)?;
    }
    if let Some(v) = given("serviceRegistries") {
        new_spec.service_registries = io::parse(v)?;
    }
    if let Some(v) = given("networkConfiguration") {
        new_spec.network_configuration = Some(v.clone());
    }
    if let Some(v) = given("platformVersion") {
        new_spec.platform_version = v.as_str().map(str::to_string);
    }
    if let Some(v) = given("capacityProviderStrategy") {
        new_spec.capacity_provider_strategy =
            Some(v.clone()).filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
        if new_spec.capacity_provider_strategy.is_some() {
            new_spec.launch_type = None;
        }
    }
    if given("healthCheckGracePeriodSeconds").is_some()
        && service.primary_spec().load_balancers.is_empty()
        && new_spec.load_balancers.is_empty()
    {
        return Err(errors::invalid(
            "Health check grace period is only valid for services configured to use load balancers",
        ));
    }
    let force = input
        .get("forceNewDeployment")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let new_deployment = controller == Controller::Ecs && (force || new_spec != service.spec);
    if new_deployment && new_spec != service.spec {
        let td_arn = new_spec.task_definition.clone().unwrap_or_default();
        let td = region
            .ecs
            .task_definitions
            .find(&td_arn)
            .ok_or_else(|| errors::client("TaskDefinition not found."))?;
        spec::check(&new_spec, td, &region.elbv2, Purpose::Service)?;
    }

    let cluster = region.ecs.clusters.active_mut(&cluster_name)?;
    let service = cluster
        .services
        .get_mut(&name)
        .ok_or_else(errors::service_not_found)?;
    if let Some(n) = desired_count {
        service.desired_count = n;
    }
    if let Some(dc) = given("deploymentConfiguration") {
        service.deployment_configuration =
            merged_deployment_configuration(&service.deployment_configuration, Some(dc));
    }
    if let Some(g) = given("healthCheckGracePeriodSeconds") {
        service.health_check_grace_period = g.as_i64();
    }
    if let Some(v) = given("placementConstraints") {
        service.placement_constraints = v.clone();
    }
    if let Some(v) = given("placementStrategy") {
        service.placement_strategy = v.clone();
    }
    if let Some(v) = given("propagateTags").and_then(Value::as_str) {
        service.propagate_tags = v.to_string();
    }
    if let Some(v) = given("enableECSManagedTags").and_then(Value::as_bool) {
        service.enable_ecs_managed_tags = v;
    }
    if let Some(v) = given("enableExecuteCommand").and_then(Value::as_bool) {
        service.enable_execute_command = v;
    }
    if let Some(v) = given("availabilityZoneRebalancing").and_then(Value::as_str) {
        service.availability_zone_rebalancing = Some(v.to_string());
    }
    if new_deployment {
        for set in service
            .sets
            .iter_mut()
            .filter(|s| s.status == SetStatus::Primary)
        {
            set.status = SetStatus::Active;
            set.updated_at = now;
        }
        service.spec = new_spec.clone();
        let mut d = TaskSet::new(
            SetKind::Deployment,
            SetStatus::Primary,
            service,
            new_spec,
            now,
        );
        d.desired = service.desired_count;
        service.sets.push(d);
    }
    service.steady = false;
    Ok(json!({ "service": service.to_json(&cluster.tasks, true) }))
}
