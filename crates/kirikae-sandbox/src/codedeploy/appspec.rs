//! The AppSpec of an ECS deployment (YAML or JSON): the replacement's task definition, container
//! name and port, optional network configuration, platform version and capacity providers, and the
//! hook functions. Keys are matched case-insensitively, as the AWS CLI and the GitHub action do when
//! they read them; the documented casing is what they send.

use serde_json::{Map, Value, json};

/// Lifecycle events that can run a hook in an ECS deployment.
pub const HOOK_EVENTS: [&str; 5] = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
];

#[derive(Clone, Debug, PartialEq)]
pub struct AppSpec {
    pub task_definition: String,
    pub container_name: String,
    pub container_port: i64,
    pub platform_version: Option<String>,
    /// In ECS's own shape (`{"awsvpcConfiguration": {"subnets": …}}`), ready for `CreateTaskSet`.
    pub network_configuration: Option<Value>,
    /// In ECS's own shape (`[{"capacityProvider", "weight", "base"}]`).
    pub capacity_provider_strategy: Option<Value>,
    /// (lifecycle event, function name or ARN), in file order.
    pub hooks: Vec<(String, String)>,
}

impl AppSpec {
    pub fn hook(&self, event: &str) -> Option<&str> {
        self.hooks
            .iter()
            .find(|(e, _)| e == event)
            .map(|(_, f)| f.as_str())
    }
}

/// What CodeDeploy says about an unusable AppSpec, followed by the detail.
const INVALID: &str = "The deployment failed because the AppSpec file that specifies the deployment configuration is missing or has an invalid configuration.";

fn is_task_definition_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let ["arn", partition, "ecs", region, account, resource] = parts.as_slice() else {
        return false;
    };
    let Some((family, revision)) = resource
        .strip_prefix("task-definition/")
        .and_then(|r| r.rsplit_once(':'))
    else {
        return false;
    };
    !partition.is_empty()
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !family.is_empty()
        && revision.parse::<u32>().is_ok_and(|r| r > 0)
}

fn invalid(detail: impl std::fmt::Display) -> String {
    format!("{INVALID} {detail}")
}

/// Parse AppSpec content; the error is the deployment's failure message.
pub fn parse(content: &str) -> Result<AppSpec, String> {
    let doc: Value = match serde_json::from_str(content) {
        Ok(v) => v,
        Err(_) => serde_yaml_ng::from_str(content)
            .map_err(|e| invalid(format!("The input AppSpec file is a not well-formed yaml. The template cannot be parsed. ({e})")))?,
    };
    let Value::Object(top) = &doc else {
        return Err(invalid(
            "The AppSpec file must be a mapping with Resources.",
        ));
    };
    // "It is required. Currently, the only allowed value is 0.0." (AppSpec file structure, CodeDeploy
    // user guide.)
    let version_ok = match get(top, "version") {
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(v)) => v.trim() == "0.0",
        _ => false,
    };
    if !version_ok {
        return Err(invalid(
            "The AppSpec file must start with version: 0.0 (the only version there is).",
        ));
    }
    let resources = get(top, "Resources")
        .ok_or_else(|| invalid("The AppSpec file has no Resources section."))?;
    let resources = resources
        .as_array()
        .ok_or_else(|| invalid("Resources must be a list."))?;
    if resources.len() != 1 {
        return Err(invalid(format!(
            "An ECS AppSpec must have exactly one resource; it has {}.",
            resources.len()
        )));
    }
    let target = resources[0]
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.values().next())
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("A resource must be a mapping from its name (e.g. TargetService) to its Type and Properties."))?;
    let kind = get(target, "Type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != "AWS::ECS::Service" {
        return Err(invalid(format!(
            "The resource Type must be AWS::ECS::Service, not '{kind}'."
        )));
    }
    let props = get(target, "Properties")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("The resource has no Properties."))?;
    let task_definition = string(props, "TaskDefinition")
        .ok_or_else(|| invalid("Properties.TaskDefinition is missing."))?;
    // CodeDeploy parses TaskDefinition as an ARN (the AppSpec reference: "the full ARN"): a family,
    // `family:revision` or an ARN without region or account cannot be parsed.
    if !is_task_definition_arn(&task_definition) {
        return Err(invalid(format!(
            "Properties.TaskDefinition must be the task definition's full ARN \
             (arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION), not '{task_definition}'."
        )));
    }
    let lb = get(props, "LoadBalancerInfo")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("Properties.LoadBalancerInfo is missing."))?;
    let container_name = string(lb, "ContainerName")
        .ok_or_else(|| invalid("LoadBalancerInfo.ContainerName is missing."))?;
    let container_port = get(lb, "ContainerPort")
        .and_then(|p| {
            p.as_i64()
                .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
        })
        .filter(|p| (1..=65535).contains(p))
        .ok_or_else(|| invalid("LoadBalancerInfo.ContainerPort must be a port number."))?;
    Ok(AppSpec {
        task_definition,
        container_name,
        container_port,
        platform_version: string(props, "PlatformVersion"),
        network_configuration: get(props, "NetworkConfiguration")
            .map(network_configuration)
            .transpose()?,
        capacity_provider_strategy: get(props, "CapacityProviderStrategy")
            .map(capacity_providers)
            .transpose()?,
        hooks: get(top, "Hooks")
            .map(hooks)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A member by key, ignoring case.
fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match get(obj, key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(String::from)
                    .ok_or_else(|| invalid("Expected a list of strings."))
            })
            .collect(),
        Some(_) => Err(invalid("Expected a list of strings.")),
    }
}

fn network_configuration(v: &Value) -> Result<Value, String> {
    let awsvpc = v
        .as_object()
        .and_then(|o| get(o, "AwsvpcConfiguration"))
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("NetworkConfiguration must contain AwsvpcConfiguration."))?;
    let subnets = strings(get(awsvpc, "Subnets"))?;
    if subnets.is_empty() {
        return Err(invalid(
            "NetworkConfiguration.AwsvpcConfiguration.Subnets must list at least one subnet.",
        ));
    }
    let mut out =
        json!({ "subnets": subnets, "securityGroups": strings(get(awsvpc, "SecurityGroups"))? });
    if let Some(a) = string(awsvpc, "AssignPublicIp") {
        if a != "ENABLED" && a != "DISABLED" {
            return Err(invalid(format!(
                "AssignPublicIp must be ENABLED or DISABLED, not '{a}'."
            )));
        }
        out["assignPublicIp"] = json!(a);
    }
    Ok(json!({ "awsvpcConfiguration": out }))
}

fn capacity_providers(v: &Value) -> Result<Value, String> {
    let list = v
        .as_array()
        .ok_or_else(|| invalid("CapacityProviderStrategy must be a list."))?;
    let items = list
        .iter()
        .map(|item| {
            let o = item.as_object().ok_or_else(|| invalid("A CapacityProviderStrategy item must be a mapping."))?;
            let provider = string(o, "CapacityProvider").ok_or_else(|| invalid("CapacityProviderStrategy items need CapacityProvider."))?;
            let num = |k| get(o, k).and_then(Value::as_i64).unwrap_or(0);
            Ok(json!({ "capacityProvider": provider, "weight": num("Weight"), "base": num("Base") }))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Value::Array(items))
}

fn hooks(v: &Value) -> Result<Vec<(String, String)>, String> {
    // A list of one-key mappings, as the AppSpec reference gives it for ECS (a plain mapping is the
    // EC2/On-Premises shape, which an ECS deployment does not take).
    let pairs: Vec<(&String, &Value)> = match v {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|o| o.iter())
            .collect(),
        _ => {
            return Err(invalid(
                "Hooks must be a list of {LifecycleEvent: FunctionName} entries.",
            ));
        }
    };
    pairs
        .into_iter()
        .map(|(event, function)| {
            let Some(name) = HOOK_EVENTS.iter().find(|e| e.eq_ignore_ascii_case(event)) else {
                return Err(invalid(format!(
                    "'{event}' is not a lifecycle event an ECS deployment can hook; use one of {}.",
                    HOOK_EVENTS.join(", ")
                )));
            };
            let function = function
                .as_str()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| invalid(format!("The {name} hook must name a Lambda function.")))?;
            Ok((name.to_string(), function.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "arn:aws:ecs:us-east-1:111222333444:task-definition/my-family:1"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 80
        PlatformVersion: "LATEST"
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets: ["subnet-1234abcd","subnet-5678abcd"]
            SecurityGroups: ["sg-12345678"]
            AssignPublicIp: "ENABLED"
        CapacityProviderStrategy:
          - Base: 1
            CapacityProvider: "FARGATE_SPOT"
            Weight: 2
Hooks:
  - BeforeInstall: "fnA"
  - AfterAllowTestTraffic: "arn:aws:lambda:us-east-1:111222333444:function:fnC"
"#;

    #[test]
    fn parses_the_documented_yaml() {
        let a = parse(YAML).unwrap();
        assert_eq!(
            a.task_definition,
            "arn:aws:ecs:us-east-1:111222333444:task-definition/my-family:1"
        );
        assert_eq!((a.container_name.as_str(), a.container_port), ("web", 80));
        assert_eq!(a.platform_version.as_deref(), Some("LATEST"));
        assert_eq!(
            a.network_configuration.clone().unwrap(),
            json!({"awsvpcConfiguration": {"subnets": ["subnet-1234abcd","subnet-5678abcd"], "securityGroups": ["sg-12345678"], "assignPublicIp": "ENABLED"}})
        );
        assert_eq!(
            a.capacity_provider_strategy.clone().unwrap(),
            json!([{"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1}])
        );
        assert_eq!(a.hook("BeforeInstall"), Some("fnA"));
        assert_eq!(
            a.hook("AfterAllowTestTraffic"),
            Some("arn:aws:lambda:us-east-1:111222333444:function:fnC")
        );
        assert_eq!(a.hook("AfterInstall"), None);
    }

    #[test]
    fn parses_json_as_the_aws_cli_sends_it_with_any_key_case() {
        let content = r#"{"version": 0.0, "resources": [{"TargetService": {"type": "AWS::ECS::Service",
            "properties": {"taskDefinition": "arn:aws:ecs:us-east-1:111222333444:task-definition/web:2", "loadBalancerInfo": {"containerName": "web", "containerPort": "8080"}}}}]}"#;
        let a = parse(content).unwrap();
        assert_eq!(
            a.task_definition,
            "arn:aws:ecs:us-east-1:111222333444:task-definition/web:2"
        );
        assert_eq!(a.container_port, 8080);
        assert!(a.hooks.is_empty() && a.network_configuration.is_none());
    }

    #[test]
    fn rejects_what_codedeploy_rejects() {
        assert!(
            parse("Resources: [")
                .unwrap_err()
                .contains("not well-formed yaml")
        );
        assert!(parse("version: 0.0").unwrap_err().contains("no Resources"));
        let no_port = YAML.replace("ContainerPort: 80", "");
        assert!(parse(&no_port).unwrap_err().contains("ContainerPort"));
        let bad_hook = YAML.replace("BeforeInstall: \"fnA\"", "ApplicationStart: \"fnA\"");
        assert!(parse(&bad_hook).unwrap_err().contains("ApplicationStart"));
        let lambda = YAML.replace("AWS::ECS::Service", "AWS::Lambda::Function");
        assert!(parse(&lambda).unwrap_err().contains("AWS::ECS::Service"));
    }

    #[test]
    fn the_version_is_required_and_only_0_0_and_hooks_are_a_list() {
        assert!(YAML.contains("version: 0.0"));
        let no_version = YAML.replace("version: 0.0", "");
        assert!(parse(&no_version).unwrap_err().contains("version: 0.0"));
        let other = YAML.replace("version: 0.0", "version: 1.0");
        assert!(parse(&other).unwrap_err().contains("version: 0.0"));
        let quoted = YAML.replace("version: 0.0", "version: \"0.0\"");
        assert!(parse(&quoted).is_ok());
        let mapping = r#"{"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service",
            "Properties": {"TaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/f:1",
            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}],
            "Hooks": {"BeforeInstall": "fnA"}}"#;
        assert!(parse(mapping).unwrap_err().contains("Hooks must be a list"));
    }

    #[test]
    fn the_task_definition_is_a_full_arn() {
        let arn = "arn:aws:ecs:us-east-1:111222333444:task-definition/my-family:1";
        for not_an_arn in [
            "my-family",
            "my-family:1",
            "arn:aws:ecs:::task-definition/my-family:1",
            "arn:aws:ecs:us-east-1:111222333444:task-definition/my-family",
            "arn:aws:ecs:us-east-1:111222333444:service/c/my-family:1",
        ] {
            let err = parse(&YAML.replace(arn, not_an_arn)).unwrap_err();
            assert!(err.contains("full ARN"), "{not_an_arn}: {err}");
        }
        let china = YAML
            .replace("arn:aws:", "arn:aws-cn:")
            .replace("us-east-1", "cn-north-1");
        assert!(parse(&china).is_ok());
    }
}
