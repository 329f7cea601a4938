//! `service-definition.json` from DescribeServices: CreateService's members only, what kirikae sets
//! itself (the CODE_DEPLOY controller, the target group, the task definition) and AWS's defaults left
//! out. The AppSpec inputs (platform version, network configuration, capacity providers) come from the
//! last successful deployment's AppSpec when there is one: that is what the service's tasks run with now,
//! spelled as the file that deployed them spelled it. Where equivalent spellings remain (a platform
//! version of `LATEST` or none, `assignPublicIp: DISABLED` or none), the one whose fingerprint matches
//! the `kirikae:appspec-sha256` tag on the service is chosen, so a deploy finds nothing to change.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::json::{pretty_with_order, prune};
use crate::appspec;
use crate::config::Hooks;
use crate::definitions::{ServiceDefinition, model};

const ORDER: &[&str] = &[
    "serviceName",
    "desiredCount",
    "launchType",
    "capacityProviderStrategy",
    "platformVersion",
    "loadBalancers",
    "networkConfiguration",
    "healthCheckGracePeriodSeconds",
    "containerName",
    "containerPort",
    "key",
    "value",
];

/// What the file is made from.
pub struct Source<'a> {
    /// DescribeServices' service, as API JSON.
    pub described: &'a Value,
    /// The last successful deployment's AppSpec, parsed.
    pub appspec: Option<&'a Value>,
    /// The service's `kirikae:appspec-sha256` tag.
    pub recorded_inputs: Option<&'a str>,
    pub hooks: &'a Hooks,
    pub controller: Controller,
}

/// How the service deploys now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    CodeDeploy,
    /// ECS's rolling update: its deployment configuration is not carried over.
    Rolling,
    /// ECS-native Blue/Green: the `ecs:` block holds its deployment settings, not the file.
    Native,
}

/// The file, and what was not carried over.
pub struct ServiceFile {
    pub json: Value,
    pub notes: Vec<String>,
    /// Whether the file's AppSpec inputs are those recorded on the service.
    pub inputs_match: bool,
}

impl ServiceFile {
    pub fn text(&self) -> String {
        pretty_with_order(&self.json, ORDER)
    }
}

pub fn build(src: &Source) -> ServiceFile {
    let mut notes = Vec::new();
    let members = model::ecs().members("CreateServiceRequest");
    let mut v = src.described.clone();
    let Value::Object(obj) = &mut v else {
        return ServiceFile {
            json: json!({}),
            notes,
            inputs_match: false,
        };
    };
    obj.retain(|k, _| members.contains(&k.as_str()));
    // kirikae sets these itself: the task definition comes from task-definition.json, the controller
    // is CODE_DEPLOY, the target group is the one the production listener forwards to.
    for key in ["taskDefinition", "deploymentController", "clientToken"] {
        obj.remove(key);
    }
    if let Some(Value::Array(lbs)) = obj.get_mut("loadBalancers") {
        for lb in lbs.iter_mut().filter_map(Value::as_object_mut) {
            lb.remove("targetGroupArn");
        }
    }
    drop_if(obj, "schedulingStrategy", &json!("REPLICA"));
    drop_if(obj, "enableECSManagedTags", &json!(false));
    drop_if(obj, "enableExecuteCommand", &json!(false));
    drop_if(obj, "propagateTags", &json!("NONE"));
    drop_if(obj, "healthCheckGracePeriodSeconds", &json!(0));
    drop_if(obj, "availabilityZoneRebalancing", &json!("DISABLED"));
    if src.controller == Controller::Native {
        if let Some(Value::Object(dc)) = obj.get_mut("deploymentConfiguration") {
            for key in [
                "strategy",
                "bakeTimeInMinutes",
                "linearConfiguration",
                "canaryConfiguration",
                "lifecycleHooks",
                "alarms",
            ] {
                dc.remove(key);
            }
        }
        if let Some(Value::Array(lbs)) = obj.get_mut("loadBalancers") {
            for lb in lbs.iter_mut().filter_map(Value::as_object_mut) {
                lb.remove("advancedConfiguration");
            }
        }
    }
    if src.controller == Controller::Rolling {
        if let Some(dc) = obj.remove("deploymentConfiguration")
            && (dc.get("deploymentCircuitBreaker").is_some() || dc.get("alarms").is_some())
        {
            notes.push(
                "the rolling update's circuit breaker and alarms are ECS's; with CodeDeploy, a failed \
                 deployment rolls back (auto_rollback) and alarms go in codedeploy.alarms"
                    .into(),
            );
        }
    } else {
        // ECS describes its defaults: a circuit breaker that is off, 200 % / 100 %.
        if let Some(Value::Object(dc)) = obj.get_mut("deploymentConfiguration") {
            drop_if(
                dc,
                "deploymentCircuitBreaker",
                &json!({"enable": false, "rollback": false}),
            );
        }
        if obj.get("deploymentConfiguration")
            == Some(&json!({"maximumPercent": 200, "minimumHealthyPercent": 100}))
        {
            obj.remove("deploymentConfiguration");
        }
    }
    if let Some(Value::Array(tags)) = obj.get_mut("tags") {
        tags.retain(|t| !super::is_managed_tag(t["key"].as_str().unwrap_or_default()));
    }
    if let Some(spec) = src.appspec {
        apply_appspec(obj, spec);
    }
    prune(&mut v);
    let (json, inputs_match) = spelling(v, src);
    ServiceFile {
        json,
        notes,
        inputs_match,
    }
}

fn drop_if(obj: &mut Map<String, Value>, key: &str, default: &Value) {
    if obj.get(key) == Some(default) {
        obj.remove(key);
    }
}

/// The AppSpec's service properties, in CreateService's names.
fn apply_appspec(obj: &mut Map<String, Value>, doc: &Value) {
    let Some(props) = doc
        .get("Resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|r| r.values())
        .find(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::ECS::Service"))
        .and_then(|s| s.get("Properties"))
    else {
        return;
    };
    obj.remove("platformVersion");
    if let Some(pv) = props.get("PlatformVersion") {
        obj.insert("platformVersion".into(), pv.clone());
    }
    if let Some(vpc) = props.pointer("/NetworkConfiguration/AwsvpcConfiguration") {
        let mut a = Map::new();
        for (from, to) in [
            ("Subnets", "subnets"),
            ("SecurityGroups", "securityGroups"),
            ("AssignPublicIp", "assignPublicIp"),
        ] {
            if let Some(x) = vpc.get(from) {
                a.insert(to.into(), x.clone());
            }
        }
        obj.insert(
            "networkConfiguration".into(),
            json!({"awsvpcConfiguration": a}),
        );
    }
    if let Some(Value::Array(items)) = props.get("CapacityProviderStrategy") {
        let strategy: Vec<Value> = items
            .iter()
            .map(|s| {
                let mut m = Map::new();
                for (from, to) in [
                    ("CapacityProvider", "capacityProvider"),
                    ("Base", "base"),
                    ("Weight", "weight"),
                ] {
                    if let Some(x) = s.get(from) {
                        m.insert(to.into(), x.clone());
                    }
                }
                Value::Object(m)
            })
            .collect();
        obj.remove("launchType");
        obj.insert("capacityProviderStrategy".into(), Value::Array(strategy));
    }
    if let Some(info) = props.get("LoadBalancerInfo")
        && let Some(Value::Array(lbs)) = obj.get_mut("loadBalancers")
        && let Some(lb) = lbs.first_mut().and_then(Value::as_object_mut)
    {
        if let Some(n) = info.get("ContainerName") {
            lb.insert("containerName".into(), n.clone());
        }
        if let Some(p) = info.get("ContainerPort") {
            lb.insert("containerPort".into(), p.clone());
        }
    }
}

/// The tidiest spelling first (defaults left out), then the others; the first whose AppSpec inputs
/// hash to the recorded tag wins. Without a tag, or when none matches, the tidiest.
fn spelling(v: Value, src: &Source) -> (Value, bool) {
    let has = |v: &Value, p: &str, want: &str| v.pointer(p).and_then(Value::as_str) == Some(want);
    let platform = has(&v, "/platformVersion", "LATEST");
    let public_ip = has(
        &v,
        "/networkConfiguration/awsvpcConfiguration/assignPublicIp",
        "DISABLED",
    );
    let mut candidates = Vec::new();
    for drop_platform in [true, false] {
        for drop_ip in [true, false] {
            if (drop_platform && !platform) || (drop_ip && !public_ip) {
                continue;
            }
            let mut c = v.clone();
            if drop_platform {
                c.as_object_mut().map(|o| o.remove("platformVersion"));
            }
            if drop_ip
                && let Some(a) = c
                    .pointer_mut("/networkConfiguration/awsvpcConfiguration")
                    .and_then(Value::as_object_mut)
            {
                a.remove("assignPublicIp");
            }
            candidates.push(c);
        }
    }
    let Some(recorded) = src.recorded_inputs else {
        return (candidates.swap_remove(0), false);
    };
    let hash = |c: &Value| {
        ServiceDefinition::from_json(Path::new("service-definition.json"), c.clone())
            .ok()
            .map(|sd| appspec::inputs_hash(&sd, src.hooks))
    };
    match candidates
        .iter()
        .position(|c| hash(c).as_deref() == Some(recorded))
    {
        Some(i) => (candidates.swap_remove(i), true),
        None => (candidates.swap_remove(0), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described() -> Value {
        json!({
            "serviceArn": "arn:aws:ecs:us-east-1:1:service/demo/web", "serviceName": "web",
            "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/demo", "status": "ACTIVE",
            "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
            "desiredCount": 2, "runningCount": 2, "pendingCount": 0, "launchType": "FARGATE",
            "platformVersion": "LATEST", "schedulingStrategy": "REPLICA",
            "loadBalancers": [{"targetGroupArn": "arn:tg", "containerName": "web", "containerPort": 8080}],
            "deploymentController": {"type": "CODE_DEPLOY"},
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100},
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"], "assignPublicIp": "DISABLED"}},
            "enableECSManagedTags": false, "propagateTags": "NONE", "enableExecuteCommand": false,
            "tags": [{"key": "kirikae:appspec-sha256", "value": "x"}, {"key": "team", "value": "sre"}],
            "createdAt": 1700000000.0
        })
    }

    fn hooks() -> Hooks {
        Hooks::default()
    }

    #[test]
    fn what_kirikae_sets_and_defaults_are_left_out() {
        let d = described();
        let h = hooks();
        let f = build(&Source {
            described: &d,
            appspec: None,
            recorded_inputs: None,
            hooks: &h,
            controller: Controller::CodeDeploy,
        });
        assert_eq!(
            f.json,
            json!({
                "serviceName": "web", "desiredCount": 2, "launchType": "FARGATE",
                "loadBalancers": [{"containerName": "web", "containerPort": 8080}],
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"]}},
                "tags": [{"key": "team", "value": "sre"}]
            })
        );
    }

    #[test]
    fn the_spelling_recorded_on_the_service_wins() {
        let d = described();
        let h = hooks();
        // The file that created the service said assignPublicIp: DISABLED and no platform version.
        let original = ServiceDefinition::from_json(
            Path::new("sd.json"),
            json!({"loadBalancers": [{"containerName": "web", "containerPort": 8080}],
                   "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"], "assignPublicIp": "DISABLED"}}}),
        )
        .unwrap();
        let recorded = appspec::inputs_hash(&original, &h);
        let f = build(&Source {
            described: &d,
            appspec: None,
            recorded_inputs: Some(&recorded),
            hooks: &h,
            controller: Controller::CodeDeploy,
        });
        assert!(f.inputs_match);
        assert_eq!(f.json.get("platformVersion"), None);
        assert_eq!(
            f.json["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"],
            "DISABLED"
        );
    }

    #[test]
    fn the_last_appspec_gives_the_inputs() {
        let d = described();
        let h = hooks();
        let spec = json!({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": "arn:td:3", "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
            "PlatformVersion": "1.4.0",
            "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["subnet-b"], "SecurityGroups": ["sg-1"]}}
        }}}]});
        let f = build(&Source {
            described: &d,
            appspec: Some(&spec),
            recorded_inputs: None,
            hooks: &h,
            controller: Controller::CodeDeploy,
        });
        assert_eq!(f.json["platformVersion"], "1.4.0");
        assert_eq!(
            f.json["networkConfiguration"],
            json!({"awsvpcConfiguration": {"subnets": ["subnet-b"], "securityGroups": ["sg-1"]}})
        );
    }
}
