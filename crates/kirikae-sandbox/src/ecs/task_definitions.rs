//! Task definitions: families of numbered revisions. RegisterTaskDefinition, DescribeTaskDefinition,
//! ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition, DeleteTaskDefinitions.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::arns::{self, TaskDefinitionRef};
use super::tags::{self, Tag};
use super::{errors, io};
use crate::protocol::ApiError;
use crate::world::Ctx;

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterInput {
    family: String,
    container_definitions: Vec<ContainerDef>,
    network_mode: Option<String>,
    #[serde(default)]
    requires_compatibilities: Vec<String>,
    cpu: Option<String>,
    memory: Option<String>,
}

/// AWS's checks on a definition before it is registered.
fn check(input: &RegisterInput) -> Result<(), ApiError> {
    if !arns::valid_name(&input.family) {
        return Err(errors::client(
            "Family name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.",
        ));
    }
    if input.container_definitions.is_empty() {
        return Err(errors::client("Container list cannot be empty."));
    }
    let awsvpc = input.network_mode.as_deref() == Some("awsvpc");
    let mut names = Vec::new();
    for c in &input.container_definitions {
        if c.name.is_empty() {
            return Err(errors::client(
                "Container.name should not be null or empty.",
            ));
        }
        if c.image.is_empty() {
            return Err(errors::client(
                "Container.image should not be null or empty.",
            ));
        }
        if names.contains(&&c.name) {
            return Err(errors::client(format!(
                "Duplicate container name '{}' in the task definition.",
                c.name
            )));
        }
        names.push(&c.name);
        if awsvpc
            && c.port_mappings
                .iter()
                .any(|p| p.host_port.is_some_and(|h| Some(h) != p.container_port))
        {
            return Err(errors::client(
                "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
            ));
        }
        if input.memory.is_none() && c.memory.is_none() && c.memory_reservation.is_none() {
            return Err(errors::client(format!(
                "Invalid setting for container '{}'. At least one of 'memory' or 'memoryReservation' must be specified.",
                c.name
            )));
        }
    }
    if !input
        .container_definitions
        .iter()
        .any(ContainerDef::is_essential)
    {
        return Err(errors::client(
            "A task definition must have at least one essential container.",
        ));
    }
    if input
        .requires_compatibilities
        .iter()
        .any(|c| c == "FARGATE")
    {
        if !awsvpc {
            return Err(errors::client(
                "Fargate only supports network mode 'awsvpc'.",
            ));
        }
        if input.cpu.is_none() {
            return Err(errors::client(
                "Fargate requires that 'cpu' be defined at the task level.",
            ));
        }
        if input.memory.is_none() {
            return Err(errors::client(
                "Fargate requires that 'memory' be defined at the task level.",
            ));
        }
    }
    Ok(())
}

/// The registered body: the input without tags, with the defaults AWS fills into what it echoes.
fn with_defaults(mut body: Value) -> Value {
    let obj = body.as_object_mut().expect("input is an object");
    obj.remove("tags");
    let host_ports_follow = matches!(
        obj.get("networkMode").and_then(Value::as_str),
        Some("awsvpc" | "host")
    );
    for key in ["volumes", "placementConstraints"] {
        obj.entry(key).or_insert_with(|| json!([]));
    }
    if let Some(containers) = obj
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    {
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            c.entry("cpu").or_insert(json!(0));
            c.entry("essential").or_insert(json!(true));
            for key in [
                "portMappings",
                "environment",
                "mountPoints",
                "volumesFrom",
                "systemControls",
            ] {
                c.entry(key).or_insert_with(|| json!([]));
            }
            if let Some(ports) = c.get_mut("portMappings").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(cp) = p.get("containerPort").cloned()
                        && host_ports_follow
                    {
                        p.entry("hostPort").or_insert(cp);
                    }
                    p.entry("protocol").or_insert(json!("tcp"));
                }
            }
        }
    }
    body
}

pub fn register(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let parsed: RegisterInput = io::parse(input)?;
    check(&parsed)?;
    let tags = tags::from_input(input)?;
    let tds = &mut cx.region.ecs.task_definitions;
    let revision = tds.next_revision(&parsed.family);
    let td = TaskDefinition {
        arn: arns::task_definition(&cx.region.key, &parsed.family, revision),
        family: parsed.family.clone(),
        revision,
        status: "ACTIVE",
        body: with_defaults(input.clone()),
        tags,
        containers: parsed.container_definitions,
        registered_at: cx.now,
        registered_by: format!("arn:aws:iam::{}:root", cx.region.key.account),
        deregistered_at: None,
        delete_requested_at: None,
    };
    let out = json!({ "taskDefinition": td.to_json(), "tags": tags::to_json(&td.tags) });
    tds.families.entry(parsed.family).or_default().push(td);
    Ok(out)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn input(family: &str) -> Value {
        json!({
            "family": family, "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "containerDefinitions": [{ "name": "web", "image": "kirikae/demo:v1", "portMappings": [{ "containerPort": 80 }] }],
        })
    }

    fn add(tds: &mut TaskDefinitions, family: &str) -> u32 {
        let rev = tds.next_revision(family);
        let parsed: RegisterInput = io::parse(&input(family)).unwrap();
        tds.families
            .entry(family.into())
            .or_default()
            .push(TaskDefinition {
                arn: format!("arn:aws:ecs:us-east-1:0:task-definition/{family}:{rev}"),
                family: family.into(),
                revision: rev,
                status: "ACTIVE",
                body: with_defaults(input(family)),
                tags: vec![],
                containers: parsed.container_definitions,
                registered_at: 0.0,
                registered_by: String::new(),
                deregistered_at: None,
                delete_requested_at: None,
            });
        rev
    }

    #[test]
    fn revisions_count_per_family_and_bare_family_means_latest_active() {
        let mut tds = TaskDefinitions::default();
        assert_eq!(add(&mut tds, "web"), 1);
        assert_eq!(add(&mut tds, "web"), 2);
        assert_eq!(add(&mut tds, "api"), 1);
        assert_eq!(tds.find("web").unwrap().revision, 2);
        tds.get_mut("web", 2).unwrap().status = "INACTIVE";
        assert_eq!(tds.find("web").unwrap().revision, 1);
        assert_eq!(tds.find("web:2").unwrap().revision, 2);
        assert_eq!(
            tds.find("arn:aws:ecs:us-east-1:0:task-definition/api:1")
                .unwrap()
                .family,
            "api"
        );
        assert!(tds.find("web:3").is_none());
        assert!(tds.for_launch("web:2").is_err());
        assert_eq!(add(&mut tds, "web"), 3, "revisions are never reused");
    }

    #[test]
    fn fills_aws_defaults_and_computes_compatibilities() {
        let body = with_defaults(input("web"));
        let c = &body["containerDefinitions"][0];
        assert_eq!(c["essential"], true);
        assert_eq!(c["portMappings"][0]["hostPort"], 80);
        assert_eq!(c["portMappings"][0]["protocol"], "tcp");
        assert_eq!(c["environment"], json!([]));
        let mut tds = TaskDefinitions::default();
        add(&mut tds, "web");
        assert_eq!(
            tds.find("web").unwrap().compatibilities(),
            vec!["EC2", "FARGATE"]
        );
    }

    #[test]
    fn checks_like_aws() {
        let mut bad = input("web");
        bad["requiresCompatibilities"] = json!(["FARGATE"]);
        bad["networkMode"] = json!("bridge");
        assert!(
            check(&io::parse(&bad).unwrap())
                .unwrap_err()
                .message
                .contains("awsvpc")
        );
        let mut bad = input("web");
        bad["containerDefinitions"][0]["portMappings"][0]["hostPort"] = json!(8080);
        assert_eq!(
            check(&io::parse(&bad).unwrap()).unwrap_err().code,
            "ClientException"
        );
        assert!(check(&io::parse(&input("we b")).unwrap()).is_err());
        assert!(check(&io::parse(&input("web")).unwrap()).is_ok());
    }
}
