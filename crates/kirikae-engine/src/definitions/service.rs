//! The service definition file.

use std::path::{Path, PathBuf};

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use serde_json::Value;

use super::{check_and_decode, read_json};
use crate::config::Templater;
use crate::error::ConfigError;

/// A service definition, checked and parsed.
#[derive(Debug, Clone)]
pub struct ServiceDefinition {
    pub path: PathBuf,
    /// The normalised API JSON.
    pub json: Value,
    pub input: CreateServiceInput,
}

impl ServiceDefinition {
    pub fn load(path: &Path, templater: &Templater) -> Result<Self, ConfigError> {
        let raw = read_json(path, templater)?;
        Self::from_json(path, raw)
    }

    pub fn from_json(path: &Path, raw: Value) -> Result<Self, ConfigError> {
        let mut json = unwrap_describe_output(path, raw)?;
        let input = check_and_decode(path, &mut json, "CreateServiceRequest", "Service")?;
        let sd = ServiceDefinition {
            path: path.to_path_buf(),
            json,
            input,
        };
        sd.check_blue_green()?;
        Ok(sd)
    }

    /// What a CODE_DEPLOY service needs: one load balancer entry with container name and port, no other
    /// deployment controller, replica scheduling.
    fn check_blue_green(&self) -> Result<(), ConfigError> {
        let err = |field: &str, msg: String| {
            ConfigError::in_file(&self.path, msg).field(field.to_string())
        };
        if let Some(c) = self.input.deployment_controller()
            && c.r#type().as_str() != "CODE_DEPLOY"
        {
            return Err(err(
                "deploymentController.type",
                format!(
                    "is {}, but kirikae deploys Blue/Green through CodeDeploy",
                    c.r#type().as_str()
                ),
            )
            .hint(
                "remove deploymentController (kirikae sets CODE_DEPLOY) or set it to CODE_DEPLOY",
            ));
        }
        if self
            .input
            .scheduling_strategy()
            .is_some_and(|s| s.as_str() == "DAEMON")
        {
            return Err(err(
                "schedulingStrategy",
                "DAEMON services cannot be deployed Blue/Green".into(),
            ));
        }
        let lbs = self.input.load_balancers();
        if lbs.len() != 1 {
            return Err(err(
                "loadBalancers",
                format!("a Blue/Green service needs exactly one load balancer entry, found {}", lbs.len()),
            )
            .hint("[{\"containerName\": \"web\", \"containerPort\": 8080}] (targetGroupArn defaults to the first of codedeploy.target_groups)"));
        }
        if lbs[0].container_name().is_none_or(str::is_empty) {
            return Err(err(
                "loadBalancers[0].containerName",
                "missing required key `containerName`".into(),
            ));
        }
        if lbs[0].container_port().is_none() {
            return Err(err(
                "loadBalancers[0].containerPort",
                "missing required key `containerPort`".into(),
            ));
        }
        Ok(())
    }

    pub fn service_name(&self) -> Option<&str> {
        self.input.service_name().filter(|s| !s.is_empty())
    }

    pub fn container_name(&self) -> &str {
        self.input.load_balancers()[0]
            .container_name()
            .unwrap_or_default()
    }

    pub fn container_port(&self) -> i32 {
        self.input.load_balancers()[0]
            .container_port()
            .unwrap_or_default()
    }

    pub fn target_group_arn(&self) -> Option<&str> {
        self.input.load_balancers()[0]
            .target_group_arn()
            .filter(|s| !s.is_empty())
    }

    pub fn desired_count(&self) -> i32 {
        self.input.desired_count().unwrap_or(1)
    }
}

/// `aws ecs describe-services` prints `{"services": [{…}], "failures": []}`; `create-service` prints
/// `{"service": {…}}`. Accept those and the bare object.
fn unwrap_describe_output(path: &Path, raw: Value) -> Result<Value, ConfigError> {
    let Value::Object(mut obj) = raw else {
        return Err(ConfigError::in_file(path, "expected a JSON object"));
    };
    if let Some(Value::Array(services)) = obj.get("services") {
        if services.len() != 1 {
            return Err(ConfigError::in_file(
                path,
                format!(
                    "holds {} services; one file describes one service",
                    services.len()
                ),
            )
            .field("services"));
        }
        let mut inner = services[0].clone();
        if let Some(map) = inner.as_object_mut() {
            // An ECS-controller service lists its rollouts here; irrelevant for the definition.
            map.remove("deployments");
        }
        return Ok(inner);
    }
    if obj.get("service").is_some_and(Value::is_object) {
        return Ok(obj.remove("service").expect("checked"));
    }
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describe_services_output_is_accepted() {
        let raw = json!({"services": [{
            "serviceArn": "arn:aws:ecs:us-east-1:1:service/demo/web", "serviceName": "web",
            "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/demo", "status": "ACTIVE",
            "desiredCount": 2, "runningCount": 2, "pendingCount": 0, "launchType": "FARGATE",
            "platformVersion": "LATEST",
            "loadBalancers": [{"targetGroupArn": "arn:tg", "containerName": "web", "containerPort": 8080}],
            "deploymentController": {"type": "CODE_DEPLOY"}, "taskSets": [], "deployments": [], "events": [],
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
            "createdAt": 1700000000.0, "roleArn": "arn:aws:iam::1:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
        }], "failures": []});
        let sd = ServiceDefinition::from_json(Path::new("sd.json"), raw).unwrap();
        assert_eq!(sd.service_name(), Some("web"));
        assert_eq!((sd.container_name(), sd.container_port()), ("web", 8080));
        assert_eq!(sd.desired_count(), 2);
    }

    #[test]
    fn ecs_controller_and_missing_load_balancer_are_refused() {
        let e = ServiceDefinition::from_json(
            Path::new("sd.json"),
            json!({"deploymentController": {"type": "ECS"}, "loadBalancers": []}),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("deploymentController.type"));
        let e = ServiceDefinition::from_json(Path::new("sd.json"), json!({"desiredCount": 1}))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("loadBalancers"));
    }

    #[test]
    fn unknown_key_names_the_file() {
        let e = ServiceDefinition::from_json(Path::new("sd.json"), json!({"desiredCont": 1}))
            .unwrap_err();
        assert_eq!(
            (e.source.as_str(), e.field.as_deref()),
            ("sd.json", Some("desiredCont"))
        );
        assert_eq!(e.hint.as_deref(), Some("did you mean `desiredCount`?"));
    }
}
