//! The task definition file.

use std::path::{Path, PathBuf};

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{check_and_decode, read_json, required_str};
use crate::config::Templater;
use crate::error::ConfigError;
use crate::suggest::closest;

/// The task definition tag that records [`TaskDefinition::spec_hash`].
pub const SPEC_TAG: &str = "kirikae:spec-sha256";

/// A task definition, checked and parsed.
#[derive(Debug, Clone)]
pub struct TaskDefinition {
    pub path: PathBuf,
    /// The normalised API JSON (read-only fields removed, image overrides applied): what is registered.
    pub json: Value,
    pub input: RegisterTaskDefinitionInput,
}

impl TaskDefinition {
    pub fn load(path: &Path, templater: &Templater) -> Result<Self, ConfigError> {
        let raw = read_json(path, templater)?;
        Self::from_json(path, raw)
    }

    pub fn from_json(path: &Path, raw: Value) -> Result<Self, ConfigError> {
        let mut json = unwrap_describe_output(raw);
        let input = check_and_decode(
            path,
            &mut json,
            "RegisterTaskDefinitionRequest",
            "TaskDefinition",
        )?;
        let td = TaskDefinition {
            path: path.to_path_buf(),
            json,
            input,
        };
        td.check_required()?;
        Ok(td)
    }

    fn check_required(&self) -> Result<(), ConfigError> {
        required_str(&self.path, &self.json, "family")?;
        let containers = self.input.container_definitions();
        if containers.is_empty() {
            return Err(ConfigError::in_file(
                &self.path,
                "needs at least one container definition",
            )
            .field("containerDefinitions"));
        }
        for (i, c) in containers.iter().enumerate() {
            if c.name().is_none_or(str::is_empty) {
                return Err(
                    ConfigError::in_file(&self.path, "missing required key `name`")
                        .field(format!("containerDefinitions[{i}].name")),
                );
            }
            if c.image().is_none_or(str::is_empty) {
                return Err(
                    ConfigError::in_file(&self.path, "missing required key `image`")
                        .field(format!("containerDefinitions[{i}].image")),
                );
            }
        }
        Ok(())
    }

    /// A fingerprint of what this file asks ECS to register (our own tag excluded), stored as the tag
    /// [`SPEC_TAG`] on each registration: a later run with an identical file recognises the registered
    /// revision exactly, without comparing against the defaults ECS fills in.
    pub fn spec_hash(&self) -> String {
        let mut json = self.json.clone();
        if let Some(tags) = json.get_mut("tags").and_then(Value::as_array_mut) {
            tags.retain(|t| t.get("key").and_then(Value::as_str) != Some(SPEC_TAG));
            if tags.is_empty() {
                json.as_object_mut().expect("an object").remove("tags");
            }
        }
        let digest = Sha256::digest(json.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn family(&self) -> &str {
        self.input.family().unwrap_or_default()
    }

    /// `(container name, image)` for every container.
    pub fn images(&self) -> Vec<(String, String)> {
        self.input
            .container_definitions()
            .iter()
            .map(|c| {
                (
                    c.name().unwrap_or_default().to_string(),
                    c.image().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    pub fn container_names(&self) -> Vec<&str> {
        self.input
            .container_definitions()
            .iter()
            .filter_map(|c| c.name())
            .collect()
    }

    /// Container ports declared by the container `name`, or `None` when there is no such container.
    pub fn container_ports(&self, name: &str) -> Option<Vec<i32>> {
        self.input
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some(name))
            .map(|c| {
                c.port_mappings()
                    .iter()
                    .filter_map(|p| p.container_port())
                    .collect()
            })
    }

    /// Replaces the image of container `name` (`--image NAME=IMAGE`).
    pub fn set_image(&mut self, name: &str, image: &str) -> Result<(), ConfigError> {
        let containers = self
            .json
            .get_mut("containerDefinitions")
            .and_then(Value::as_array_mut)
            .expect("checked: containerDefinitions is a list");
        let Some(c) = containers
            .iter_mut()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        else {
            let names = self.container_names();
            let mut e = ConfigError::new(
                "--image",
                format!(
                    "no container `{name}` in {} (containers: {})",
                    self.path.display(),
                    names.join(", ")
                ),
            );
            if let Some(best) = closest(name, names.iter().copied()) {
                e = e.hint(format!("did you mean `{best}={image}`?"));
            }
            return Err(e);
        };
        c["image"] = Value::String(image.to_string());
        self.input =
            super::codec::decode(&self.json).expect("an image change keeps the definition valid");
        Ok(())
    }
}

/// `aws ecs describe-task-definition` prints `{"taskDefinition": {…}, "tags": […]}`; accept that as well as
/// the bare object, keeping the tags.
fn unwrap_describe_output(raw: Value) -> Value {
    match raw {
        Value::Object(mut obj) if obj.get("taskDefinition").is_some_and(Value::is_object) => {
            let tags = obj.remove("tags");
            let mut inner = obj.remove("taskDefinition").expect("checked");
            if let (Some(tags), Some(map)) = (tags, inner.as_object_mut())
                && tags.as_array().is_some_and(|t| !t.is_empty())
                && !map.contains_key("tags")
            {
                map.insert("tags".into(), tags);
            }
            inner
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn describe_output() -> Value {
        json!({
            "taskDefinition": {
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
                "family": "web", "revision": 7, "status": "ACTIVE",
                "networkMode": "awsvpc",
                "containerDefinitions": [{"name": "web", "image": "kirikae/demo:v1", "cpu": 0,
                    "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                    "essential": true, "environment": [], "mountPoints": [], "volumesFrom": []}],
                "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
                "compatibilities": ["EC2", "FARGATE"], "requiresCompatibilities": ["FARGATE"],
                "cpu": "256", "memory": "512",
                "registeredAt": 1700000000.0, "registeredBy": "arn:aws:iam::123456789012:user/x"
            },
            "tags": [{"key": "team", "value": "sre"}]
        })
    }

    #[test]
    fn describe_output_is_accepted_with_read_only_fields_ignored() {
        let td = TaskDefinition::from_json(Path::new("td.json"), describe_output()).unwrap();
        assert_eq!(td.family(), "web");
        assert!(td.json.get("revision").is_none());
        assert_eq!(td.input.tags()[0].value(), Some("sre"));
        assert_eq!(td.container_ports("web"), Some(vec![8080]));
        assert_eq!(td.container_ports("nope"), None);
    }

    #[test]
    fn image_override_and_unknown_container() {
        let mut td = TaskDefinition::from_json(Path::new("td.json"), describe_output()).unwrap();
        td.set_image("web", "kirikae/demo:v2").unwrap();
        assert_eq!(
            td.images(),
            vec![("web".to_string(), "kirikae/demo:v2".to_string())]
        );
        let e = td.set_image("wbe", "x").unwrap_err();
        assert_eq!(e.source, "--image");
        assert_eq!(e.hint.as_deref(), Some("did you mean `web=x`?"));
    }

    #[test]
    fn spec_hash_follows_content_and_ignores_its_own_tag() {
        let a = TaskDefinition::from_json(Path::new("td.json"), describe_output()).unwrap();
        let mut b = a.clone();
        b.json["tags"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": SPEC_TAG, "value": "x"}));
        assert_eq!(a.spec_hash(), b.spec_hash());
        b.set_image("web", "kirikae/demo:v2").unwrap();
        assert_ne!(a.spec_hash(), b.spec_hash());
    }

    #[test]
    fn missing_image_is_named() {
        let e = TaskDefinition::from_json(
            Path::new("td.json"),
            json!({"family": "f", "containerDefinitions": [{"name": "a"}]}),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("containerDefinitions[0].image"));
    }
}
