//! A new task, as ECS creates it for a service, a task set or RunTask: PROVISIONING, with its own
//! address (the ENI) and one container per container definition. The scheduler starts it.

use serde_json::{Value, json};

use super::{ContainerState, Eni, Target, Task, TaskStatus};
use crate::addr::NoAddress;
use crate::ecs::arns;
use crate::ecs::scheduler::timing;
use crate::ecs::spec::LaunchSpec;
use crate::ecs::tags::Tag;
use crate::ecs::task_definitions::TaskDefinition;
use crate::world::{RegionKey, Shared};

/// Fargate's platform version when a spec says LATEST (or nothing).
const FARGATE_PLATFORM: &str = "1.4.0";
/// ECS's default `stopTimeout`.
const DEFAULT_STOP_TIMEOUT: f64 = 30.0;

pub struct Launch<'a> {
    pub cluster_name: &'a str,
    pub cluster_arn: &'a str,
    pub td: &'a TaskDefinition,
    pub spec: &'a LaunchSpec,
    pub group: String,
    pub started_by: Option<String>,
    pub service: Option<String>,
    pub set_id: Option<String>,
    /// RunTask's `overrides` (container environment and command overrides are applied; the container
    /// names were checked by [`super::api::run`]).
    pub overrides: Option<&'a Value>,
    pub tags: Vec<Tag>,
    pub client_token: Option<String>,
}

/// Why ECS could not place a task, worded as ECS words it (RunTask's `failures[].reason`, the service
/// event "was unable to place a task. Reason: …").
pub fn placement_failure(e: NoAddress) -> String {
    match e {
        NoAddress::TooManyTasks { .. } => format!(
            "You've reached the limit on the number of tasks you can run concurrently ({e}). For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
        ),
        NoAddress::Exhausted { .. } => format!(
            "Capacity is unavailable at this time. Please try again later or in a different availability zone ({e})."
        ),
    }
}

/// A new task with an address of its own, or why there is none (see [`placement_failure`]). The task
/// counts against the sandbox's task cap until it is STOPPED.
pub fn new_task(key: &RegionKey, shared: &Shared, now: f64, l: Launch) -> Result<Task, NoAddress> {
    let ip = shared.addrs.place_task()?;
    let id = arns::new_task_id();
    let arn = arns::task(key, l.cluster_name, &id);
    let env_overrides = |name: &str| -> Vec<(String, String)> {
        l.overrides
            .and_then(|o| o["containerOverrides"].as_array())
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == name)
            .flat_map(|c| c["environment"].as_array().cloned().unwrap_or_default())
            .filter_map(|kv| {
                Some((
                    kv["name"].as_str()?.to_string(),
                    kv["value"].as_str().unwrap_or("").to_string(),
                ))
            })
            .collect()
    };
    let command_override = |name: &str| -> Vec<String> {
        l.overrides
            .and_then(|o| o["containerOverrides"].as_array())
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == name)
            .filter_map(|c| c["command"].as_array())
            .next_back()
            .map(|words| {
                words
                    .iter()
                    .filter_map(|w| w.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers: Vec<ContainerState> = l
        .td
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut environment: Vec<(String, String)> = c
                .environment
                .iter()
                .filter_map(|kv| Some((kv.name.clone()?, kv.value.clone().unwrap_or_default())))
                .collect();
            for (k, v) in env_overrides(&c.name) {
                environment.retain(|(n, _)| *n != k);
                environment.push((k, v));
            }
            ContainerState {
                name: c.name.clone(),
                image: c.image.clone(),
                arn: arns::container(key, l.cluster_name, &id, &uuid::Uuid::new_v4().to_string()),
                runtime_id: format!("{id}-{}", 1_000_000_000 + i as u64 * 7_919),
                essential: c.is_essential(),
                port: c.first_port(),
                environment,
                command: command_override(&c.name),
                cpu: c.cpu,
                memory: c.memory,
                last_status: "PENDING",
                exit_code: None,
                reason: None,
                exited: true,
            }
        })
        .collect();
    let stop_timeout =
        l.td.containers
            .iter()
            .filter_map(|c| c.stop_timeout)
            .max()
            .map_or(DEFAULT_STOP_TIMEOUT, |s| s as f64);
    let lb_targets = l
        .spec
        .load_balancers
        .iter()
        .filter_map(|lb| lb.target())
        .map(|(tg, port)| Target {
            target_group_arn: tg.to_string(),
            port,
        })
        .collect();
    let capacity_provider_name = l
        .spec
        .capacity_provider_strategy
        .as_ref()
        .and_then(|s| s[0]["capacityProvider"].as_str())
        .map(str::to_string);
    let launch_type = l.spec.launch_type.clone().or_else(|| {
        capacity_provider_name.as_deref().map(|cp| {
            if cp.starts_with("FARGATE") {
                "FARGATE"
            } else {
                "EC2"
            }
            .to_string()
        })
    });
    let platform_version = (launch_type.as_deref() == Some("FARGATE")).then(|| {
        l.spec
            .platform_version
            .clone()
            .filter(|v| v != "LATEST")
            .unwrap_or_else(|| FARGATE_PLATFORM.to_string())
    });
    let overrides = l.overrides.cloned().unwrap_or_else(|| {
        let names: Vec<Value> = containers
            .iter()
            .map(|c| json!({ "name": c.name }))
            .collect();
        json!({ "containerOverrides": names, "inferenceAcceleratorOverrides": [] })
    });
    let mac_bytes: [u8; 5] = rand::random();
    Ok(Task {
        arn,
        cluster_arn: l.cluster_arn.to_string(),
        task_definition_arn: l.td.arn.clone(),
        family: l.td.family.clone(),
        group: l.group,
        started_by: l.started_by,
        service: l.service,
        set_id: l.set_id,
        launch_type,
        platform_version,
        capacity_provider_name,
        cpu: l.td.cpu(),
        memory: l.td.memory(),
        eni: Eni {
            awsvpc: l.td.network_mode() == "awsvpc",
            ip,
            id: arns::new_eni_id(),
            attachment_id: uuid::Uuid::new_v4().to_string(),
            mac: format!(
                "0a:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                mac_bytes[0], mac_bytes[1], mac_bytes[2], mac_bytes[3], mac_bytes[4]
            ),
            subnet: l.spec.subnet(),
        },
        containers,
        last_status: TaskStatus::Provisioning,
        desired_stopped: false,
        created_at: now,
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        connectivity_at: None,
        stopping_at: None,
        stopped_at: None,
        execution_stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        next_at: timing::after(shared, now, timing::PROVISIONING),
        lb_targets,
        registered: Vec::new(),
        unhealthy_since: None,
        stop_timeout,
        version: 1,
        tags: l.tags,
        overrides,
        client_token: l.client_token,
        id,
    })
}
