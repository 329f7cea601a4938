//! `kirikae diff` on a config with an `ecs:` block (ECS-native Blue/Green): what a deploy would change
//! against what runs, from the same [`NativePrepared`] deploy as `--dry-run` (every check passed,
//! nothing changed):
//!
//! - the task definition, as the CodeDeploy diff shows it ([`super::task_definition_against`]);
//! - the deployment settings as [`native::settings`] builds them (strategy, bake time, linear / canary,
//!   lifecycle hooks, alarms, the target group pair and the advanced configuration's rules and role)
//!   against DescribeServices' `deploymentConfiguration` and `loadBalancers`, compared field by field
//!   as [`native::settings::same_settings`] compares them, so that the diff is empty exactly when the
//!   deploy says "nothing to deploy";
//! - the other settings UpdateService sends (desired count with `sync_desired_count`, network
//!   configuration, platform version, capacity provider strategy, health check grace period, ECS Exec,
//!   Service Connect, volumes), as [`native::revision`] compares them: each difference is a change. Those
//!   of the service revision make a service deployment; the others (and deployment settings) alone an
//!   UpdateService without one, which a note says.
//!
//! Only read-only calls: the preflight's, and DescribeTaskDefinition.

use std::fmt::Write as _;

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::types::{DeploymentConfiguration, LoadBalancer, Service};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    ServiceDiff, TaskDefinitionDiff, TaskDefinitionFound, changes, task_definition_against,
};
use crate::definitions::codec;
use crate::deploy::short_arn;
use crate::error::Error;
use crate::group::Change;
use crate::native::NativePrepared;
use crate::native::preflight::NativeService;
use crate::native::revision;

/// What one native config's deploy would change.
#[derive(Debug, Clone, Serialize)]
pub struct NativeDiff {
    pub config: String,
    pub cluster: String,
    pub service_name: String,
    /// Always `ECS`: the service's deployment controller (a CodeDeploy diff says `CODE_DEPLOY`).
    pub controller: &'static str,
    /// Whether a deploy would change anything (false exactly when it would say "nothing to deploy").
    pub changed: bool,
    /// Whether that deploy would start a service deployment (a new service or service revision, or
    /// `--force`); a change of deployment or service settings alone starts none.
    pub starts_service_deployment: bool,
    /// What a deploy would create (`service …`).
    pub creates: Vec<String>,
    pub task_definition: TaskDefinitionDiff,
    /// Each deployment setting that would change (from `""` for a service to be created).
    pub deployment_settings: Vec<Change>,
    pub service: ServiceDiff,
    /// Differences a deploy would not apply, and the like.
    pub notes: Vec<String>,
    /// What the checks found that does not stop a deploy.
    pub warnings: Vec<String>,
}

/// Compares a prepared native deploy with what runs, with read-only calls only.
pub async fn diff(p: &NativePrepared) -> Result<NativeDiff, Error> {
    let plan = &p.plan;
    let config = plan.config_path.display().to_string();
    let target = format!("{}/{}", plan.cluster, plan.service);
    let current = match &p.remote.service {
        NativeService::Missing => None,
        NativeService::Active {
            task_definition, ..
        } => task_definition.clone(),
    };
    let live = p.remote.live.as_ref();
    let found = TaskDefinitionFound {
        unchanged: p.remote.unchanged_task_definition.as_deref(),
        existing: p.remote.existing_task_definition.as_deref(),
        current: current.as_deref(),
    };
    let task_definition =
        task_definition_against(&p.aws.ecs, &plan.task_definition, found, &config, &target).await?;
    let mut notes = Vec::new();
    let (creates, deployment_settings, service) = match live {
        None => (
            vec![format!("service {target}")],
            // Every setting of a service to be created, from nothing (and none that it leaves empty).
            settings_changes(&p.desired, None, p)
                .into_iter()
                .filter(|c| !matches!(c.to.as_str(), "[]" | "(none)"))
                .map(|c| Change {
                    from: String::new(),
                    ..c
                })
                .collect(),
            ServiceDiff {
                action: "create",
                changes: Vec::new(),
                create: Some(new_service(p, &target)),
            },
        ),
        Some(live) => {
            let others = service_changes(p, live);
            // The deploy's own test (`up_to_date`): then it sends no UpdateService at all.
            let deploying = !p.up_to_date;
            // Without a new revision the update starts no service deployment (ECS starts none for
            // deployment or service settings alone).
            if deploying && !p.starts_deployment && !plan.force {
                notes.push(format!(
                    "a deploy would update service {target}'s settings ({}) without a service deployment",
                    p.settings_only_changes().join(", ")
                ));
            }
            (
                Vec::new(),
                settings_changes(&p.desired, Some(live), p),
                ServiceDiff {
                    action: if deploying { "deploy" } else { "none" },
                    changes: if deploying { others } else { Vec::new() },
                    create: None,
                },
            )
        }
    };
    // The deploy's own rule, not a sum of the parts: the parts only say why.
    let changed = live.is_none() || !p.up_to_date;
    let starts_service_deployment = changed && (p.starts_deployment || plan.force);
    // A deploy no part above explains: said, never left as an empty diff with exit 1.
    if changed
        && live.is_some()
        && !task_definition.changed
        && deployment_settings.is_empty()
        && service.changes.is_empty()
    {
        notes.push(format!(
            "the settings of service {target} differ from the config's as a deploy compares them: a \
             deploy would {}",
            if starts_service_deployment {
                "start a service deployment"
            } else {
                "update the service without a service deployment"
            }
        ));
    }
    Ok(NativeDiff {
        config,
        cluster: plan.cluster.clone(),
        service_name: plan.service.clone(),
        controller: "ECS",
        changed,
        starts_service_deployment,
        creates,
        task_definition,
        deployment_settings,
        service,
        notes,
        warnings: p.remote.warnings.clone(),
    })
}

fn new_service(p: &NativePrepared, target: &str) -> String {
    let sd = &p.plan.service_definition;
    let lb = p.desired.load_balancers().first();
    let serving = lb.and_then(LoadBalancer::target_group_arn).unwrap_or("");
    let alternate = lb
        .and_then(LoadBalancer::advanced_configuration)
        .and_then(|a| a.alternate_target_group_arn())
        .unwrap_or("");
    format!(
        "would create service {target} (ECS controller, {}, {} task(s), container {}:{} behind {}, alternate {})",
        p.plan.ecs.strategy.as_str(),
        sd.desired_count(),
        sd.container_name(),
        sd.container_port(),
        tg_name(serving),
        tg_name(alternate),
    )
}

/// The deployment settings that differ, each compared as `same_settings` compares it: a field differs
/// here exactly when it makes `same_settings` false.
fn settings_changes(
    want: &CreateServiceInput,
    live: Option<&Service>,
    p: &NativePrepared,
) -> Vec<Change> {
    let w = want.deployment_configuration();
    let l = live.and_then(Service::deployment_configuration);
    let (wj, lj) = (dc_json(w), dc_json(l));
    let mut out = Vec::new();
    let fields: [(&str, bool); 6] = [
        (
            "strategy",
            w.and_then(|d| d.strategy()) == l.and_then(|d| d.strategy()),
        ),
        (
            "bakeTimeInMinutes",
            w.and_then(|d| d.bake_time_in_minutes()) == l.and_then(|d| d.bake_time_in_minutes()),
        ),
        (
            "linearConfiguration",
            w.and_then(|d| d.linear_configuration()) == l.and_then(|d| d.linear_configuration()),
        ),
        (
            "canaryConfiguration",
            w.and_then(|d| d.canary_configuration()) == l.and_then(|d| d.canary_configuration()),
        ),
        (
            "lifecycleHooks",
            w.map(|d| d.lifecycle_hooks()) == l.map(|d| d.lifecycle_hooks()),
        ),
        (
            "alarms",
            w.and_then(|d| d.alarms()) == l.and_then(|d| d.alarms()),
        ),
    ];
    for (field, same) in fields {
        if !same {
            value_changes(field, lj.get(field), wj.get(field), &mut out);
        }
    }
    let (wp, lp) = (
        want.load_balancers().first().map(|lb| pair(lb, p)),
        live.and_then(|s| s.load_balancers().first())
            .map(|lb| pair(lb, p)),
    );
    let none = Pair::default();
    let (wp, lp) = (wp.unwrap_or_default(), lp.unwrap_or(none));
    for (field, from, to) in [
        (
            "target group pair",
            lp.groups.join(", "),
            wp.groups.join(", "),
        ),
        (
            "advancedConfiguration.productionListenerRule",
            lp.production,
            wp.production,
        ),
        ("advancedConfiguration.testListenerRule", lp.test, wp.test),
        ("advancedConfiguration.roleArn", lp.role, wp.role),
    ] {
        if from != to {
            out.push(Change {
                field: field.to_string(),
                from: shown(from),
                to: shown(to),
            });
        }
    }
    out
}

/// The load balancer settings `same_settings` compares: the pair (in either role, since ECS swaps them
/// after each deployment), the rules and the role.
#[derive(Default, PartialEq)]
struct Pair {
    groups: Vec<String>,
    production: String,
    test: String,
    role: String,
}

fn pair(lb: &LoadBalancer, p: &NativePrepared) -> Pair {
    let adv = lb.advanced_configuration();
    let name = |arn: &str| {
        p.remote
            .target_groups
            .iter()
            .find(|(_, a)| a == arn)
            .map_or_else(|| tg_name(arn).to_string(), |(n, _)| n.clone())
    };
    let mut groups = vec![
        name(lb.target_group_arn().unwrap_or_default()),
        name(
            adv.and_then(|a| a.alternate_target_group_arn())
                .unwrap_or_default(),
        ),
    ];
    groups.sort();
    Pair {
        groups,
        production: adv
            .and_then(|a| a.production_listener_rule())
            .unwrap_or_default()
            .to_string(),
        test: adv
            .and_then(|a| a.test_listener_rule())
            .unwrap_or_default()
            .to_string(),
        role: adv
            .and_then(|a| a.role_arn())
            .unwrap_or_default()
            .to_string(),
    }
}

/// A target group's name from its ARN (`…:targetgroup/NAME/ID`), else the ARN as it is.
fn tg_name(arn: &str) -> &str {
    arn.split(":targetgroup/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(arn)
}

fn shown(s: String) -> String {
    if s.is_empty() { "(none)".into() } else { s }
}

fn dc_json(dc: Option<&DeploymentConfiguration>) -> Value {
    dc.and_then(|d| codec::encode(d).ok())
        .unwrap_or_else(|| json!({}))
}

/// The changes between two values of one field, one per leaf (`linearConfiguration.stepPercent`,
/// `lifecycleHooks[0].lifecycleStages`); a list of plain values is one leaf. When the JSON compares
/// equal although the SDK's values do not (an empty list against none), the field as a whole.
fn value_changes(field: &str, from: Option<&Value>, to: Option<&Value>, out: &mut Vec<Change>) {
    let before = out.len();
    leaves(
        field,
        from.unwrap_or(&Value::Null),
        to.unwrap_or(&Value::Null),
        out,
    );
    if out.len() == before {
        out.push(Change {
            field: field.to_string(),
            from: from.map_or_else(|| "(none)".into(), leaf_text),
            to: to.map_or_else(|| "(none)".into(), leaf_text),
        });
    }
}

fn leaves(path: &str, from: &Value, to: &Value, out: &mut Vec<Change>) {
    let object_or_none = |v: &Value| v.is_object() || v.is_null();
    if (from.is_object() || to.is_object()) && object_or_none(from) && object_or_none(to) {
        let empty = serde_json::Map::new();
        let (a, b) = (
            from.as_object().unwrap_or(&empty),
            to.as_object().unwrap_or(&empty),
        );
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let (x, y) = (
                a.get(k).unwrap_or(&Value::Null),
                b.get(k).unwrap_or(&Value::Null),
            );
            leaves(&format!("{path}.{k}"), x, y, out);
        }
        return;
    }
    let nested = |v: &Value| v.as_array().is_some_and(|a| !plain(a));
    let list_or_none = |v: &Value| v.is_array() || v.is_null();
    if (nested(from) || nested(to)) && list_or_none(from) && list_or_none(to) {
        let (a, b): (&[Value], &[Value]) = (
            from.as_array().map_or(&[], Vec::as_slice),
            to.as_array().map_or(&[], Vec::as_slice),
        );
        for i in 0..a.len().max(b.len()) {
            let (x, y) = (
                a.get(i).unwrap_or(&Value::Null),
                b.get(i).unwrap_or(&Value::Null),
            );
            leaves(&format!("{path}[{i}]"), x, y, out);
        }
        return;
    }
    if from != to {
        out.push(Change {
            field: path.to_string(),
            // A setting the service does not have yet: only added (the `+` line).
            from: if from.is_null() {
                String::new()
            } else {
                leaf_text(from)
            },
            to: leaf_text(to),
        });
    }
}

/// A list of strings or numbers, shown as one value.
fn plain(items: &[Value]) -> bool {
    items.iter().all(|v| !v.is_object() && !v.is_array())
}

fn leaf_text(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if plain(items) => {
            items.iter().map(leaf_text).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// The settings besides the deployment configuration that UpdateService sends (as `steps.rs` does), each
/// where the service definition says it and it differs from the live service: the revision settings
/// (a change there is a deploy, as [`revision`] says), then desired count (with `sync_desired_count`),
/// health check grace period and ECS Exec.
fn service_changes(p: &NativePrepared, live: &Service) -> Vec<Change> {
    let want = &p.desired;
    let mut found = revision::revision_changes(want, live);
    found.extend(revision::service_setting_changes(
        want,
        live,
        p.plan.sync_desired_count,
    ));
    let mut out = Vec::new();
    for c in found {
        value_changes(c.field, Some(&c.from), Some(&c.to), &mut out);
    }
    out
}

impl NativeDiff {
    /// The diff as text: a `--- current` / `+++ <config>` section for each part that would change.
    pub fn text(&self) -> String {
        let target = format!("{}/{}", self.cluster, self.service_name);
        let mut out = String::new();
        self.task_definition.write_text(&mut out, &self.config);
        if !self.deployment_settings.is_empty() {
            let current = if self.service.create.is_some() {
                format!("deployment settings of service {target} (none: a deploy creates it)")
            } else {
                format!("deployment settings of service {target}")
            };
            let _ = writeln!(
                out,
                "--- current: {current}\n+++ {}: ecs: deployment settings",
                self.config
            );
            changes(&mut out, &self.deployment_settings);
        }
        let unexplained = (self.changed
            && self.service.action == "deploy"
            && !self.task_definition.changed
            && self.deployment_settings.is_empty()
            && self.service.changes.is_empty())
        .then(|| self.notes.last())
        .flatten();
        self.service.write_text(
            &mut out,
            &self.config,
            &target,
            unexplained.map(String::as_str),
        );
        out
    }

    /// One line for people: what a deploy would do.
    pub fn summary(&self) -> String {
        let target = format!("{}/{}", self.cluster, self.service_name);
        if !self.changed {
            return format!("{target}: nothing would change");
        }
        if self.service.action == "create" {
            return format!(
                "{target}: a deploy would create service {target} with the ECS controller and follow its first service deployment"
            );
        }
        let mut parts = Vec::new();
        if self.task_definition.changed {
            parts.push(match &self.task_definition.current {
                Some(arn) => format!("replace task definition {}", short_arn(arn)),
                None => "register the task definition".into(),
            });
        }
        let n = self.deployment_settings.len();
        if n > 0 {
            parts.push(format!(
                "change {n} deployment setting{}",
                if n == 1 { "" } else { "s" }
            ));
        }
        for c in &self.service.changes {
            parts.push(format!("change {}", c.field));
        }
        if self.starts_service_deployment {
            parts.push("start a service deployment".into());
        } else {
            parts.push("start no service deployment (ECS starts none for these)".into());
        }
        format!("{target}: a deploy would {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes_of(from: Value, to: Value) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        value_changes("x", Some(&from), Some(&to), &mut out);
        out.into_iter().map(|c| (c.field, c.from, c.to)).collect()
    }

    #[test]
    fn a_field_shows_as_its_changed_leaves() {
        assert_eq!(
            changes_of(
                json!({"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}),
                json!({"stepPercent": 20.0, "stepBakeTimeInMinutes": 6})
            ),
            vec![("x.stepPercent".into(), "10.0".into(), "20.0".into())]
        );
        assert_eq!(
            changes_of(
                json!([{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}]),
                json!([{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP", "BAKE_TIME"]}])
            ),
            vec![(
                "x[0].lifecycleStages".into(),
                "POST_SCALE_UP".into(),
                "POST_SCALE_UP, BAKE_TIME".into()
            )]
        );
        assert_eq!(
            changes_of(Value::Null, json!({"alarmNames": ["a"], "enable": true})),
            vec![
                ("x.alarmNames".into(), "".into(), "a".into()),
                ("x.enable".into(), "".into(), "true".into())
            ]
        );
    }

    #[test]
    fn values_equal_as_json_still_show_the_field() {
        assert_eq!(
            changes_of(json!([]), Value::Null),
            vec![("x".into(), "[]".into(), "(none)".into())]
        );
    }

    #[test]
    fn settings_compare_without_what_aws_fills_in() {
        let live = json!({"awsvpcConfiguration": {"subnets": ["b", "a"], "securityGroups": [], "assignPublicIp": "DISABLED"}});
        let file = json!({"awsvpcConfiguration": {"subnets": ["a", "b"]}});
        assert_eq!(revision::comparable(live), revision::comparable(file));
    }

    #[test]
    fn target_group_names_from_arns() {
        assert_eq!(
            tg_name("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-blue/abc"),
            "web-blue"
        );
        assert_eq!(tg_name(""), "");
    }

    #[test]
    fn a_removed_setting_shows_what_it_was() {
        assert_eq!(
            changes_of(json!({"alarmNames": ["a"]}), Value::Null),
            vec![("x.alarmNames".into(), "a".into(), "(none)".into())]
        );
    }
}
