//! Tags (ECS spells their members in lowercase: `key`, `value`) and TagResource, UntagResource,
//! ListTagsForResource on clusters, services, task sets, tasks and task definitions.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::arns::{self, Resource};
use super::{EcsState, errors, io};
use crate::protocol::ApiError;
use crate::world::Ctx;

/// AWS's per-resource tag limit.
const MAX_TAGS: usize = 50;
/// The model's pattern for tag keys and values.
const PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$";

/// A character of [`PATTERN`]: letters, separators, numbers and `_.:/=+-@`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Tags from a request's `tags` member, checked as AWS checks them.
pub fn from_input(input: &Value) -> Result<Vec<Tag>, ApiError> {
    let tags: Vec<Tag> = match input.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => io::parse(v)?,
    };
    for (i, t) in tags.iter().enumerate() {
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(errors::invalid(
                "Tag keys beginning with 'aws:' are reserved for AWS use.",
            ));
        }
        // The model's TagKey / TagValue pattern (the generic validation checks lengths only).
        for (member, text) in [("key", Some(&t.key)), ("value", t.value.as_ref())] {
            if let Some(text) = text.filter(|v| !v.chars().all(tag_char)) {
                return Err(errors::invalid(format!(
                    "1 validation error detected: Value '{text}' at 'tags.{}.member.{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {PATTERN}",
                    i + 1
                )));
            }
        }
    }
    let mut merged = Vec::new();
    merge(&mut merged, tags)?;
    Ok(merged)
}

/// Add or overwrite tags by key.
pub fn merge(existing: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), ApiError> {
    for tag in new {
        match existing.iter_mut().find(|t| t.key == tag.key) {
            Some(t) => t.value = tag.value,
            None => existing.push(tag),
        }
    }
    if existing.len() > MAX_TAGS {
        return Err(errors::invalid(format!(
            "A resource can have at most {MAX_TAGS} tags."
        )));
    }
    Ok(())
}

pub fn to_json(tags: &[Tag]) -> Value {
    io::to_value(&tags)
}

/// The tag list of the resource an ARN names.
fn tags_of<'a>(cx: &'a mut Ctx, arn: &str) -> Result<&'a mut Vec<Tag>, ApiError> {
    let ecs: &'a mut EcsState = &mut cx.region.ecs;
    let Some(resource) = arns::parse(arn) else {
        return Err(errors::invalid(format!(
            "The ARN provided is invalid: {arn}"
        )));
    };
    match resource {
        Resource::Cluster { name } => ecs.clusters.active_mut(&name).map(|c| &mut c.tags),
        Resource::Service { cluster, name } => {
            let cluster = ecs
                .clusters
                .active_mut(cluster.as_deref().unwrap_or("default"))?;
            cluster
                .services
                .get_mut(&name)
                .map(|s| &mut s.tags)
                .ok_or_else(errors::resource_not_found)
        }
        Resource::TaskSet {
            cluster,
            service,
            id,
        } => {
            let cluster = ecs.clusters.active_mut(&cluster)?;
            let service = cluster
                .services
                .get_mut(&service)
                .ok_or_else(errors::resource_not_found)?;
            service
                .sets
                .iter_mut()
                .find(|s| s.id == id)
                .map(|s| &mut s.tags)
                .ok_or_else(errors::resource_not_found)
        }
        Resource::Task { cluster, id } => {
            let cluster = ecs
                .clusters
                .active_mut(cluster.as_deref().unwrap_or("default"))?;
            cluster
                .tasks
                .get_mut(&id)
                .map(|t| &mut t.tags)
                .ok_or_else(errors::resource_not_found)
        }
        Resource::TaskDefinition { family, revision } => ecs
            .task_definitions
            .get_mut(&family, revision)
            .map(|td| &mut td.tags)
            .ok_or_else(errors::resource_not_found),
        Resource::Other { kind } => Err(errors::invalid(format!(
            "The kirikae sandbox does not keep tags for ECS {kind} resources."
        ))),
    }
}

pub fn tag_resource(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let arn = input["resourceArn"].as_str().unwrap_or_default();
    let new = from_input(input)?;
    let tags = tags_of(cx, arn)?;
    let mut updated = tags.clone();
    merge(&mut updated, new)?;
    *tags = updated;
    Ok(json!({}))
}

pub fn untag_resource(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let arn = input["resourceArn"].as_str().unwrap_or_default();
    let keys: Vec<String> = io::parse(&input["tagKeys"])?;
    let tags = tags_of(cx, arn)?;
    tags.retain(|t| !keys.contains(&t.key));
    Ok(json!({}))
}

pub fn list_tags_for_resource(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let arn = input["resourceArn"].as_str().unwrap_or_default();
    let tags = tags_of(cx, arn)?;
    Ok(json!({ "tags": to_json(tags) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: Some(v.into()),
        }
    }

    #[test]
    fn merge_overwrites_by_key() {
        let mut tags = vec![tag("a", "1"), tag("b", "2")];
        merge(&mut tags, vec![tag("b", "3"), tag("c", "4")]).unwrap();
        assert_eq!(tags, vec![tag("a", "1"), tag("b", "3"), tag("c", "4")]);
    }

    #[test]
    fn rejects_reserved_keys_and_too_many_tags() {
        assert!(from_input(&json!({"tags": [{"key": "aws:x", "value": "1"}]})).is_err());
        // The model's pattern: no `?`, `#`, quotes, braces, control characters.
        for bad in ["run?id=4", "{\"a\": 1}", "tab\there"] {
            let err = from_input(&json!({"tags": [{"key": "k", "value": bad}]})).unwrap_err();
            assert!(
                format!("{err:?}").contains("regular expression pattern"),
                "{bad}"
            );
        }
        assert!(
            from_input(&json!({"tags": [{"key": "kirikae:lock/web/1", "value": "by=arn:aws:iam::1:root from=ana@host é 7"}]}))
                .is_ok()
        );
        let many: Vec<Value> = (0..51)
            .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
            .collect();
        assert!(from_input(&json!({ "tags": many })).is_err());
        assert_eq!(
            to_json(&from_input(&json!({"tags": [{"key": "k", "value": "v"}]})).unwrap()),
            json!([{"key": "k", "value": "v"}])
        );
    }
}
