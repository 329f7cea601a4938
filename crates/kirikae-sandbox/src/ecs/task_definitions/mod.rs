//! Task definitions: families of numbered revisions. `register` registers them (with AWS's checks and
//! defaults); `api` describes, lists, deregisters and deletes them.

pub mod api;
pub mod register;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::arns::{self, TaskDefinitionRef};
use super::errors;
use super::tags::Tag;
use crate::protocol::ApiError;

/// What the scheduler needs of a container definition (the full definition is echoed from `body`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    pub essential: Option<bool>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub environment: Vec<KeyValue>,
    /// Seconds between SIGTERM and SIGKILL when the task stops (ECS default 30).
    pub stop_timeout: Option<i64>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
}

impl ContainerDef {
    pub fn is_essential(&self) -> bool {
        self.essential.unwrap_or(true)
    }

    /// The first port mapping's container port: the port the container listens on.
    pub fn first_port(&self) -> Option<u16> {
        self.port_mappings
            .iter()
            .find_map(|p| p.container_port)
            .and_then(|p| u16::try_from(p).ok())
    }

    pub fn has_port(&self, port: i64) -> bool {
        self.port_mappings
            .iter()
            .any(|p| p.container_port == Some(port))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub container_port: Option<i64>,
    pub host_port: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct KeyValue {
    pub name: Option<String>,
    pub value: Option<String>,
}

pub struct TaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: u32,
    /// `ACTIVE`, `INACTIVE` or `DELETE_IN_PROGRESS`.
    pub status: &'static str,
    /// The definition as registered, with AWS's defaults filled in (what Describe echoes).
    body: Value,
    pub tags: Vec<Tag>,
    pub containers: Vec<ContainerDef>,
    registered_at: f64,
    registered_by: String,
    deregistered_at: Option<f64>,
    delete_requested_at: Option<f64>,
}

impl TaskDefinition {
    pub fn network_mode(&self) -> &str {
        self.body
            .get("networkMode")
            .and_then(Value::as_str)
            .unwrap_or("bridge")
    }

    pub fn cpu(&self) -> Option<String> {
        self.body
            .get("cpu")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    pub fn memory(&self) -> Option<String> {
        self.body
            .get("memory")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Launch types the definition can run on. EC2 always; FARGATE when it meets Fargate's
    /// requirements (awsvpc, task-level cpu and memory); EXTERNAL when asked for.
    pub fn compatibilities(&self) -> Vec<&'static str> {
        let mut out = vec!["EC2"];
        if self.network_mode() == "awsvpc" && self.cpu().is_some() && self.memory().is_some() {
            out.push("FARGATE");
        }
        if self.requires("EXTERNAL") {
            out.push("EXTERNAL");
        }
        if self.requires("MANAGED_INSTANCES") {
            out.push("MANAGED_INSTANCES");
        }
        out
    }

    fn requires(&self, compat: &str) -> bool {
        self.body
            .get("requiresCompatibilities")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|c| c == compat))
    }

    pub fn container(&self, name: &str) -> Option<&ContainerDef> {
        self.containers.iter().find(|c| c.name == name)
    }

    pub fn to_json(&self) -> Value {
        let mut v = self.body.clone();
        let compat = self.compatibilities();
        let mut requires =
            vec![json!({ "name": "com.amazonaws.ecs.capability.docker-remote-api.1.18" })];
        if self.network_mode() == "awsvpc" {
            requires.push(json!({ "name": "ecs.capability.task-eni" }));
            requires.push(json!({ "name": "com.amazonaws.ecs.capability.docker-remote-api.1.21" }));
        }
        let extra = json!({
            "taskDefinitionArn": self.arn,
            "family": self.family,
            "revision": self.revision,
            "status": self.status,
            "compatibilities": compat,
            "requiresAttributes": requires,
            "registeredAt": self.registered_at,
            "registeredBy": self.registered_by,
            "deregisteredAt": self.deregistered_at,
            "deleteRequestedAt": self.delete_requested_at,
        });
        if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), extra) {
            obj.extend(extra.into_iter().filter(|(_, v)| !v.is_null()));
        }
        v
    }
}

#[derive(Default)]
pub struct TaskDefinitions {
    /// Family → revisions (index = revision - 1).
    families: BTreeMap<String, Vec<TaskDefinition>>,
}

impl TaskDefinitions {
    pub fn get(&self, family: &str, revision: u32) -> Option<&TaskDefinition> {
        self.families
            .get(family)?
            .get((revision as usize).checked_sub(1)?)
    }

    pub fn get_mut(&mut self, family: &str, revision: u32) -> Option<&mut TaskDefinition> {
        self.families
            .get_mut(family)?
            .get_mut((revision as usize).checked_sub(1)?)
    }

    /// What a `family`, `family:revision` or ARN reference names; a bare family means its latest
    /// ACTIVE revision.
    pub fn find(&self, reference: &str) -> Option<&TaskDefinition> {
        let TaskDefinitionRef { family, revision } = arns::task_definition_ref(reference)?;
        match revision {
            Some(rev) => self.get(&family, rev),
            None => self
                .families
                .get(&family)?
                .iter()
                .rev()
                .find(|td| td.status == "ACTIVE"),
        }
    }

    /// The task definition a service or task set is created with: it must exist and be ACTIVE.
    pub fn for_launch(&self, reference: &str) -> Result<&TaskDefinition, ApiError> {
        let td = self
            .find(reference)
            .ok_or_else(|| errors::client("TaskDefinition not found."))?;
        if td.status != "ACTIVE" {
            return Err(errors::client("TaskDefinition is inactive"));
        }
        Ok(td)
    }

    /// Next revision of a family (revisions are never reused, even after deletion).
    fn next_revision(&self, family: &str) -> u32 {
        self.families.get(family).map_or(0, Vec::len) as u32 + 1
    }
}
