//! DescribeTaskDefinition, ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition,
//! DeleteTaskDefinitions.

use serde_json::{Value, json};

use super::{TaskDefinition, TaskDefinitions};
use crate::ecs::arns::{self, TaskDefinitionRef};
use crate::ecs::{errors, io, tags};
use crate::protocol::ApiError;
use crate::world::Ctx;

pub fn describe(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let reference = input["taskDefinition"].as_str().unwrap_or_default();
    let td = cx
        .region
        .ecs
        .task_definitions
        .find(reference)
        .filter(|td| td.status != "DELETE_IN_PROGRESS")
        .ok_or_else(|| errors::client("Unable to describe task definition."))?;
    let mut out = json!({ "taskDefinition": td.to_json() });
    if io::includes_tags(input) {
        out["tags"] = tags::to_json(&td.tags);
    }
    Ok(out)
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let status = input
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("ACTIVE");
    let family = input.get("familyPrefix").and_then(Value::as_str);
    let mut arns: Vec<String> = cx
        .region
        .ecs
        .task_definitions
        .families
        .iter()
        .filter(|(f, _)| family.is_none_or(|want| want == f.as_str()))
        .flat_map(|(_, revs)| revs.iter())
        .filter(|td| td.status == status)
        .map(|td| td.arn.clone())
        .collect();
    if input.get("sort").and_then(Value::as_str) == Some("DESC") {
        arns.reverse();
    }
    let (page, next) = io::page(arns, input, 100)?;
    Ok(io::compact(
        json!({ "taskDefinitionArns": page, "nextToken": next }),
    ))
}

pub fn list_families(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let status = input
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("ACTIVE");
    let prefix = input
        .get("familyPrefix")
        .and_then(Value::as_str)
        .unwrap_or("");
    let families: Vec<String> = cx
        .region
        .ecs
        .task_definitions
        .families
        .iter()
        .filter(|(f, _)| f.starts_with(prefix))
        .filter(|(_, revs)| {
            let active = revs.iter().any(|td| td.status == "ACTIVE");
            match status {
                "ACTIVE" => active,
                "INACTIVE" => !active,
                _ => true,
            }
        })
        .map(|(f, _)| f.clone())
        .collect();
    let (page, next) = io::page(families, input, 100)?;
    Ok(io::compact(json!({ "families": page, "nextToken": next })))
}

/// A reference that must name one revision (deregister and delete take no bare family).
fn exact<'a>(
    tds: &'a mut TaskDefinitions,
    reference: &str,
) -> Result<&'a mut TaskDefinition, ApiError> {
    let Some(TaskDefinitionRef {
        family,
        revision: Some(rev),
    }) = arns::task_definition_ref(reference)
    else {
        return Err(errors::client(format!(
            "Invalid task definition '{reference}': specify family:revision or a task definition ARN."
        )));
    };
    tds.get_mut(&family, rev)
        .ok_or_else(|| errors::client("The specified task definition does not exist."))
}

pub fn deregister(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let reference = input["taskDefinition"].as_str().unwrap_or_default();
    let td = exact(&mut cx.region.ecs.task_definitions, reference)?;
    if td.status == "ACTIVE" {
        td.status = "INACTIVE";
        td.deregistered_at = Some(cx.now);
    }
    Ok(json!({ "taskDefinition": td.to_json() }))
}

/// DeleteTaskDefinitions: INACTIVE revisions go to DELETE_IN_PROGRESS (AWS removes them once nothing
/// uses them; the sandbox keeps them in that state, so tasks that still run them stay describable).
pub fn delete(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let refs: Vec<String> = io::parse(&input["taskDefinitions"])?;
    if refs.len() > 10 {
        return Err(errors::invalid(
            "You can specify up to 10 task definitions per request.",
        ));
    }
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for r in refs {
        match exact(&mut cx.region.ecs.task_definitions, &r) {
            Ok(td) if td.status == "ACTIVE" => failures.push(json!({
                "arn": td.arn,
                "reason": "The specified task definition is still in ACTIVE status. Deregister it first.",
            })),
            Ok(td) => {
                if td.status == "INACTIVE" {
                    td.status = "DELETE_IN_PROGRESS";
                    td.delete_requested_at = Some(cx.now);
                }
                done.push(td.to_json());
            }
            Err(e) => failures.push(json!({ "arn": r, "reason": e.message })),
        }
    }
    Ok(json!({ "taskDefinitions": done, "failures": failures }))
}
