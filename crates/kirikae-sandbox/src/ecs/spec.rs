//! What a service, deployment or task set launches its tasks with (task definition, load balancers,
//! network configuration, launch type), read from a request and checked the way AWS checks it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::task_definitions::TaskDefinition;
use super::{errors, io};
use crate::elbv2::Elbv2State;
use crate::protocol::ApiError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced_configuration: Option<Value>,
}

impl LoadBalancer {
    /// The target group and port a task of this load balancer entry is registered with.
    pub fn target(&self) -> Option<(&str, u16)> {
        let port = u16::try_from(self.container_port?).ok()?;
        Some((self.target_group_arn.as_deref()?, port))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaunchSpec {
    /// Task definition ARN.
    pub task_definition: Option<String>,
    pub load_balancers: Vec<LoadBalancer>,
    pub network_configuration: Option<Value>,
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub platform_version: Option<String>,
    pub service_registries: Vec<Value>,
}

impl LaunchSpec {
    /// The launch members of a CreateService / CreateTaskSet / RunTask request (task definition
    /// resolved by the caller).
    pub fn from_input(
        input: &Value,
        task_definition: Option<String>,
    ) -> Result<LaunchSpec, ApiError> {
        let load_balancers = match input.get("loadBalancers") {
            Some(v) if !v.is_null() => io::parse(v)?,
            _ => Vec::new(),
        };
        let service_registries = match input.get("serviceRegistries") {
            Some(v) if !v.is_null() => io::parse(v)?,
            _ => Vec::new(),
        };
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(LaunchSpec {
            task_definition,
            load_balancers,
            network_configuration: input
                .get("networkConfiguration")
                .filter(|v| !v.is_null())
                .cloned(),
            launch_type: text("launchType"),
            capacity_provider_strategy: input
                .get("capacityProviderStrategy")
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                .cloned(),
            platform_version: text("platformVersion"),
            service_registries,
        })
    }

    pub fn is_fargate(&self) -> bool {
        self.launch_type.as_deref() == Some("FARGATE")
            || self
                .capacity_provider_strategy
                .as_ref()
                .is_some_and(|s| s.to_string().contains("FARGATE"))
    }

    /// `platformVersion` as services and task sets report it (Fargate: `LATEST` unless pinned).
    pub fn reported_platform_version(&self) -> Option<String> {
        self.platform_version
            .clone()
            .or_else(|| self.is_fargate().then(|| "LATEST".to_string()))
    }

    /// The first awsvpc subnet (shown in the task's ENI attachment).
    pub fn subnet(&self) -> Option<String> {
        self.network_configuration.as_ref()?["awsvpcConfiguration"]["subnets"][0]
            .as_str()
            .map(str::to_string)
    }

    pub fn load_balancers_json(&self) -> Value {
        io::to_value(&self.load_balancers)
    }

    pub fn service_registries_json(&self) -> Value {
        json!(self.service_registries)
    }
}

/// Who the spec is for: AWS checks a little more for services than for task sets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Service,
    TaskSet,
    RunTask,
}

/// AWS's checks on a launch spec against its task definition and the load balancers it names.
pub fn check(
    spec: &LaunchSpec,
    td: &TaskDefinition,
    elbv2: &Elbv2State,
    purpose: Purpose,
) -> Result<(), ApiError> {
    if spec.launch_type.is_some() && spec.capacity_provider_strategy.is_some() {
        return Err(errors::invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    if let Some(lt) = spec.launch_type.as_deref()
        && lt != "EC2"
        && !td.compatibilities().contains(&lt)
    {
        return Err(errors::invalid(format!(
            "Task definition does not support launch_type {lt}."
        )));
    }
    let awsvpc = td.network_mode() == "awsvpc";
    match &spec.network_configuration {
        None if awsvpc => {
            return Err(errors::invalid(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
            ));
        }
        Some(_) if !awsvpc => {
            return Err(errors::invalid(
                "Network Configuration is not valid for the given networkMode of this task definition.",
            ));
        }
        Some(nc)
            if nc["awsvpcConfiguration"]["subnets"]
                .as_array()
                .is_none_or(Vec::is_empty) =>
        {
            return Err(errors::invalid("subnets can not be empty."));
        }
        _ => {}
    }
    if purpose == Purpose::RunTask {
        return Ok(());
    }
    for lb in &spec.load_balancers {
        check_load_balancer(lb, td, elbv2, awsvpc, purpose)?;
    }
    Ok(())
}

fn check_load_balancer(
    lb: &LoadBalancer,
    td: &TaskDefinition,
    elbv2: &Elbv2State,
    awsvpc: bool,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let Some(tg_arn) = lb.target_group_arn.as_deref() else {
        return Err(errors::invalid(if lb.load_balancer_name.is_some() {
            "Classic Load Balancers (loadBalancerName) are not emulated by the kirikae sandbox; use targetGroupArn."
        } else {
            "Either a targetGroupArn or a loadBalancerName must be specified for each load balancer."
        }));
    };
    let Some(tg) = elbv2.target_group(tg_arn) else {
        // AWS's own answer for a missing target group is the misleading "Unable to assume role and
        // validate the specified targetGroupArn. Please verify that the ECS service role being passed
        // has the proper permissions."; the sandbox says what is wrong, under the same exception.
        return Err(errors::invalid(format!(
            "Unable to validate the specified targetGroupArn: target group {tg_arn} does not exist."
        )));
    };
    let Some(container) = lb.container_name.as_deref() else {
        return Err(errors::invalid(
            "containerName must be specified for a load balancer.",
        ));
    };
    let Some(port) = lb.container_port else {
        return Err(errors::invalid(
            "containerPort must be specified for a load balancer.",
        ));
    };
    let Some(def) = td.container(container) else {
        return Err(errors::invalid(format!(
            "The container {container} does not exist in the task definition."
        )));
    };
    if !def.has_port(port) {
        return Err(errors::invalid(format!(
            "The container {container} did not have a container port {port} defined."
        )));
    }
    if awsvpc && tg.target_type != "ip" {
        return Err(errors::invalid(format!(
            "The provided target group {tg_arn} has target type {}, which is incompatible with the awsvpc network mode specified in the task definition.",
            tg.target_type
        )));
    }
    if purpose == Purpose::Service && tg.load_balancer_arns.is_empty() {
        return Err(errors::invalid(format!(
            "The target group with targetGroupArn {tg_arn} does not have an associated load balancer."
        )));
    }
    Ok(())
}
