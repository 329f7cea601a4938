//! Task and service definitions: files holding the raw AWS JSON that `aws ecs describe-task-definition` /
//! `aws ecs describe-services` print (or the bare object inside). They are templated, checked against the
//! ECS model (read-only fields ignored, unknown keys an error naming key and file) and parsed into the SDK's
//! own input types.

pub mod codec;
pub mod model;
pub mod service;
pub mod task;

use std::path::Path;

use serde_json::Value;

use crate::config::{Templater, read_text};
use crate::error::ConfigError;

pub use service::ServiceDefinition;
pub use task::TaskDefinition;

/// Reads, templates and parses a JSON definition file.
fn read_json(path: &Path, templater: &Templater) -> Result<Value, ConfigError> {
    let text = read_text(path)?;
    let rendered = templater.render(path, &text)?;
    serde_json::from_str(&rendered).map_err(|e| {
        ConfigError::in_file(path, format!("malformed JSON: {e}"))
            .hint("definition files hold the JSON that `aws ecs describe-task-definition` / `describe-services` print")
    })
}

/// Checks `json` against `input_shape`, ignoring the read-only members of `output_shape`, then parses it
/// into the SDK type `T`.
fn check_and_decode<T: codec::ApiJson>(
    path: &Path,
    json: &mut Value,
    input_shape: &str,
    output_shape: &str,
) -> Result<T, ConfigError> {
    let model = model::ecs();
    let input_members = model.members(input_shape);
    let read_only: Vec<&str> = model
        .members(output_shape)
        .into_iter()
        .filter(|m| !input_members.contains(m))
        .collect();
    if !json.is_object() {
        return Err(ConfigError::in_file(path, "expected a JSON object"));
    }
    model
        .check_top(input_shape, json, &read_only)
        .map_err(|issue| {
            let mut e = ConfigError::in_file(path, issue.message).field(issue.path);
            if let Some(h) = issue.hint {
                e = e.hint(h);
            }
            e
        })?;
    codec::decode::<T>(json).map_err(|e| match e {
        codec::DecodeError::Invalid(m) => {
            ConfigError::in_file(path, format!("cannot be read as {input_shape}: {m}"))
        }
        codec::DecodeError::Unsupported(keys) => ConfigError::in_file(
            path,
            format!(
                "key `{}` is not supported by the AWS SDK this kirikae was built with",
                keys[0]
            ),
        )
        .field(keys[0].clone())
        .hint("remove it, or upgrade kirikae"),
    })
}

/// A required non-empty string member, or an error naming it.
fn required_str<'a>(path: &Path, json: &'a Value, key: &str) -> Result<&'a str, ConfigError> {
    match json.get(key).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ConfigError::in_file(path, format!("missing required key `{key}`")).field(key)),
    }
}
