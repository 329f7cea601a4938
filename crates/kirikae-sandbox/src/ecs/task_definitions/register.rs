//! RegisterTaskDefinition: AWS's checks on a definition, and the defaults AWS fills into what it echoes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ContainerDef, TaskDefinition};
use crate::ecs::{arns, errors, io, tags};
use crate::protocol::ApiError;
use crate::world::Ctx;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::task_definitions::TaskDefinitions;

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
