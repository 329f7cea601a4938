//! `task-definition.json` from the revision a service runs: in RegisterTaskDefinition's shape with what
//! ECS fills in left out (the same normalisation `kirikae diff` compares with, so the file and the running
//! revision compare equal), kirikae's own tags dropped, images exactly as they run.

use aws_sdk_ecs::types::TaskDefinitionField;
use serde_json::{Value, json};

use super::json::pretty_with_order;
use crate::aws::failed;
use crate::connection::Clients;
use crate::definitions::codec;
use crate::diff::normalize;
use crate::error::Error;

/// The keys a reader looks for first, in this order.
const ORDER: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "containerDefinitions",
    "volumes",
    // In a container, and in name/value pairs.
    "name",
    "image",
    "essential",
    "cpu",
    "memory",
    "portMappings",
    "containerPort",
    "environment",
    "secrets",
    "value",
];

/// The running revision, as a file.
#[derive(Debug, Clone)]
pub struct TaskFile {
    /// `family:revision`.
    pub revision: String,
    pub json: Value,
    /// `(container, image)` as they run.
    pub images: Vec<(String, String)>,
}

impl TaskFile {
    pub fn text(&self) -> String {
        pretty_with_order(&self.json, ORDER)
    }
}

/// Reads the revision `arn` with its tags and turns it into the file a person would keep.
pub async fn read(aws: &Clients, arn: &str) -> Result<TaskFile, Error> {
    let out = aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeTaskDefinition", e))?;
    let Some(td) = out.task_definition() else {
        return Err(Error::Conflict {
            message: format!("ECS answered no task definition for {arn}"),
            hint: None,
        });
    };
    let mut described = codec::encode(td).map_err(|e| Error::Conflict {
        message: format!("cannot read task definition {arn} as JSON: {e}"),
        hint: None,
    })?;
    let tags: Vec<Value> = out
        .tags()
        .iter()
        .map(|t| json!({"key": t.key(), "value": t.value()}))
        .collect();
    if let Some(obj) = described.as_object_mut() {
        obj.insert("tags".into(), Value::Array(tags));
    }
    let json = file_json(&described);
    let images = json["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["image"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Ok(TaskFile {
        revision: format!("{}:{}", td.family().unwrap_or_default(), td.revision()),
        json,
        images,
    })
}

/// DescribeTaskDefinition's answer (with its tags) → the file: RegisterTaskDefinition's members only,
/// ECS's defaults and empties out, tags kirikae or AWS set dropped.
pub fn file_json(described: &Value) -> Value {
    let mut v = normalize::task_definition(described);
    if let Some(obj) = v.as_object_mut() {
        if let Some(Value::Array(tags)) = obj.get_mut("tags") {
            tags.retain(|t| !super::is_managed_tag(t["key"].as_str().unwrap_or_default()));
        }
        if obj
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            obj.remove("tags");
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_ecs_fills_in_and_kirikae_tags_are_left_out() {
        let described = json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            "family": "web", "revision": 7, "status": "ACTIVE", "networkMode": "awsvpc",
            "containerDefinitions": [{
                "name": "web", "image": "kirikae/demo:v1", "cpu": 0, "essential": true,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [], "mountPoints": [], "volumesFrom": []
            }],
            "requiresCompatibilities": ["FARGATE"], "compatibilities": ["EC2", "FARGATE"],
            "cpu": "256", "memory": "512", "registeredAt": 1700000000.0,
            "tags": [{"key": "kirikae:spec-sha256", "value": "abc"}, {"key": "team", "value": "sre"}]
        });
        assert_eq!(
            file_json(&described),
            json!({
                "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
                "cpu": "256", "memory": "512",
                "containerDefinitions": [{"name": "web", "image": "kirikae/demo:v1",
                    "portMappings": [{"containerPort": 8080}]}],
                "tags": [{"key": "team", "value": "sre"}]
            })
        );
    }
}
