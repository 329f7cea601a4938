//! `kirikae diff`: what a deploy would change, field by field, against what runs. It starts from the
//! same [`Prepared`] deploy as `--dry-run` (every check passed, nothing changed) and compares:
//!
//! - the task definition: the file's (templated, `--image` applied), or the revision
//!   `--skip-task-definition` / `--revision` picks, against the one the service runs, as a unified diff
//!   of both in one shape ([`normalize`]). When the deploy would find nothing to deploy (the
//!   `kirikae:spec-sha256` tag matches), there is no task definition change, whatever ECS reports;
//! - the deployment group: [`Prepared::group_changes`], or every setting of a group to be created;
//! - the service: created, or what UpdateService changes on it (desired count with
//!   `sync_desired_count`, health check grace period, managed tags, tag propagation);
//! - the AppSpec inputs (container name and port, platform version, network configuration, capacity
//!   provider strategy, hooks) against the AppSpec of the group's last successful deployment, or, before
//!   any deployment, against the service as it was created. A deploy creates a deployment for them
//!   when they differ from those recorded on the service (`kirikae:appspec-sha256`), even with the same
//!   task definition.
//!
//! Only read-only calls: DescribeTaskDefinition, GetDeploymentGroup, BatchGetDeployments,
//! DescribeServices, and (when AWS answers an AppSpec revision by its hash only) GetApplicationRevision.

pub mod native;
pub mod normalize;

use std::fmt::Write as _;

use aws_sdk_codedeploy::types::{
    AutoRollbackEvent, DeploymentReadyAction, InstanceAction, RevisionLocationType,
};
use aws_sdk_ecs::types::TaskDefinitionField;
use serde::Serialize;
use serde_json::{Value, json};

use crate::appspec;
use crate::aws::failed;
use crate::definitions::codec;
use crate::deploy::{Prepared, short_arn};
use crate::error::Error;
use crate::group::{Change, GroupSettings};
use crate::preflight::ServiceState;

/// What one config's deploy would change.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub config: String,
    pub cluster: String,
    pub service_name: String,
    /// Whether a deploy would change anything.
    pub changed: bool,
    /// What a deploy would create (`application …`, `deployment group …`, `service …`).
    pub creates: Vec<String>,
    pub task_definition: TaskDefinitionDiff,
    /// Each setting of the deployment group that would change (from `""` for a group to be created).
    pub deployment_group: Vec<Change>,
    pub deployment_group_name: String,
    pub service: ServiceDiff,
    pub appspec: AppSpecDiff,
    /// What the checks found that does not stop a deploy.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskDefinitionDiff {
    /// Whether a deploy would register (or use) a task definition other than the one running.
    pub changed: bool,
    /// `--- current` / `+++ <config>` and the hunks; empty when the two compare equal.
    pub unified_diff: String,
    /// The ARN the service runs.
    pub current: Option<String>,
    /// What would be deployed: the ARN for `--skip-task-definition` / `--revision`, else the file.
    pub wanted: String,
    /// Why `changed` holds while `unified_diff` is empty, or the like.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceDiff {
    /// `create` (a new service), `deploy` (a Blue/Green deployment would replace its tasks) or `none`.
    pub action: &'static str,
    /// Changes UpdateService would make to the existing service (desired count, health check grace
    /// period, managed tags, tag propagation).
    pub changes: Vec<Change>,
    /// For a new service: how it would be created.
    pub create: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppSpecDiff {
    /// Whether the deployment a deploy creates would run with other AppSpec inputs than the last one.
    pub changed: bool,
    pub unified_diff: String,
    /// The deployment whose AppSpec was compared (none: the service as created, or nothing compared).
    pub last_deployment: Option<String>,
    /// Why nothing was compared, or why a difference would not be applied.
    pub note: Option<String>,
}

/// Compares a prepared deploy with what runs, with read-only calls only.
pub async fn diff(p: &Prepared) -> Result<Diff, Error> {
    let plan = &p.plan;
    let config = plan.config_path.display().to_string();
    let target = format!("{}/{}", plan.cluster, plan.service);
    let (creating, current) = match &p.remote.service {
        ServiceState::Missing => (true, None),
        ServiceState::Active {
            task_definition, ..
        } => (false, task_definition.clone()),
    };
    // A Blue/Green deployment is what replaces an existing service's tasks: for another task definition,
    // or other AppSpec inputs (the deploy's own test).
    let deploying = !creating && p.remote.up_to_date.is_none();

    let mut creates = Vec::new();
    if !p.remote.application_exists {
        creates.push(format!("application {}", plan.application));
    }
    if p.remote.group.is_none() {
        creates.push(format!("deployment group {}", plan.deployment_group));
    }
    if creating {
        creates.push(format!("service {target}"));
    }

    let task_definition = task_definition_diff(p, current.as_deref(), &config, &target).await?;
    let deployment_group = match &p.remote.group {
        Some(_) => p.group_changes.clone(),
        None => new_group(&p.desired_group),
    };
    let service = ServiceDiff {
        action: if creating {
            "create"
        } else if deploying {
            "deploy"
        } else {
            "none"
        },
        changes: p
            .desired_count_change()
            .into_iter()
            .chain(p.settings_changes())
            .collect(),
        create: creating.then(|| {
            let sd = &plan.service_definition;
            format!(
                "would create service {target} (CODE_DEPLOY controller, {} task(s), container {}:{} behind {})",
                sd.desired_count(),
                sd.container_name(),
                sd.container_port(),
                p.tg_name(&p.remote.initial_target_group_arn(plan))
            )
        }),
    };
    let appspec = if creating || p.remote.group.is_none() {
        AppSpecDiff {
            changed: false,
            unified_diff: String::new(),
            last_deployment: None,
            note: None,
        }
    } else {
        appspec_diff(p, deploying, &config, &target).await
    };
    let changed = !creates.is_empty()
        || task_definition.changed
        || !deployment_group.is_empty()
        || service.action != "none"
        || !service.changes.is_empty()
        || appspec.changed;
    Ok(Diff {
        config,
        cluster: plan.cluster.clone(),
        service_name: plan.service.clone(),
        changed,
        creates,
        task_definition,
        deployment_group,
        deployment_group_name: plan.deployment_group.clone(),
        service,
        appspec,
        warnings: p.remote.warnings.clone(),
    })
}

async fn task_definition_diff(
    p: &Prepared,
    current: Option<&str>,
    config: &str,
    target: &str,
) -> Result<TaskDefinitionDiff, Error> {
    let found = TaskDefinitionFound {
        unchanged: p.remote.unchanged_task_definition.as_deref(),
        existing: p.remote.existing_task_definition.as_deref(),
        current,
    };
    task_definition_against(&p.aws.ecs, &p.plan.task_definition, found, config, target).await
}

/// What the checks found about the task definitions, as both controllers' preflights report it.
pub(crate) struct TaskDefinitionFound<'a> {
    /// The running revision, when a deploy would keep it (the file's content, or the revision asked for).
    pub unchanged: Option<&'a str>,
    /// The registered revision `--skip-task-definition` / `--revision` picks.
    pub existing: Option<&'a str>,
    /// The revision the service runs.
    pub current: Option<&'a str>,
}

/// The task definition part of a diff, for either controller.
pub(crate) async fn task_definition_against(
    ecs: &aws_sdk_ecs::Client,
    td: &crate::definitions::TaskDefinition,
    found: TaskDefinitionFound<'_>,
    config: &str,
    target: &str,
) -> Result<TaskDefinitionDiff, Error> {
    let current = found.current;
    let file = format!("task definition {} ({})", td.family(), td.path.display());
    // The deploy's own test: the running revision was registered from exactly this file (or is the
    // revision asked for). The deploy keeps it, so there is nothing to show.
    if let Some(arn) = found.unchanged {
        return Ok(TaskDefinitionDiff {
            changed: false,
            unified_diff: String::new(),
            current: Some(arn.to_string()),
            wanted: match found.existing {
                Some(_) => arn.to_string(),
                None => file,
            },
            note: None,
        });
    }
    let (wanted_json, wanted, new_label) = match found.existing {
        Some(arn) => (
            describe(ecs, arn).await?,
            arn.to_string(),
            format!("{config}: task definition {}", short_arn(arn)),
        ),
        None => {
            let json = codec::encode(&td.input).unwrap_or_else(|_| td.json.clone());
            (json, file.clone(), format!("{config}: {file}"))
        }
    };
    let (current_text, old_label) = match current {
        Some(arn) => (
            normalize::pretty(&normalize::task_definition(&describe(ecs, arn).await?)),
            format!("current: task definition {}", short_arn(arn)),
        ),
        None => (
            String::new(),
            format!("current: task definition (none: service {target} does not exist)"),
        ),
    };
    let wanted_text = normalize::pretty(&normalize::task_definition(&wanted_json));
    let unified_diff = unified(&current_text, &wanted_text, &old_label, &new_label);
    let note = match (current, unified_diff.is_empty()) {
        (Some(arn), true) if found.existing.is_some() => Some(format!(
            "{} has the same fields as {}: a deploy would deploy it all the same",
            short_arn(&wanted),
            short_arn(arn)
        )),
        (Some(arn), true) => Some(format!(
            "{} has the same fields as the file, but kirikae did not register it from this file \
             (no matching kirikae:spec-sha256 tag): a deploy would register the file and deploy it",
            short_arn(arn)
        )),
        _ => None,
    };
    Ok(TaskDefinitionDiff {
        changed: true,
        unified_diff,
        current: current.map(str::to_string),
        wanted,
        note,
    })
}

/// A registered task definition as API JSON, with its tags.
async fn describe(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<Value, Error> {
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeTaskDefinition", e))?;
    let mut json = match out.task_definition() {
        Some(td) => codec::encode(td).map_err(|e| Error::Conflict {
            message: format!("cannot read task definition {arn} as JSON: {e}"),
            hint: None,
        })?,
        None => json!({}),
    };
    let tags: Vec<Value> = out
        .tags()
        .iter()
        .map(|t| json!({"key": t.key(), "value": t.value()}))
        .collect();
    if !tags.is_empty()
        && let Some(obj) = json.as_object_mut()
    {
        obj.insert("tags".into(), Value::Array(tags));
    }
    Ok(json)
}

/// Every setting of a group to be created, as changes from nothing.
fn new_group(desired: &GroupSettings) -> Vec<Change> {
    let blank = GroupSettings {
        service_role_arn: String::new(),
        deployment_config: String::new(),
        target_groups: Vec::new(),
        production_listener: String::new(),
        test_listener: None,
        termination_action: InstanceAction::from(""),
        termination_wait_minutes: -1,
        ready_action: DeploymentReadyAction::from(""),
        ready_wait_minutes: -1,
        auto_rollback_events: Vec::<AutoRollbackEvent>::new(),
        alarms_enabled: false,
        alarms: Vec::new(),
        ignore_poll_alarm_failure: false,
        cluster: String::new(),
        service: String::new(),
    };
    blank
        .diff(desired)
        .into_iter()
        .map(|c| Change {
            from: String::new(),
            ..c
        })
        .collect()
}

async fn appspec_diff(p: &Prepared, deploying: bool, config: &str, target: &str) -> AppSpecDiff {
    let plan = &p.plan;
    let (sd, hooks) = (&plan.service_definition, &plan.codedeploy.hooks);
    let recorded = match &p.remote.service {
        ServiceState::Active {
            deployed_inputs, ..
        } => deployed_inputs.clone(),
        ServiceState::Missing => None,
    };
    let inputs_differ = recorded.as_deref() != Some(appspec::inputs_hash(sd, hooks).as_str());
    let why_deploy = || match &recorded {
        None => format!(
            "service {target} records no AppSpec inputs (no {} tag): a deploy would create a \
             Blue/Green deployment to apply them",
            appspec::INPUTS_TAG
        ),
        Some(_) => format!(
            "the AppSpec inputs differ from those recorded on service {target} ({}): a deploy \
             would create a Blue/Green deployment with them",
            appspec::INPUTS_TAG
        ),
    };
    let none = |why: String| AppSpecDiff {
        changed: false,
        unified_diff: String::new(),
        last_deployment: None,
        note: Some(if deploying && inputs_differ {
            format!("{why}; {}", why_deploy())
        } else {
            why
        }),
    };
    let mut wanted = normalize::appspec(&appspec::build("", sd, hooks));
    let (current, old_label, last_deployment) = match last_appspec(p).await {
        Ok(Some((id, doc))) => (
            normalize::appspec(&doc),
            format!("current: AppSpec of deployment {id} (task definition left out)"),
            Some(id),
        ),
        // Before any deployment, the service is as it was created; a service knows no hooks.
        Ok(None) => match service_inputs(p).await {
            Ok(v) => {
                if let Some(w) = wanted.as_object_mut() {
                    w.remove("Hooks");
                }
                (
                    v,
                    format!(
                        "current: service {target} as created (no deployment yet; hooks left out)"
                    ),
                    None,
                )
            }
            Err(why) => return none(format!("the AppSpec inputs were not compared: {why}")),
        },
        Err(why) => {
            return none(format!(
                "the last deployment's AppSpec was not compared: {why}"
            ));
        }
    };
    let unified_diff = unified(
        &normalize::pretty(&current),
        &normalize::pretty(&wanted),
        &old_label,
        &format!("{config}: AppSpec"),
    );
    let differs = !unified_diff.is_empty();
    let note = match (differs, deploying) {
        (true, false) => Some(
            "the AppSpec inputs differ from those compared, but a deploy would not apply them: \
             the service runs this task definition with the AppSpec inputs recorded on it \
             (deploy --force would)"
                .to_string(),
        ),
        (false, true) if inputs_differ && p.remote.unchanged_task_definition.is_some() => {
            Some(why_deploy())
        }
        _ => None,
    };
    AppSpecDiff {
        changed: differs && deploying,
        unified_diff,
        last_deployment,
        note,
    }
}

/// The AppSpec inputs of the service as it is (DescribeServices), in the shape [`normalize::appspec`]
/// gives: what a service that has had no deployment yet runs with.
async fn service_inputs(p: &Prepared) -> Result<Value, String> {
    let out = p
        .aws
        .ecs
        .describe_services()
        .cluster(&p.plan.cluster)
        .services(&p.plan.service)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServices", e).to_string())?;
    let svc = out
        .services()
        .first()
        .ok_or_else(|| format!("service {} is gone", p.plan.service))?;
    let mut props = serde_json::Map::new();
    if let Some(lb) = svc.load_balancers().first() {
        props.insert(
            "LoadBalancerInfo".into(),
            json!({"ContainerName": lb.container_name(), "ContainerPort": lb.container_port()}),
        );
    }
    if let Some(pv) = svc.platform_version() {
        props.insert("PlatformVersion".into(), json!(pv));
    }
    if let Some(vpc) = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
    {
        props.insert(
            "NetworkConfiguration".into(),
            json!({"AwsvpcConfiguration": {
                "Subnets": vpc.subnets(),
                "SecurityGroups": vpc.security_groups(),
                "AssignPublicIp": vpc.assign_public_ip().map(|a| a.as_str()),
            }}),
        );
    }
    let strategy: Vec<Value> = svc
        .capacity_provider_strategy()
        .iter()
        .map(|s| json!({"CapacityProvider": s.capacity_provider(), "Base": s.base(), "Weight": s.weight()}))
        .collect();
    props.insert("CapacityProviderStrategy".into(), Value::Array(strategy));
    let doc = json!({"Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}]});
    Ok(normalize::appspec(&doc))
}

/// The AppSpec of the group's last successful deployment, parsed; `Ok(None)` when there is none yet,
/// `Err(why)` when it cannot be read (which only leaves this part out).
async fn last_appspec(p: &Prepared) -> Result<Option<(String, Value)>, String> {
    let plan = &p.plan;
    let cd = &p.aws.codedeploy;
    let group = cd
        .get_deployment_group()
        .application_name(&plan.application)
        .deployment_group_name(&plan.deployment_group)
        .send()
        .await
        .map_err(|e| failed("codedeploy:GetDeploymentGroup", e).to_string())?;
    let Some(id) = group
        .deployment_group_info()
        .and_then(|g| g.last_successful_deployment())
        .and_then(|d| d.deployment_id())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let out = cd
        .batch_get_deployments()
        .deployment_ids(&id)
        .send()
        .await
        .map_err(|e| failed("codedeploy:BatchGetDeployments", e).to_string())?;
    let Some(revision) = out
        .deployments_info()
        .first()
        .and_then(|d| d.revision())
        .cloned()
    else {
        return Err(format!("deployment {id} has no revision"));
    };
    let inline = |r: &aws_sdk_codedeploy::types::RevisionLocation| {
        r.app_spec_content()
            .and_then(|c| c.content())
            .or_else(|| r.string().and_then(|s| s.content()))
            .map(str::to_string)
    };
    if !matches!(
        revision.revision_type(),
        Some(RevisionLocationType::AppSpecContent | RevisionLocationType::String)
    ) {
        return Err(format!(
            "deployment {id}'s AppSpec is stored elsewhere ({})",
            revision
                .revision_type()
                .map(|t| t.as_str())
                .unwrap_or("unknown type")
        ));
    }
    let content = match inline(&revision) {
        Some(c) => c,
        // AWS may answer an inline revision by its hash only; the registered revision has the content.
        None => {
            let r = cd
                .get_application_revision()
                .application_name(&plan.application)
                .revision(revision)
                .send()
                .await
                .map_err(|e| failed("codedeploy:GetApplicationRevision", e).to_string())?;
            r.revision()
                .and_then(inline)
                .ok_or_else(|| format!("deployment {id}'s AppSpec has no content"))?
        }
    };
    let doc = serde_json::from_str::<Value>(&content)
        .or_else(|_| serde_yaml_ng::from_str::<Value>(&content))
        .map_err(|e| format!("deployment {id}'s AppSpec is neither JSON nor YAML: {e}"))?;
    Ok(Some((id, doc)))
}

/// A unified diff with `--- old` / `+++ new` headers; empty when the texts are equal.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

impl Diff {
    /// The diff as text: a `--- current` / `+++ <config>` section for each part that would change.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.task_definition.write_text(&mut out, &self.config);
        if !self.deployment_group.is_empty() {
            let name = &self.deployment_group_name;
            let creating = |what: &str| self.creates.iter().any(|c| c.starts_with(what));
            let current = match (creating("deployment group "), creating("application ")) {
                (true, true) => format!(
                    "deployment group {name} (none: a deploy creates it, and its CodeDeploy application)"
                ),
                (true, false) => format!("deployment group {name} (none: a deploy creates it)"),
                _ => format!("deployment group {name}"),
            };
            let _ = writeln!(
                out,
                "--- current: {current}\n+++ {}: deployment group {name}",
                self.config
            );
            changes(&mut out, &self.deployment_group);
        }
        // A deployment that no line above explains (the AppSpec inputs recorded on the service differ).
        let unexplained = (self.service.action == "deploy"
            && !self.task_definition.changed
            && !self.appspec.changed)
            .then_some(self.appspec.note.as_deref())
            .flatten();
        let target = format!("{}/{}", self.cluster, self.service_name);
        self.service
            .write_text(&mut out, &self.config, &target, unexplained);
        if self.appspec.changed {
            out.push_str(&self.appspec.unified_diff);
        }
        out
    }

    /// One line for people: what a deploy would do.
    pub fn summary(&self) -> String {
        let target = format!("{}/{}", self.cluster, self.service_name);
        if !self.changed {
            return format!("{target}: nothing would change");
        }
        let mut parts: Vec<String> = self.creates.iter().map(|c| format!("create {c}")).collect();
        if self.task_definition.changed && self.service.action != "create" {
            parts.push(match &self.task_definition.current {
                Some(arn) => format!("replace task definition {}", short_arn(arn)),
                None => "register the task definition".into(),
            });
        }
        if self.service.action != "create" {
            let n = self.deployment_group.len();
            if n > 0 {
                parts.push(format!(
                    "update the deployment group ({n} setting{})",
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
        for c in &self.service.changes {
            parts.push(format!("change the {} to {}", c.field, c.to));
        }
        if self.appspec.changed {
            parts.push("change the AppSpec inputs".into());
        }
        if self.service.action == "deploy" {
            parts.push("create a Blue/Green deployment".into());
        }
        format!("{target}: a deploy would {}", parts.join(", "))
    }
}

impl TaskDefinitionDiff {
    /// Its section of the text: the unified diff, or the note of a change the files do not show.
    pub(super) fn write_text(&self, out: &mut String, config: &str) {
        out.push_str(&self.unified_diff);
        if let Some(note) = self.note.as_ref().filter(|_| self.unified_diff.is_empty()) {
            let current = self.current.as_deref().unwrap_or_default();
            let _ = writeln!(
                out,
                "--- current: task definition {}\n+++ {config}: task definition\n# {note}",
                short_arn(current)
            );
        }
    }
}

impl ServiceDiff {
    /// Its section of the text (none when nothing would change and nothing is `unexplained`): the
    /// service a deploy creates, or each change, and why a deploy would happen when no line says it.
    pub(super) fn write_text(
        &self,
        out: &mut String,
        config: &str,
        target: &str,
        unexplained: Option<&str>,
    ) {
        if self.create.is_none() && self.changes.is_empty() && unexplained.is_none() {
            return;
        }
        let current = if self.create.is_some() {
            format!("service {target} (none)")
        } else {
            format!("service {target}")
        };
        let _ = writeln!(
            out,
            "--- current: {current}\n+++ {config}: service {target}"
        );
        if let Some(c) = &self.create {
            let _ = writeln!(out, "+{c}");
        }
        changes(out, &self.changes);
        if let Some(why) = unexplained {
            let _ = writeln!(out, "# {why}");
        }
    }
}

/// Each change as a `-field: from` (unless new) and a `+field: to` line.
pub(super) fn changes(out: &mut String, list: &[Change]) {
    for c in list {
        if !c.from.is_empty() {
            let _ = writeln!(out, "-{}: {}", c.field, c.from);
        }
        let _ = writeln!(out, "+{}: {}", c.field, c.to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff_and_a_change_has_headers_and_hunks() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "current", "new"), "");
        let d = unified("a\nb\nc\n", "a\nB\nc\n", "current: x", "kirikae.yml: x");
        assert_eq!(
            d,
            "--- current: x\n+++ kirikae.yml: x\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
    }
}
