//! `--dry-run`: what a deploy would do, after every check, with nothing changed. Both `Serialize` (for
//! `--output json`) and `Display` (for people).

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::appspec;
use crate::deploy::{Prepared, short_arn};
use crate::group::{Change, GroupSettings};
use crate::outcome::Image;
use crate::plan::{GroupDrift, WaitMode, WaitOptions};
use crate::preflight::ServiceState;

#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub dry_run: bool,
    pub config: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub cluster: String,
    pub service: String,
    pub application: NamedAction,
    pub deployment_group: GroupPreview,
    pub task_definition: TaskDefinitionPreview,
    pub service_action: ServicePreview,
    /// The AppSpec a deployment would use (the task definition ARN is known once it is registered).
    pub appspec: Option<Value>,
    pub wait: WaitOptions,
    pub notifications: Vec<&'static str>,
    /// What the checks found that does not stop the deploy.
    pub warnings: Vec<String>,
    /// The gate a deployment would pass at Ready (config `gate:`).
    pub gate: Option<GatePreview>,
    /// The task a deployment (or a new service) would wait for (config `before_switch:`), its container
    /// resolved.
    pub before_switch: Option<crate::config::before_switch::BeforeSwitch>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GatePreview {
    pub test_url: Option<String>,
    /// The HTTP checks, said for a person (`GET /health → 200`), with their request counts.
    pub checks: Vec<String>,
    pub command: Option<String>,
    pub approve: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct NamedAction {
    pub name: String,
    /// `create` or `keep`.
    pub action: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupPreview {
    pub name: String,
    /// `create`, `update`, `keep`, or `drift` (differs from the config and is left as it is:
    /// `--group-drift warn`).
    pub action: &'static str,
    pub changes: Vec<Change>,
    pub settings: GroupSettings,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskDefinitionPreview {
    /// `register`, `use` (`--skip-task-definition`, `--revision`) or `unchanged` (already deployed).
    pub action: &'static str,
    pub family: String,
    pub arn: Option<String>,
    pub images: Vec<Image>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServicePreview {
    /// `create` (new CODE_DEPLOY service), `deploy` (Blue/Green deployment) or `none` (the service already
    /// runs this task definition).
    pub action: &'static str,
    pub desired_count: i32,
    pub container: String,
    pub container_port: i32,
    pub target_group: String,
    pub deployment_config: String,
    /// Changes to the existing service (its desired count).
    pub changes: Vec<Change>,
}

/// Stands in for the ARN a registration would return.
pub const TO_BE_REGISTERED: &str = "<task definition registered by this deploy>";

impl Preview {
    pub fn new(p: &Prepared) -> Preview {
        let plan = &p.plan;
        let images: Vec<Image> = plan
            .task_definition
            .images()
            .into_iter()
            .map(|(container, image)| Image { container, image })
            .collect();
        let creating = p.remote.service == ServiceState::Missing;
        let td_arn = p
            .remote
            .unchanged_task_definition
            .clone()
            .or_else(|| p.remote.existing_task_definition.clone());
        let nothing_to_deploy = p.remote.up_to_date.is_some() && !plan.force;
        let tg_arn = p.remote.initial_target_group_arn(plan);
        let target_group = p
            .remote
            .target_groups
            .iter()
            .find(|(_, a)| *a == tg_arn)
            .map(|(n, _)| n.clone())
            .unwrap_or(tg_arn);
        Preview {
            dry_run: true,
            config: plan.config_path.display().to_string(),
            region: p.aws.region.clone(),
            endpoint: p.aws.endpoint.clone(),
            cluster: plan.cluster.clone(),
            service: plan.service.clone(),
            application: NamedAction {
                name: plan.application.clone(),
                action: if p.remote.application_exists {
                    "keep"
                } else {
                    "create"
                },
            },
            deployment_group: GroupPreview {
                name: plan.deployment_group.clone(),
                action: match (
                    &p.remote.group,
                    p.group_changes.is_empty(),
                    plan.group_drift,
                ) {
                    (None, _, _) => "create",
                    (Some(_), true, _) => "keep",
                    // --group-drift warn deploys with the group as it is: nothing would be updated.
                    (Some(_), false, GroupDrift::Warn) => "drift",
                    (Some(_), false, _) => "update",
                },
                changes: p.group_changes.clone(),
                settings: p.desired_group.clone(),
            },
            task_definition: TaskDefinitionPreview {
                action: if p.remote.unchanged_task_definition.is_some() {
                    "unchanged"
                } else if td_arn.is_some() {
                    "use"
                } else {
                    "register"
                },
                family: plan.task_definition.family().to_string(),
                arn: td_arn.clone(),
                images,
            },
            service_action: ServicePreview {
                action: if creating {
                    "create"
                } else if nothing_to_deploy {
                    "none"
                } else {
                    "deploy"
                },
                desired_count: plan.service_definition.desired_count(),
                container: plan.service_definition.container_name().to_string(),
                container_port: plan.service_definition.container_port(),
                target_group,
                deployment_config: plan.codedeploy.deployment_config.clone(),
                changes: p
                    .desired_count_change()
                    .into_iter()
                    .chain(p.settings_changes())
                    .collect(),
            },
            appspec: (!creating && !nothing_to_deploy).then(|| {
                appspec::build(
                    td_arn.as_deref().unwrap_or(TO_BE_REGISTERED),
                    &plan.service_definition,
                    &plan.codedeploy.hooks,
                )
            }),
            wait: plan.wait.clone(),
            notifications: p.notifier.enabled(),
            warnings: p.remote.warnings.clone(),
            gate: plan.gate.as_ref().map(|g| GatePreview {
                test_url: p.test_url.clone(),
                checks: g
                    .http
                    .iter()
                    .map(|c| format!("{} ×{}", c.said(), c.requests))
                    .collect(),
                command: g.command.clone(),
                approve: g.approve,
            }),
            before_switch: plan.before_switch.as_ref().map(|b| {
                crate::config::before_switch::BeforeSwitch {
                    container: Some(b.container_name(&plan.service_definition).to_string()),
                    ..b.clone()
                }
            }),
        }
    }
}

fn would(action: &str) -> &'static str {
    match action {
        "create" => "would create",
        "update" => "would update",
        "drift" => "differs from the config, would be left as it is (--group-drift warn)",
        "register" => "would register",
        "use" => "would use",
        _ => "unchanged",
    }
}

impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let images: Vec<String> = self
            .task_definition
            .images
            .iter()
            .map(|i| format!("{}={}", i.container, i.image))
            .collect();
        writeln!(f, "Dry run of {}: nothing was changed.", self.config)?;
        write!(
            f,
            "  target            {}/{} in {}",
            self.cluster, self.service, self.region
        )?;
        if let Some(e) = &self.endpoint {
            write!(f, " (endpoint {e})")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  application       {}: {}",
            self.application.name,
            would(self.application.action)
        )?;
        writeln!(
            f,
            "  deployment group  {}: {}",
            self.deployment_group.name,
            would(self.deployment_group.action)
        )?;
        for c in &self.deployment_group.changes {
            writeln!(f, "                      {c}")?;
        }
        let td = match &self.task_definition.arn {
            Some(arn) => short_arn(arn).to_string(),
            None => self.task_definition.family.clone(),
        };
        writeln!(
            f,
            "  task definition   {td}: {} ({})",
            would(self.task_definition.action),
            images.join(", ")
        )?;
        let s = &self.service_action;
        for c in &s.changes {
            writeln!(f, "  service           {}: would update {c}", self.service)?;
        }
        match s.action {
            "create" => writeln!(
                f,
                "  service           {}: would create (CODE_DEPLOY controller, {} task(s), container {}:{} behind {})",
                self.service, s.desired_count, s.container, s.container_port, s.target_group
            )?,
            "none" => writeln!(
                f,
                "  deployment        none: the service already runs this task definition"
            )?,
            _ => writeln!(
                f,
                "  deployment        would create a Blue/Green deployment of {} ({}, container {}:{})",
                self.service, s.deployment_config, s.container, s.container_port
            )?,
        }
        if s.action != "none" {
            let wait = match &self.wait.mode {
                WaitMode::Complete => "until it ends".to_string(),
                WaitMode::NoWait => "no".to_string(),
                WaitMode::Until(e) => format!("until {e} succeeds"),
            };
            write!(f, "  wait              {wait}")?;
            if let Some(t) = self.wait.timeout {
                write!(f, " (timeout {})", humanize(t.as_secs()))?;
            }
            writeln!(f)?;
        }
        if let Some(b) = self.before_switch.as_ref().filter(|_| s.action != "none") {
            writeln!(
                f,
                "  before switch     would run `{}` in container {} with the new task definition (RunTask) and create the {} only once it exits 0",
                b.command_said(),
                b.container.as_deref().unwrap_or_default(),
                if s.action == "create" {
                    "service"
                } else {
                    "deployment"
                }
            )?;
        }
        if let Some(g) = self.gate.as_ref().filter(|_| s.action == "deploy") {
            let mut what = g.checks.clone();
            what.extend(g.command.iter().map(|c| format!("command `{c}`")));
            let approve = if g.approve {
                ", then wait for approval (kirikae promote)"
            } else {
                ""
            };
            writeln!(
                f,
                "  gate              at Ready, through {}: {}{approve}; production moves only when it passes",
                g.test_url.as_deref().unwrap_or("the test listener"),
                if what.is_empty() {
                    "no checks".to_string()
                } else {
                    what.join(", ")
                }
            )?;
        }
        if !self.notifications.is_empty() {
            writeln!(f, "  notifications     {}", self.notifications.join(", "))?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

fn humanize(secs: u64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
