//! CreateService.

use std::collections::VecDeque;

use serde_json::{Value, json};

use super::{Controller, Service, ServiceStatus};
use crate::ecs::spec::{self, LaunchSpec, Purpose};
use crate::ecs::task_sets::{SetKind, SetStatus, TaskSet};
use crate::ecs::{arns, errors, io, native, tags};
use crate::protocol::ApiError;
use crate::world::Ctx;

/// What AWS returns for an ECS-controller service when the request sets no deployment configuration.
fn default_deployment_configuration(controller: Controller) -> Value {
    match controller {
        Controller::Ecs => json!({
            "deploymentCircuitBreaker": { "enable": false, "rollback": false },
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        }),
        _ => json!({ "maximumPercent": 200, "minimumHealthyPercent": 100 }),
    }
}

/// Request members merged over the defaults (one level deep, as the members are flat structures).
pub fn merged_deployment_configuration(current: &Value, update: Option<&Value>) -> Value {
    let mut out = current.clone();
    if let (Some(obj), Some(Value::Object(upd))) = (out.as_object_mut(), update) {
        for (k, v) in upd {
            obj.insert(k.clone(), v.clone());
        }
    }
    out
}

/// AWS's checks that depend on the controller, before anything is created.
fn check_controller(
    controller: Controller,
    input: &Value,
    spec: &LaunchSpec,
) -> Result<(), ApiError> {
    let strategy = input
        .get("schedulingStrategy")
        .and_then(Value::as_str)
        .unwrap_or("REPLICA");
    if strategy == "DAEMON" {
        return Err(errors::invalid(
            "The kirikae sandbox has no container instances to place DAEMON services on; use the REPLICA scheduling strategy.",
        ));
    }
    if input
        .get("healthCheckGracePeriodSeconds")
        .is_some_and(|v| !v.is_null())
        && spec.load_balancers.is_empty()
    {
        return Err(errors::invalid(
            "Health check grace period is only valid for services configured to use load balancers",
        ));
    }
    let dc = &input["deploymentConfiguration"];
    check_strategy(controller, dc)?;
    if controller == Controller::Ecs {
        return Ok(());
    }
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
    // CreateService API reference (loadBalancers): "If the service uses the CODE_DEPLOY deployment
    // controller, the service is required to use either an Application Load Balancer or Network Load
    // Balancer." AWS's exact words for the refusal are not published; the exception is ECS's usual one.
    if controller == Controller::CodeDeploy && spec.load_balancers.is_empty() {
        return Err(errors::invalid(
            "A service with the CODE_DEPLOY deployment controller is required to use an Application Load Balancer or Network Load Balancer: specify its target group in loadBalancers.",
        ));
    }
    if controller == Controller::CodeDeploy && spec.load_balancers.len() > 1 {
        return Err(errors::invalid(
            "Services with a CODE_DEPLOY deployment controller support exactly one load balancer target group.",
        ));
    }
    Ok(())
}

/// The Blue/Green-family strategies belong to the ECS controller (`deploymentConfiguration.strategy`
/// is the ECS controller's; CODE_DEPLOY and EXTERNAL services deploy through task sets). AWS's words
/// are not published; these follow its wording for alarms and the circuit breaker.
pub fn check_strategy(
    controller: Controller,
    deployment_configuration: &Value,
) -> Result<(), ApiError> {
    match deployment_configuration["strategy"].as_str() {
        None | Some("ROLLING") => Ok(()),
        Some(_) if controller == Controller::Ecs => Ok(()),
        Some(other) => Err(errors::invalid(format!(
            "The {other} deployment strategy is only supported with ECS deployment controller. Update to ECS deployment controller and try again."
        ))),
    }
}

/// Whether a CreateService request repeats the one that created `existing`: AWS makes CreateService
/// idempotent through `clientToken` (documented), so only a retry with the same token and the same
/// parameters is answered with the existing service; anything else is "not idempotent".
fn is_retry(existing: &Service, input: &Value) -> bool {
    existing.is_active()
        && input.get("clientToken").is_some_and(|t| !t.is_null())
        && existing.create_request == *input
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = input["serviceName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !arns::valid_name(&name) {
        return Err(errors::invalid(
            "Service name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.",
        ));
    }
    let desired_count = super::desired_count(input)?.unwrap_or(0);
    let controller = Controller::parse(
        input["deploymentController"]["type"]
            .as_str()
            .unwrap_or("ECS"),
    );
    let region = &mut *cx.region;
    let cluster = region.ecs.clusters.active(io::cluster_ref(input))?;
    let (cluster_name, cluster_arn) = (cluster.name.clone(), cluster.arn.clone());
    if let Some(existing) = cluster.services.get(&name) {
        if is_retry(existing, input) {
            return Ok(json!({ "service": existing.to_json(&cluster.tasks, true) }));
        }
        return Err(errors::invalid("Creation of service was not idempotent."));
    }

    let td_arn = match input.get("taskDefinition").and_then(Value::as_str) {
        Some(r) => Some(region.ecs.task_definitions.for_launch(r)?.arn.clone()),
        None if controller == Controller::External => None,
        None => return Err(errors::invalid("TaskDefinition must be specified.")),
    };
    let spec = LaunchSpec::from_input(input, td_arn.clone())?;
    check_controller(controller, input, &spec)?;
    if let Some(td_arn) = &td_arn {
        let td = region.ecs.task_definitions.for_launch(td_arn)?;
        spec::check(&spec, td, &region.elbv2, Purpose::Service)?;
    }
    let deployment_configuration = merged_deployment_configuration(
        &default_deployment_configuration(controller),
        input.get("deploymentConfiguration"),
    );
    let plan = match controller {
        Controller::Ecs => native::config::check(
            &deployment_configuration,
            &spec.load_balancers,
            &region.elbv2,
            &cx.account.iam,
        )?,
        _ => None,
    };
    let service_tags = tags::from_input(input)?;
    let now = cx.now;
    let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
    let mut service = Service {
        region: region.key.clone(),
        arn: arns::service(&region.key, &cluster_name, &name),
        name: name.clone(),
        cluster_name: cluster_name.clone(),
        cluster_arn,
        status: ServiceStatus::Active,
        controller,
        desired_count,
        spec: spec.clone(),
        deployment_configuration: deployment_configuration.clone(),
        health_check_grace_period: input
            .get("healthCheckGracePeriodSeconds")
            .and_then(Value::as_i64),
        scheduling_strategy: text("schedulingStrategy").unwrap_or_else(|| "REPLICA".into()),
        role_arn: text("role"),
        placement_constraints: input
            .get("placementConstraints")
            .cloned()
            .unwrap_or_else(|| json!([])),
        placement_strategy: input
            .get("placementStrategy")
            .cloned()
            .unwrap_or_else(|| json!([])),
        propagate_tags: text("propagateTags").unwrap_or_else(|| "NONE".into()),
        enable_ecs_managed_tags: input
            .get("enableECSManagedTags")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        enable_execute_command: input
            .get("enableExecuteCommand")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        availability_zone_rebalancing: text("availabilityZoneRebalancing"),
        tags: service_tags,
        created_at: now,
        created_by: format!("arn:aws:iam::{}:root", region.key.account),
        sets: Vec::new(),
        events: VecDeque::new(),
        steady: false,
        create_request: input.clone(),
        history: Default::default(),
    };
    match (controller, plan) {
        // The first service deployment of a Blue/Green-family service runs its lifecycle too, with
        // nothing to shift traffic from: its hooks run (the Terraform provider waits for "lifecycle
        // hooks complete during creation", hashicorp/terraform-provider-aws#43434).
        (Controller::Ecs, Some(plan)) => {
            native::begin(&mut service, spec, plan, deployment_configuration, now);
        }
        (Controller::Ecs, None) => {
            let mut d = TaskSet::new(SetKind::Deployment, SetStatus::Primary, &service, spec, now);
            d.desired = service.desired_count;
            let id = d.id.clone();
            service.sets.push(d);
            native::rolling::begin(&mut service, &id, None, deployment_configuration, now);
        }
        // ECS creates the first (PRIMARY, 100 %) task set itself; CodeDeploy adds the next ones.
        (Controller::CodeDeploy, _) => {
            let mut set = TaskSet::new(SetKind::TaskSet, SetStatus::Primary, &service, spec, now);
            set.desired = service.desired_count;
            service.sets.push(set);
        }
        (Controller::External, _) => {}
    }
    let cluster = region.ecs.clusters.active_mut(&cluster_name)?;
    let out = json!({ "service": service.to_json(&cluster.tasks, true) });
    cluster.services.insert(name, service);
    Ok(out)
}
