//! The settings of a service that make a *service revision* (AWS: "Properties included in an Amazon
//! ECS service revision", the `ServiceRevision` shape): besides the task definition and the load
//! balancers, the network configuration, platform version, capacity provider strategy, Service Connect
//! and volumes. ECS starts a service deployment when one of them changes, so a deploy whose task
//! definition is unchanged still has something to deploy when one of these differs from the service
//! definition. Settings outside the revision (the deployment configuration, desired count, health
//! check grace period, ECS Exec: [`service_setting_changes`]) change without a deployment.

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::types::{CapacityProviderStrategyItem, Service};
use serde_json::{Value, json};

use crate::definitions::codec;

/// One setting whose wanted value differs from the live service's, both as compared ([`comparable`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SettingChange {
    pub field: &'static str,
    pub from: Value,
    pub to: Value,
}

/// The revision settings the service definition says (what it leaves out is not compared) that differ
/// from the live service.
pub fn revision_changes(want: &CreateServiceInput, live: &Service) -> Vec<SettingChange> {
    let mut out = Vec::new();
    if let Some(n) = want.network_configuration() {
        differs(
            &mut out,
            "networkConfiguration",
            encoded(live.network_configuration()),
            encoded(Some(n)),
        );
    }
    if let Some(v) = want.platform_version() {
        differs(
            &mut out,
            "platformVersion",
            json!(live.platform_version().unwrap_or("LATEST")),
            json!(v),
        );
    }
    if want.capacity_provider_strategy.is_some() {
        let list = |items: &[CapacityProviderStrategyItem]| {
            Value::Array(items.iter().map(|i| encoded(Some(i))).collect())
        };
        differs(
            &mut out,
            "capacityProviderStrategy",
            list(live.capacity_provider_strategy()),
            list(want.capacity_provider_strategy()),
        );
    }
    // Service Connect and volumes are settings of a deployment: the PRIMARY one runs with them.
    let primary = live
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    if let Some(sc) = want.service_connect_configuration() {
        differs(
            &mut out,
            "serviceConnectConfiguration",
            encoded(primary.and_then(|d| d.service_connect_configuration())),
            encoded(Some(sc)),
        );
    }
    if want.volume_configurations.is_some() {
        let live_volumes = primary
            .map(|d| d.volume_configurations())
            .unwrap_or_default()
            .iter()
            .map(|v| encoded(Some(v)))
            .collect();
        let wanted = want
            .volume_configurations()
            .iter()
            .map(|v| encoded(Some(v)))
            .collect();
        differs(
            &mut out,
            "volumeConfigurations",
            Value::Array(live_volumes),
            Value::Array(wanted),
        );
    }
    out
}

/// The service's own settings outside the revision and the deployment configuration that the service
/// definition says and that differ from the live service: desired count (only with
/// `sync_desired_count`: else it is the service's own, autoscaling's), health check grace period and
/// ECS Exec. UpdateService applies them without a service deployment.
pub fn service_setting_changes(
    want: &CreateServiceInput,
    live: &Service,
    sync_desired_count: bool,
) -> Vec<SettingChange> {
    let mut out = Vec::new();
    if sync_desired_count && let Some(n) = want.desired_count() {
        differs(
            &mut out,
            "desiredCount",
            json!(live.desired_count()),
            json!(n),
        );
    }
    if let Some(g) = want.health_check_grace_period_seconds() {
        differs(
            &mut out,
            "healthCheckGracePeriodSeconds",
            json!(live.health_check_grace_period_seconds().unwrap_or(0)),
            json!(g),
        );
    }
    if let Some(e) = want.enable_execute_command() {
        differs(
            &mut out,
            "enableExecuteCommand",
            json!(live.enable_execute_command()),
            json!(e),
        );
    }
    out
}

/// Adds the change when the two differ as compared.
pub fn differs(out: &mut Vec<SettingChange>, field: &'static str, from: Value, to: Value) {
    let (from, to) = (comparable(from), comparable(to));
    if from != to {
        out.push(SettingChange { field, from, to });
    }
}

/// An SDK value as API JSON (`null` when absent).
pub fn encoded<T: aws_smithy_schema::serde::SerializableStruct>(v: Option<&T>) -> Value {
    v.and_then(|v| codec::encode(v).ok()).unwrap_or(Value::Null)
}

/// A setting as compared: nulls, `false` flags, empty lists and objects left out; lists of plain
/// values (subnets, security groups) sorted; what AWS uses when a setting is left out removed
/// (`assignPublicIp: DISABLED`, a capacity provider's `base: 0`).
pub fn comparable(v: Value) -> Value {
    let mut v = v;
    clean(&mut v);
    v
}

fn clean(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("assignPublicIp").and_then(Value::as_str) == Some("DISABLED") {
                map.remove("assignPublicIp");
            }
            if map.contains_key("capacityProvider")
                && map.get("base").and_then(Value::as_i64) == Some(0)
            {
                map.remove("base");
            }
            map.values_mut().for_each(clean);
            map.retain(|_, c| {
                !matches!(c, Value::Null | Value::Bool(false))
                    && !c.as_array().is_some_and(Vec::is_empty)
                    && !c.as_object().is_some_and(|o| o.is_empty())
            });
        }
        Value::Array(items) => {
            items.iter_mut().for_each(clean);
            if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                items.sort_by_key(Value::to_string);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::comparable;
    use serde_json::json;

    #[test]
    fn what_aws_fills_in_and_the_order_of_subnets_are_no_difference() {
        let live = json!({"awsvpcConfiguration": {"subnets": ["b", "a"], "securityGroups": ["sg"],
                          "assignPublicIp": "DISABLED"}});
        let want =
            json!({"awsvpcConfiguration": {"subnets": ["a", "b"], "securityGroups": ["sg"]}});
        assert_eq!(comparable(live), comparable(want));
        let public = json!({"awsvpcConfiguration": {"subnets": ["a", "b"], "securityGroups": ["sg"],
                            "assignPublicIp": "ENABLED"}});
        assert_ne!(
            comparable(public),
            comparable(
                json!({"awsvpcConfiguration": {"subnets": ["a", "b"], "securityGroups": ["sg"]}})
            )
        );
    }
}
