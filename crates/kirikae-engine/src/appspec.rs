//! The AppSpec of an ECS deployment, generated from the service definition (never written by hand): task
//! definition ARN, container name and port, platform version, network configuration, capacity provider
//! strategy, hooks. Sent as JSON content with its SHA-256, as `aws ecs deploy` does.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::Hooks;
use crate::definitions::ServiceDefinition;

/// The AppSpec document.
pub fn build(task_definition_arn: &str, sd: &ServiceDefinition, hooks: &Hooks) -> Value {
    let mut props = Map::new();
    props.insert("TaskDefinition".into(), json!(task_definition_arn));
    props.insert(
        "LoadBalancerInfo".into(),
        json!({"ContainerName": sd.container_name(), "ContainerPort": sd.container_port()}),
    );
    if let Some(pv) = sd.input.platform_version() {
        props.insert("PlatformVersion".into(), json!(pv));
    }
    if let Some(vpc) = sd
        .input
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
    {
        let mut a = Map::new();
        a.insert("Subnets".into(), json!(vpc.subnets()));
        if !vpc.security_groups().is_empty() {
            a.insert("SecurityGroups".into(), json!(vpc.security_groups()));
        }
        if let Some(ip) = vpc.assign_public_ip() {
            a.insert("AssignPublicIp".into(), json!(ip.as_str()));
        }
        props.insert(
            "NetworkConfiguration".into(),
            json!({ "AwsvpcConfiguration": a }),
        );
    }
    let strategy = sd.input.capacity_provider_strategy();
    if !strategy.is_empty() {
        let items: Vec<Value> = strategy
            .iter()
            .map(|s| json!({"CapacityProvider": s.capacity_provider(), "Base": s.base(), "Weight": s.weight()}))
            .collect();
        props.insert("CapacityProviderStrategy".into(), Value::Array(items));
    }
    let mut doc = json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}],
    });
    let hooks: Vec<Value> = hooks
        .entries()
        .into_iter()
        .map(|(event, f)| json!({ event: f }))
        .collect();
    if !hooks.is_empty() {
        doc["Hooks"] = Value::Array(hooks);
    }
    doc
}

/// `(content, sha256)` as CreateDeployment's `appSpecContent` wants them: the hash is over the exact bytes
/// of the content.
/// The service tag recording the AppSpec inputs last deployed successfully (or the service was created
/// with): a later run whose inputs differ (subnets, security groups, platform version, capacity
/// providers, container, hooks) deploys even when the task definition is unchanged.
pub const INPUTS_TAG: &str = "kirikae:appspec-sha256";

/// The fingerprint of everything an AppSpec says besides the task definition.
pub fn inputs_hash(sd: &ServiceDefinition, hooks: &Hooks) -> String {
    content(&build("", sd, hooks)).1
}

pub fn content(doc: &Value) -> (String, String) {
    let content = doc.to_string();
    let digest = Sha256::digest(content.as_bytes());
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    (content, hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn generated_from_the_service_definition() {
        let sd = ServiceDefinition::from_json(
            Path::new("sd.json"),
            json!({
                "platformVersion": "1.4.0",
                "loadBalancers": [{"containerName": "web", "containerPort": 8080}],
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
                "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1}]
            }),
        )
        .unwrap();
        let hooks = Hooks {
            after_allow_test_traffic: Some("check".into()),
            ..Hooks::default()
        };
        let doc = build("arn:td:3", &sd, &hooks);
        let p = &doc["Resources"][0]["TargetService"]["Properties"];
        assert_eq!(p["TaskDefinition"], "arn:td:3");
        assert_eq!(
            p["LoadBalancerInfo"],
            json!({"ContainerName": "web", "ContainerPort": 8080})
        );
        assert_eq!(p["PlatformVersion"], "1.4.0");
        assert_eq!(
            p["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"],
            "DISABLED"
        );
        assert_eq!(
            p["CapacityProviderStrategy"][0],
            json!({"CapacityProvider": "FARGATE_SPOT", "Base": 1, "Weight": 2})
        );
        assert_eq!(doc["Hooks"], json!([{"AfterAllowTestTraffic": "check"}]));
        let (content, sha) = content(&doc);
        assert_eq!(sha.len(), 64);
        assert_eq!(serde_json::from_str::<Value>(&content).unwrap(), doc);
    }
}
