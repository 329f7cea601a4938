//! Whether a registered task definition has the content of a file although kirikae did not register it
//! from that very file (no matching `kirikae:spec-sha256` tag): for instance the file `kirikae init`
//! wrote from it, which leaves out what ECS fills in. Both sides are compared in the shape `kirikae diff`
//! compares ([`normalize::task_definition`]): registering the file would register the same definition,
//! so a deploy keeps the running revision instead.

use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use serde_json::{Value, json};

use crate::definitions::codec;
use crate::diff::normalize;

pub fn same(file: &Value, described: &DescribeTaskDefinitionOutput) -> bool {
    let Some(td) = described.task_definition() else {
        return false;
    };
    let Ok(mut registered) = codec::encode(td) else {
        return false;
    };
    // Tags AWS sets (`aws:…`) are not the file's to declare.
    let tags: Vec<Value> = described
        .tags()
        .iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("aws:"))
        .map(|t| json!({"key": t.key(), "value": t.value()}))
        .collect();
    if let Some(obj) = registered.as_object_mut() {
        obj.insert("tags".into(), Value::Array(tags));
    }
    normalize::task_definition(file) == normalize::task_definition(&registered)
}
