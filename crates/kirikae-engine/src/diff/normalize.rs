//! Both sides of a diff in one shape, so that only what would change shows: a task definition as
//! RegisterTaskDefinition takes it, an AppSpec as the inputs kirikae generates it from. Pure functions.
//!
//! What is taken out does not change what runs: read-only fields (ARN, revision, status, registration
//! times, requirements ECS computes), empty lists and objects, nulls, and the values ECS reports when
//! a file leaves them out (`essential: true`, `cpu: 0` in a container, `protocol: tcp`, a `hostPort`
//! equal to the `containerPort` under `awsvpc`, `false` flags, …). Object keys are sorted, and so are the
//! lists whose order means nothing (`environment` and `secrets` by name, `tags` by key).

use serde_json::{Map, Value};

use crate::definitions::model;
use crate::definitions::task::SPEC_TAG;

/// A task definition (a file's, or DescribeTaskDefinition's answer with its tags) in the shape the diff
/// compares.
pub fn task_definition(json: &Value) -> Value {
    let members = model::ecs().members("RegisterTaskDefinitionRequest");
    let mut v = json.clone();
    let Value::Object(top) = &mut v else {
        return v;
    };
    top.retain(|k, _| members.contains(&k.as_str()));
    if let Some(Value::Array(tags)) = top.get_mut("tags") {
        tags.retain(|t| t.get("key").and_then(Value::as_str) != Some(SPEC_TAG));
        sort_by_str(tags, "key");
    }
    // `bridge` is what ECS uses when a definition names no network mode.
    if top.get("networkMode").and_then(Value::as_str) == Some("bridge") {
        top.remove("networkMode");
    }
    // Under awsvpc and host, a host port is the container port; ECS reports it even when left out.
    let port_is_host_port = matches!(
        top.get("networkMode").and_then(Value::as_str),
        Some("awsvpc" | "host")
    );
    for key in ["cpu", "memory"] {
        if let Some(Value::String(s)) = top.get_mut(key)
            && let Some(units) = task_size_units(s)
        {
            *s = units;
        }
    }
    if let Some(Value::Array(containers)) = top.get_mut("containerDefinitions") {
        for c in containers.iter_mut() {
            if let Value::Object(c) = c {
                container(c, port_is_host_port);
            }
        }
    }
    clean(&mut v);
    v
}

fn container(c: &mut Map<String, Value>, port_is_host_port: bool) {
    if c.get("cpu").and_then(Value::as_i64) == Some(0) {
        c.remove("cpu");
    }
    if c.get("essential") == Some(&Value::Bool(true)) {
        c.remove("essential");
    }
    if c.get("versionConsistency").and_then(Value::as_str) == Some("enabled") {
        c.remove("versionConsistency");
    }
    for list in ["environment", "secrets"] {
        if let Some(Value::Array(items)) = c.get_mut(list) {
            sort_by_str(items, "name");
        }
    }
    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for p in ports.iter_mut() {
            let Value::Object(p) = p else { continue };
            if p.get("protocol").and_then(Value::as_str) == Some("tcp") {
                p.remove("protocol");
            }
            let host = p.get("hostPort").and_then(Value::as_i64);
            if host == Some(0)
                || (port_is_host_port && host == p.get("containerPort").and_then(Value::as_i64))
            {
                p.remove("hostPort");
            }
        }
    }
}

/// `"1 vCPU"` → `"1024"`, `"0.5 GB"` → `"512"`: ECS registers task sizes in units.
fn task_size_units(s: &str) -> Option<String> {
    let lower = s.trim().to_ascii_lowercase();
    let number = lower
        .strip_suffix("vcpu")
        .or_else(|| lower.strip_suffix("gb"))?
        .trim();
    let n: f64 = number.parse().ok()?;
    let units = n * 1024.0;
    (units.fract() == 0.0 && units >= 0.0).then(|| format!("{}", units as u64))
}

/// The inputs of an ECS AppSpec that kirikae generates (container name and port, platform version,
/// network configuration, capacity provider strategy, hooks), without the task definition, which the
/// task definition's own diff covers. Accepts the document AWS stores (JSON or YAML, parsed).
pub fn appspec(doc: &Value) -> Value {
    let mut out = Map::new();
    let service = doc
        .get("Resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|r| r.values())
        .find(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::ECS::Service"));
    if let Some(Value::Object(props)) = service.and_then(|s| s.get("Properties")) {
        let mut props = props.clone();
        props.remove("TaskDefinition");
        // What ECS uses when an AppSpec or a service leaves them out.
        if props.get("PlatformVersion").and_then(Value::as_str) == Some("LATEST") {
            props.remove("PlatformVersion");
        }
        if let Some(Value::Object(vpc)) = props
            .get_mut("NetworkConfiguration")
            .and_then(|n| n.get_mut("AwsvpcConfiguration"))
            && vpc.get("AssignPublicIp").and_then(Value::as_str) == Some("DISABLED")
        {
            vpc.remove("AssignPublicIp");
        }
        if let Some(Value::Array(strategy)) = props.get_mut("CapacityProviderStrategy") {
            for s in strategy.iter_mut().filter_map(Value::as_object_mut) {
                if s.get("Base").and_then(Value::as_i64) == Some(0) {
                    s.remove("Base");
                }
            }
        }
        out.extend(props);
    }
    // Hooks are a list of one-key objects; their order means nothing (CodeDeploy runs each at its event).
    let mut hooks = Map::new();
    for h in doc
        .get("Hooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        hooks.extend(h.clone());
    }
    if !hooks.is_empty() {
        out.insert("Hooks".into(), Value::Object(hooks));
    }
    let mut v = Value::Object(out);
    clean(&mut v);
    v
}

/// Pretty JSON, one value per line, ending with a newline (what the line diff compares).
pub fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("a Value serialises");
    s.push('\n');
    s
}

fn sort_by_str(items: &mut [Value], key: &str) {
    items.sort_by(|a, b| {
        let k = |v: &Value| {
            v.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        k(a).cmp(&k(b))
    });
}

/// Recursively: nulls, `false` flags (every ECS flag defaults to false but `essential`, handled by the
/// caller), empty lists and empty objects removed; object keys sorted.
fn clean(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut child) in entries {
                clean(&mut child);
                let drop = match &child {
                    Value::Null => true,
                    Value::Bool(false) => k != "essential",
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                if !drop {
                    map.insert(k, child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What ECS answers for a definition registered from [`file`].
    fn described() -> Value {
        json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            "family": "web", "revision": 7, "status": "ACTIVE", "networkMode": "awsvpc",
            "containerDefinitions": [{
                "name": "web", "image": "kirikae/demo:v1", "cpu": 0, "essential": true,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
                "mountPoints": [], "volumesFrom": [], "systemControls": [],
                "linuxParameters": {"initProcessEnabled": false}
            }],
            "volumes": [], "placementConstraints": [],
            "requiresAttributes": [{"name": "ecs.capability.task-eni"}],
            "compatibilities": ["EC2", "FARGATE"], "requiresCompatibilities": ["FARGATE"],
            "cpu": "256", "memory": "512", "enableFaultInjection": false,
            "registeredAt": 1700000000.0, "registeredBy": "arn:aws:iam::123456789012:user/x",
            "tags": [{"key": "team", "value": "sre"}, {"key": SPEC_TAG, "value": "abc"}]
        })
    }

    fn file() -> Value {
        json!({
            "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "0.25 vCPU", "memory": "0.5 GB",
            "containerDefinitions": [{
                "name": "web", "image": "kirikae/demo:v1",
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
            }],
            "tags": [{"key": "team", "value": "sre"}]
        })
    }

    #[test]
    fn a_file_and_what_ecs_describes_for_it_compare_equal() {
        assert_eq!(task_definition(&described()), task_definition(&file()));
    }

    #[test]
    fn a_changed_image_is_the_only_difference() {
        let mut changed = file();
        changed["containerDefinitions"][0]["image"] = json!("kirikae/demo:v2");
        let (a, b) = (
            pretty(&task_definition(&described())),
            pretty(&task_definition(&changed)),
        );
        let differing: Vec<(&str, &str)> =
            a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(
            differing,
            vec![(
                r#"      "image": "kirikae/demo:v1","#,
                r#"      "image": "kirikae/demo:v2","#
            )]
        );
    }

    #[test]
    fn meaningful_values_are_kept() {
        let td = task_definition(&json!({
            "family": "web", "networkMode": "bridge",
            "containerDefinitions": [{"name": "a", "image": "i", "cpu": 128, "essential": false,
                "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "udp"}]}]
        }));
        assert_eq!(
            td,
            json!({
                "family": "web",
                "containerDefinitions": [{"name": "a", "image": "i", "cpu": 128, "essential": false,
                    "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "udp"}]}]
            })
        );
    }

    #[test]
    fn task_sizes_in_units() {
        assert_eq!(task_size_units("1 vCPU").as_deref(), Some("1024"));
        assert_eq!(task_size_units("0.5GB").as_deref(), Some("512"));
        assert_eq!(task_size_units("2048"), None);
    }

    #[test]
    fn appspec_inputs_without_the_task_definition() {
        let doc = json!({
            "version": 0.0,
            "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": "arn:td:3",
                "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Base": 0, "Weight": 1}],
                "PlatformVersion": "LATEST",
                "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["s-1"], "AssignPublicIp": "DISABLED"}}
            }}}],
            "Hooks": [{"BeforeInstall": "b"}, {"AfterAllowTestTraffic": "a"}]
        });
        assert_eq!(
            appspec(&doc),
            json!({
                "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Weight": 1}],
                "Hooks": {"AfterAllowTestTraffic": "a", "BeforeInstall": "b"},
                "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["s-1"]}}
            })
        );
    }
}
