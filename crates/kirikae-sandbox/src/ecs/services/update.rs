//! UpdateService. ECS-controller services roll out a new deployment when what tasks run changes; task
//! set services (CODE_DEPLOY, EXTERNAL) reject such changes, as AWS does, by the mere presence of the
//! member (even with an unchanged value).

use serde_json::{Value, json};

use super::create::{check_strategy, merged_deployment_configuration};
use super::{Controller, Service};
use crate::ecs::spec::{self, Purpose};
use crate::ecs::task_sets::{SetKind, SetStatus, TaskSet};
use crate::ecs::{arns, errors, io, native};
use crate::protocol::ApiError;
use crate::world::Ctx;

/// Members a task set service cannot update, with what AWS calls them in its message: they would start
/// a new deployment, which only CodeDeploy (or the EXTERNAL controller's task sets) may do. The UpdateService
/// API reference lists what a CODE_DEPLOY service may change: the desired count, deployment configuration,
/// health check grace period, placement constraints and strategies, ECS managed tags and tag
/// propagation. AWS's wording is confirmed for the first three; the others follow the same pattern.
const TASK_SET_CONTROLLED: [(&str, &str); 8] = [
    ("taskDefinition", "task definition"),
    ("networkConfiguration", "network parameters"),
    ("loadBalancers", "load balancers"),
    ("platformVersion", "platform version"),
    ("serviceRegistries", "service registries"),
    (
        "serviceConnectConfiguration",
        "service connect configuration",
    ),
    ("volumeConfigurations", "volume configurations"),
    ("vpcLatticeConfigurations", "VPC Lattice configurations"),
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
    if input.get("forceNewDeployment").and_then(Value::as_bool) == Some(true) {
        // AWS's words for CODE_DEPLOY (what the AWS Toolkit's "enable ECS Exec" gets back).
        return Err(errors::invalid(match controller {
            Controller::CodeDeploy => {
                "Cannot force a new deployment on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."
            }
            _ => {
                "Cannot force a new deployment on services with an EXTERNAL deployment controller. Use task sets to deploy changes."
            }
        }));
    }
    // Deployment alarms and the circuit breaker belong to the ECS controller, as on create.
    let dc = &input["deploymentConfiguration"];
    if dc["alarms"]["enable"] == true {
        return Err(errors::invalid(
            "Alarm based rollback feature is only supported with ECS deployment controller. Update to ECS deployment controller and try again.",
        ));
    }
    if dc["deploymentCircuitBreaker"]["enable"] == true {
        return Err(errors::invalid(
            "Deployment circuit breaker feature is only supported with ECS deployment controller. Update to ECS deployment controller and try again.",
        ));
    }
    Ok(())
}

/// A capacity provider strategy in one comparable form (absent `base` and `weight` are 0; order does
/// not matter); `None` and `[]` are both "no strategy" (the launch type).
fn strategy_key(strategy: Option<&Value>) -> Vec<(String, i64, i64)> {
    let mut items: Vec<(String, i64, i64)> = strategy
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["capacityProvider"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                i["weight"].as_i64().unwrap_or(0),
                i["base"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    items.sort();
    items
}

/// AWS's refusal of a capacity provider change without a new deployment (its words, as seen by
/// ecspresso and PipeCD users); task set services cannot force one, so for them every change is refused.
fn capacity_change_needs_force() -> ApiError {
    errors::invalid(
        "When switching from launch type to capacity provider strategy on an existing service, or making a change to a capacity provider strategy on a service that is already using one, you must force a new deployment.",
    )
}

/// Whether the request moves a CODE_DEPLOY service to the ECS controller, the change of controller
/// AWS's migration from CodeDeploy Blue/Green to ECS Blue/Green makes (UpdateService API reference:
/// CODE_DEPLOY may become ECS; nothing may become CODE_DEPLOY). Other changes of controller are refused.
fn converts_to_ecs(service: &Service, input: &Value) -> Result<bool, ApiError> {
    let Some(t) = input["deploymentController"]["type"].as_str() else {
        return Ok(false);
    };
    if t == service.controller.as_str() {
        return Ok(false);
    }
    if service.controller != Controller::CodeDeploy || t != "ECS" {
        return Err(errors::invalid(format!(
            "The kirikae sandbox changes a service's deployment controller only from CODE_DEPLOY to ECS (not {} to {t}).",
            service.controller.as_str()
        )));
    }
    // The migration guide's prerequisite: no deployment in progress. CodeDeploy's replacement task set
    // is the sign of one. (AWS's words are not published; these are the sandbox's.)
    if service.sets.len() > 1 {
        return Err(errors::invalid(
            "Unable to update the deployment controller while a deployment is in progress: the service has more than one task set. Wait for the CodeDeploy deployment to end.",
        ));
    }
    Ok(true)
}

/// A CODE_DEPLOY service becomes an ECS-controller one: its PRIMARY task set goes on as its current
/// deployment (the same tasks keep serving: no downtime), and it serves from that set's target group.
fn to_ecs_controller(service: &mut Service, spec: crate::ecs::spec::LaunchSpec, now: f64) {
    service.controller = Controller::Ecs;
    service.spec = spec;
    let mut serving = None;
    if let Some(set) = service.sets.first_mut() {
        set.kind = SetKind::Deployment;
        set.rollout_state = "COMPLETED";
        set.updated_at = now;
        serving = set
            .spec
            .load_balancers
            .first()
            .and_then(|l| l.target_group_arn.clone());
    }
    service.history.serving_target_group = serving;
    let name = service.name.clone();
    service.event(
        now,
        format!("(service {name}) deployment controller changed from CODE_DEPLOY to ECS."),
    );
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
    let converting = converts_to_ecs(service, input)?;
    let controller = if converting {
        Controller::Ecs
    } else {
        service.controller
    };
    if controller != Controller::Ecs {
        reject_task_set_controlled(controller, input)?;
    }
    check_strategy(controller, &input["deploymentConfiguration"])?;

    // What tasks would run after the update (ECS controller). A service leaving CODE_DEPLOY starts from
    // what its PRIMARY task set runs.
    let current_spec = if converting {
        service.primary_spec().clone()
    } else {
        service.spec.clone()
    };
    let mut new_spec = current_spec.clone();
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
    let force = input
        .get("forceNewDeployment")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(v) = given("capacityProviderStrategy") {
        let current = service.primary_spec().capacity_provider_strategy.as_ref();
        // Repeating the strategy the service has is no change (accepted on any controller); a change
        // takes effect with the forced deployment it needs.
        if strategy_key(Some(v)) != strategy_key(current) {
            if !force {
                return Err(capacity_change_needs_force());
            }
            new_spec.capacity_provider_strategy =
                Some(v.clone()).filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
            if new_spec.capacity_provider_strategy.is_some() {
                new_spec.launch_type = None;
            }
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
    let deployment_configuration = merged_deployment_configuration(
        &service.deployment_configuration,
        given("deploymentConfiguration"),
    );
    let new_deployment = controller == Controller::Ecs && (force || new_spec != current_spec);
    // The deployment settings are checked when they change or a deployment starts with them; a
    // desired count alone is not refused over a role deleted since (AWS's behaviour there is unknown).
    let changes_settings = given("deploymentConfiguration").is_some()
        || given("loadBalancers").is_some()
        || new_deployment;
    let plan = match controller {
        Controller::Ecs if changes_settings => native::config::check(
            &deployment_configuration,
            &new_spec.load_balancers,
            &region.elbv2,
            &cx.account.iam,
        )?,
        _ => None,
    };
    if new_deployment && new_spec != current_spec {
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
    if converting {
        to_ecs_controller(service, current_spec, now);
    }
    if let Some(n) = desired_count {
        service.desired_count = n;
    }
    service.deployment_configuration = deployment_configuration.clone();
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
    if new_deployment && let Some(plan) = plan {
        native::begin(service, new_spec, plan, deployment_configuration, now);
    } else if new_deployment {
        let replaced = service.primary().map(|p| p.id.clone());
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
        let id = d.id.clone();
        service.sets.push(d);
        native::rolling::begin(
            service,
            &id,
            replaced.as_deref(),
            deployment_configuration,
            now,
        );
    }
    service.steady = false;
    Ok(json!({ "service": service.to_json(&cluster.tasks, true) }))
}
