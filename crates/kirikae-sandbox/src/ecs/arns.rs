//! ECS ARNs and identifiers: building them in AWS's (long) formats, and reading the short-name-or-ARN
//! references every ECS operation accepts.

use crate::world::{Foreign, RegionKey};

pub fn cluster(key: &RegionKey, name: &str) -> String {
    key.arn("ecs", &format!("cluster/{name}"))
}

pub fn service(key: &RegionKey, cluster: &str, name: &str) -> String {
    key.arn("ecs", &format!("service/{cluster}/{name}"))
}

pub fn task(key: &RegionKey, cluster: &str, id: &str) -> String {
    key.arn("ecs", &format!("task/{cluster}/{id}"))
}

pub fn task_set(key: &RegionKey, cluster: &str, service: &str, id: &str) -> String {
    key.arn("ecs", &format!("task-set/{cluster}/{service}/{id}"))
}

pub fn task_definition(key: &RegionKey, family: &str, revision: u32) -> String {
    key.arn("ecs", &format!("task-definition/{family}:{revision}"))
}

pub fn container(key: &RegionKey, cluster: &str, task_id: &str, id: &str) -> String {
    key.arn("ecs", &format!("container/{cluster}/{task_id}/{id}"))
}

/// A task id: 32 lowercase hex digits, as Fargate tasks have.
pub fn new_task_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A task set or deployment id: `ecs-svc/` and 19 digits (AWS uses one id space for both).
pub fn new_task_set_id() -> String {
    format!(
        "ecs-svc/{}",
        rand::random_range(1_000_000_000_000_000_000u64..=9_223_372_036_854_775_807)
    )
}

/// An ENI id: `eni-` and 17 hex digits.
pub fn new_eni_id() -> String {
    format!("eni-{:017x}", rand::random_range(0..(1u128 << 68)))
}

/// Whether `name` is a valid cluster, service or family name: up to 255 letters, digits, hyphens and
/// underscores.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The resource an ECS ARN names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Cluster {
        name: String,
    },
    /// `cluster` is absent in the old short ARN format (`service/{name}`).
    Service {
        cluster: Option<String>,
        name: String,
    },
    Task {
        cluster: Option<String>,
        id: String,
    },
    TaskSet {
        cluster: String,
        service: String,
        id: String,
    },
    TaskDefinition {
        family: String,
        revision: u32,
    },
    /// A resource type the sandbox does not model (capacity providers, container instances, …).
    Other {
        kind: String,
    },
}

/// The ECS resource an ARN names, or `None` when it is not an ECS ARN.
pub fn parse(arn: &str) -> Option<Resource> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("ecs"), Some(_region), Some(_account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let (kind, path) = resource.split_once('/')?;
    let segs: Vec<&str> = path.split('/').collect();
    let nonempty = |s: &&str| !s.is_empty();
    if !segs.iter().all(nonempty) {
        return None;
    }
    Some(match (kind, segs.as_slice()) {
        ("cluster", [name]) => Resource::Cluster {
            name: name.to_string(),
        },
        ("service", [name]) => Resource::Service {
            cluster: None,
            name: name.to_string(),
        },
        ("service", [cluster, name]) => Resource::Service {
            cluster: Some(cluster.to_string()),
            name: name.to_string(),
        },
        ("task", [id]) => Resource::Task {
            cluster: None,
            id: id.to_string(),
        },
        ("task", [cluster, id]) => Resource::Task {
            cluster: Some(cluster.to_string()),
            id: id.to_string(),
        },
        // Task set ids contain a slash themselves: `ecs-svc/123…`.
        ("task-set", [cluster, service, rest @ ..]) if !rest.is_empty() => Resource::TaskSet {
            cluster: cluster.to_string(),
            service: service.to_string(),
            id: rest.join("/"),
        },
        ("task-definition", [fam_rev]) => {
            let (family, rev) = fam_rev.rsplit_once(':')?;
            Resource::TaskDefinition {
                family: family.to_string(),
                revision: rev.parse().ok()?,
            }
        }
        (kind, _) => Resource::Other {
            kind: kind.to_string(),
        },
    })
}

/// The fields through which ECS operations reference resources by name or ARN.
const REFERENCE_FIELDS: &[&str] = &[
    "cluster",
    "clusters",
    "service",
    "services",
    "task",
    "tasks",
    "taskSet",
    "taskSets",
    "primaryTaskSet",
    "taskDefinition",
    "resourceArn",
];

/// Refuses an input that references an ECS resource by an ARN of another region or account, as ECS
/// does (`Invalid Region in ARN`): the sandbox keeps one account's resources per region, so reading
/// only an ARN's last segment would resolve such a reference to a local resource of the same name.
pub fn check_home(
    key: &RegionKey,
    input: &serde_json::Value,
) -> Result<(), crate::protocol::ApiError> {
    let references = REFERENCE_FIELDS
        .iter()
        .filter_map(|f| input.get(*f))
        .flat_map(|v| {
            v.as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>())
                .unwrap_or_else(|| v.as_str().into_iter().collect())
        });
    for reference in references.filter(|r| r.split(':').nth(2) == Some("ecs")) {
        match key.foreign(reference) {
            Some(Foreign::Region(_)) => {
                return Err(super::errors::invalid("Invalid Region in ARN"));
            }
            Some(Foreign::Account(account)) => {
                return Err(super::errors::invalid(format!(
                    "Invalid identifier: Identifier is for {account}. Your accountId is {}",
                    key.account
                )));
            }
            None => {}
        }
    }
    Ok(())
}

/// A cluster's name from a "short name or full ARN" reference.
pub fn cluster_name(reference: &str) -> String {
    match parse(reference) {
        Some(Resource::Cluster { name }) => name,
        _ => reference.to_string(),
    }
}

/// A service's name (and the cluster its ARN names, if any) from a name-or-ARN reference.
pub fn service_name(reference: &str) -> (Option<String>, String) {
    match parse(reference) {
        Some(Resource::Service { cluster, name }) => (cluster, name),
        _ => (None, reference.to_string()),
    }
}

/// A task's id (and the cluster its ARN names, if any) from an id-or-ARN reference.
pub fn task_id(reference: &str) -> (Option<String>, String) {
    match parse(reference) {
        Some(Resource::Task { cluster, id }) => (cluster, id),
        _ => (None, reference.to_string()),
    }
}

/// A task set's id from an id-or-ARN reference.
pub fn task_set_id(reference: &str) -> String {
    match parse(reference) {
        Some(Resource::TaskSet { id, .. }) => id,
        _ => reference.to_string(),
    }
}

/// How a task definition is referenced: `family` (latest ACTIVE revision), `family:revision`, or ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDefinitionRef {
    pub family: String,
    pub revision: Option<u32>,
}

pub fn task_definition_ref(reference: &str) -> Option<TaskDefinitionRef> {
    if reference.starts_with("arn:") {
        return match parse(reference)? {
            Resource::TaskDefinition { family, revision } => Some(TaskDefinitionRef {
                family,
                revision: Some(revision),
            }),
            _ => None,
        };
    }
    match reference.rsplit_once(':') {
        Some((family, rev)) => Some(TaskDefinitionRef {
            family: family.to_string(),
            revision: Some(rev.parse().ok()?),
        }),
        None => Some(TaskDefinitionRef {
            family: reference.to_string(),
            revision: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RegionKey {
        RegionKey {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn builds_arns_in_the_long_format() {
        assert_eq!(
            cluster(&key(), "demo"),
            "arn:aws:ecs:eu-west-1:123456789012:cluster/demo"
        );
        assert_eq!(
            service(&key(), "demo", "web"),
            "arn:aws:ecs:eu-west-1:123456789012:service/demo/web"
        );
        assert_eq!(
            task_definition(&key(), "web", 3),
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3"
        );
        assert_eq!(
            task_set(&key(), "demo", "web", "ecs-svc/1234567890123456789"),
            "arn:aws:ecs:eu-west-1:123456789012:task-set/demo/web/ecs-svc/1234567890123456789"
        );
    }

    #[test]
    fn parses_every_resource_kind() {
        let k = key();
        assert_eq!(
            parse(&cluster(&k, "c")),
            Some(Resource::Cluster { name: "c".into() })
        );
        assert_eq!(
            parse(&service(&k, "c", "s")),
            Some(Resource::Service {
                cluster: Some("c".into()),
                name: "s".into()
            })
        );
        assert_eq!(
            parse("arn:aws:ecs:us-east-1:1:service/old"),
            Some(Resource::Service {
                cluster: None,
                name: "old".into()
            })
        );
        assert_eq!(
            parse(&task(&k, "c", "abc")),
            Some(Resource::Task {
                cluster: Some("c".into()),
                id: "abc".into()
            })
        );
        assert_eq!(
            parse(&task_set(&k, "c", "s", "ecs-svc/42")),
            Some(Resource::TaskSet {
                cluster: "c".into(),
                service: "s".into(),
                id: "ecs-svc/42".into()
            })
        );
        assert_eq!(
            parse(&task_definition(&k, "web", 12)),
            Some(Resource::TaskDefinition {
                family: "web".into(),
                revision: 12
            })
        );
        assert_eq!(
            parse("arn:aws:ecs:us-east-1:1:capacity-provider/x"),
            Some(Resource::Other {
                kind: "capacity-provider".into()
            })
        );
        assert_eq!(
            parse("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1"),
            None
        );
        assert_eq!(parse("arn:aws:ecs:us-east-1:1:task-definition/web"), None);
        assert_eq!(parse("not-an-arn"), None);
    }

    #[test]
    fn reads_name_or_arn_references() {
        assert_eq!(cluster_name("demo"), "demo");
        assert_eq!(cluster_name("arn:aws:ecs:us-east-1:1:cluster/demo"), "demo");
        assert_eq!(service_name("web"), (None, "web".to_string()));
        assert_eq!(
            service_name("arn:aws:ecs:us-east-1:1:service/demo/web"),
            (Some("demo".into()), "web".into())
        );
        assert_eq!(task_set_id("ecs-svc/1"), "ecs-svc/1");
        assert_eq!(
            task_set_id("arn:aws:ecs:us-east-1:1:task-set/c/s/ecs-svc/1"),
            "ecs-svc/1"
        );
    }

    #[test]
    fn reads_task_definition_references() {
        let r = |s| task_definition_ref(s);
        assert_eq!(
            r("web"),
            Some(TaskDefinitionRef {
                family: "web".into(),
                revision: None
            })
        );
        assert_eq!(
            r("web:4"),
            Some(TaskDefinitionRef {
                family: "web".into(),
                revision: Some(4)
            })
        );
        assert_eq!(
            r("arn:aws:ecs:us-east-1:1:task-definition/web:7"),
            Some(TaskDefinitionRef {
                family: "web".into(),
                revision: Some(7)
            })
        );
        assert_eq!(r("web:x"), None);
        assert_eq!(r("arn:aws:ecs:us-east-1:1:cluster/web"), None);
    }

    #[test]
    fn refuses_references_to_another_region_or_account() {
        let k = key();
        let ok = serde_json::json!({"cluster": cluster(&k, "c"), "services": ["web", service(&k, "c", "web")]});
        assert!(check_home(&k, &ok).is_ok());
        let region = serde_json::json!({"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/c"});
        assert_eq!(
            check_home(&k, &region).unwrap_err().message,
            "Invalid Region in ARN"
        );
        let account =
            serde_json::json!({"services": ["arn:aws:ecs:eu-west-1:999999999999:service/c/web"]});
        let e = check_home(&k, &account).unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert!(e.message.contains("999999999999"), "{}", e.message);
    }

    #[test]
    fn ids_have_aws_shapes() {
        let id = new_task_set_id();
        let digits = id.strip_prefix("ecs-svc/").unwrap();
        assert_eq!(digits.len(), 19);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let t = new_task_id();
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        let eni = new_eni_id();
        assert_eq!(eni.len(), 4 + 17, "{eni}");
    }
}
