//! The task definition step both controllers share: use the service's revision when its content is
//! the file's, or the revision `--revision` / `--skip-task-definition` chose, else register the file
//! with the spec tag (so a later run with an identical file recognises what it would register).

use aws_sdk_ecs::types::Tag;

use super::ending::Changes;
use super::short_arn;
use crate::aws::failed;
use crate::connection::Clients;
use crate::definitions::TaskDefinition;
use crate::definitions::task::SPEC_TAG;
use crate::error::Error;
use crate::progress::{Event, Observer};

/// What preflight found for the task definition.
pub(crate) struct Found<'a> {
    /// The service's current revision, when it has exactly the file's content.
    pub unchanged: Option<&'a String>,
    /// The revision `--revision` / `--skip-task-definition` chose.
    pub existing: Option<&'a String>,
}

/// The task definition ARN to deploy, registering the file's when neither found one serves.
pub(crate) async fn task_definition(
    aws: &Clients,
    file: &TaskDefinition,
    found: Found<'_>,
    changes: &mut Changes,
    observer: &dyn Observer,
) -> Result<String, Error> {
    let reused = match (found.unchanged, found.existing) {
        (Some(arn), _) => Some((
            arn,
            format!("task definition {} is unchanged", short_arn(arn)),
        )),
        (None, Some(arn)) => Some((arn, format!("using task definition {}", short_arn(arn)))),
        (None, None) => None,
    };
    if let Some((arn, message)) = reused {
        observer.on_event(&Event::Step { message });
        changes.task_definition_arn = Some(arn.clone());
        return Ok(arn.clone());
    }
    #[allow(deprecated)] // inference_accelerators: passed through as given
    let i = file.input.clone();
    let mut tags: Vec<Tag> = i
        .tags
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.key() != Some(SPEC_TAG))
        .collect();
    tags.push(Tag::builder().key(SPEC_TAG).value(file.spec_hash()).build());
    #[allow(deprecated)]
    let out = aws
        .ecs
        .register_task_definition()
        .set_family(i.family)
        .set_task_role_arn(i.task_role_arn)
        .set_execution_role_arn(i.execution_role_arn)
        .set_network_mode(i.network_mode)
        .set_container_definitions(i.container_definitions)
        .set_volumes(i.volumes)
        .set_placement_constraints(i.placement_constraints)
        .set_requires_compatibilities(i.requires_compatibilities)
        .set_cpu(i.cpu)
        .set_memory(i.memory)
        .set_tags(Some(tags))
        .set_pid_mode(i.pid_mode)
        .set_ipc_mode(i.ipc_mode)
        .set_proxy_configuration(i.proxy_configuration)
        .set_inference_accelerators(i.inference_accelerators)
        .set_ephemeral_storage(i.ephemeral_storage)
        .set_runtime_platform(i.runtime_platform)
        .set_enable_fault_injection(i.enable_fault_injection)
        .send()
        .await
        .map_err(|e| failed("ecs:RegisterTaskDefinition", e))?;
    let arn = out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string();
    observer.on_event(&Event::Step {
        message: format!("registered task definition {}", short_arn(&arn)),
    });
    changes.task_definition_arn = Some(arn.clone());
    changes.registered = true;
    Ok(arn)
}
