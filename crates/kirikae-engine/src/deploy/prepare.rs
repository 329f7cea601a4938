//! Connect and check, changing nothing: a [`Prepared`] deploy.

use std::time::Duration;

use aws_sdk_codedeploy::types::DeploymentReadyAction;

use crate::connection::{Clients, Connection};
use crate::error::ConfigError;
use crate::error::Error;
use crate::group::{Change, GroupSettings};
use crate::notify::Notifier;
use crate::outcome::Image;
use crate::plan::{GroupDrift, Plan};
use crate::preflight::{self, Remote, ServiceState};
use crate::watch::pace::Waits;

/// A deploy whose inputs and AWS preconditions are checked; nothing has been changed yet.
#[derive(Debug)]
pub struct Prepared {
    pub plan: Plan,
    pub remote: Remote,
    pub aws: Clients,
    pub desired_group: GroupSettings,
    /// Differences between the existing deployment group and the config (empty when it is new).
    pub group_changes: Vec<Change>,
    pub notifier: Notifier,
    /// Where the gate reaches the test listener (only with a gate: [`crate::gate::url`]).
    pub test_url: Option<String>,
}

/// Connects and checks, without changing anything.
pub async fn prepare(plan: Plan, connection: &Connection) -> Result<Prepared, Error> {
    let aws = connection.connect(plan.region.as_deref()).await?;
    prepare_with(plan, aws).await
}

/// What `kirikae verify` says of one config: each check that passed, in order, what it warns about, and
/// the first check that failed.
#[derive(Debug)]
pub struct Verified {
    pub passed: Vec<String>,
    pub warnings: Vec<String>,
    pub failed: Option<Error>,
}

/// The read-only half of a deploy, reporting every check (nothing is changed, nothing kept).
pub async fn verify(plan: &Plan, connection: &Connection) -> Verified {
    let mut passed = vec![format!(
        "{} and its definitions are valid (family {}, container {}:{})",
        plan.config_path.display(),
        plan.task_definition.family(),
        plan.service_definition.container_name(),
        plan.service_definition.container_port()
    )];
    let aws = match connection.connect(plan.region.as_deref()).await {
        Ok(aws) => aws,
        Err(e) => {
            return Verified {
                passed,
                warnings: Vec::new(),
                failed: Some(e.into()),
            };
        }
    };
    match preflight::check_noting(plan, &aws, &mut passed).await {
        Ok(remote) => {
            // The gate's test listener, as a deploy finds it before any change.
            let gate = crate::gate::url::resolve(plan, remote.test_listener.as_deref(), &aws).await;
            let failed = match gate {
                Ok(Some(url)) => {
                    passed.push(format!("the gate reaches the test listener at {url}"));
                    None
                }
                Ok(None) => None,
                Err(e) => Some(e),
            };
            Verified {
                passed,
                warnings: remote.warnings,
                failed,
            }
        }
        Err(e) => Verified {
            passed,
            warnings: Vec::new(),
            failed: Some(e),
        },
    }
}

/// Checks, without changing anything, with clients already built (`kirikae demo` uses its own, with fixed
/// sandbox credentials, so it can never reach a real account).
pub async fn prepare_with(plan: Plan, aws: Clients) -> Result<Prepared, Error> {
    let remote = preflight::check(&plan, &aws).await?;
    crate::before_switch::check_revision(&plan, &remote, &aws).await?;
    let desired_group = preflight::desired_group(&plan, &remote);
    let group_changes = remote
        .group
        .as_ref()
        .map(|g| g.diff(&desired_group))
        .unwrap_or_default();
    if plan.group_drift == GroupDrift::Fail && !group_changes.is_empty() {
        let changes: Vec<String> = group_changes.iter().map(ToString::to_string).collect();
        return Err(ConfigError::in_file(
            &plan.config_path,
            format!(
                "deployment group {} differs from the config: {}",
                plan.deployment_group,
                changes.join("; ")
            ),
        )
        .field("codedeploy")
        .hint("--group-drift update applies the config (the default); --group-drift warn deploys with the group as it is")
        .into());
    }
    // A gate runs while the deployment waits in Ready: a group left as it is must wait there too.
    if plan.gate.is_some()
        && plan.group_drift == GroupDrift::Warn
        && let Some(g) = &remote.group
        && g.ready_action != DeploymentReadyAction::StopDeployment
    {
        return Err(ConfigError::in_file(
            &plan.config_path,
            format!(
                "the gate needs deployment group {} to wait in Ready (STOP_DEPLOYMENT), and --group-drift warn leaves it at {}",
                plan.deployment_group,
                g.ready_action.as_str()
            ),
        )
        .field("gate")
        .hint("drop --group-drift warn (kirikae updates the group to the config), or update the group")
        .into());
    }
    let test_url = crate::gate::url::resolve(&plan, remote.test_listener.as_deref(), &aws).await?;
    let notifier = Notifier::new(&plan.notifications);
    Ok(Prepared {
        plan,
        remote,
        aws,
        desired_group,
        group_changes,
        notifier,
        test_url,
    })
}

impl Prepared {
    pub fn images(&self) -> Vec<Image> {
        self.plan
            .task_definition
            .images()
            .into_iter()
            .map(|(container, image)| Image { container, image })
            .collect()
    }

    /// How long to wait at most: `--timeout`, else the deployment config's traffic shifting, the group's
    /// waits, and 30 minutes for the rest (AWS time; the sandbox's scaled clock only makes it generous).
    pub fn timeout(&self) -> Duration {
        self.plan.wait.timeout.unwrap_or_else(|| {
            let g = &self.desired_group;
            Duration::from_secs(
                60 * (30
                    + g.ready_wait_minutes.max(0) as u64
                    + g.termination_wait_minutes.max(0) as u64)
                    + self.remote.shifting_seconds.unwrap_or(0),
            )
        })
    }

    /// The group's waits, which tell the poller when a waiting deployment moves again.
    pub fn waits(&self) -> Waits {
        let g = &self.desired_group;
        Waits {
            ready: (g.ready_action == DeploymentReadyAction::StopDeployment)
                .then(|| Duration::from_secs(60 * g.ready_wait_minutes.max(0) as u64)),
            termination: Duration::from_secs(60 * g.termination_wait_minutes.max(0) as u64),
        }
    }

    /// The desired count change an existing service needs, if any: only with `sync_desired_count`
    /// (otherwise the count belongs to whatever scales the service).
    pub fn desired_count_change(&self) -> Option<Change> {
        if !self.plan.sync_desired_count {
            return None;
        }
        let ServiceState::Active { desired_count, .. } = &self.remote.service else {
            return None;
        };
        let wanted = self.plan.service_definition.input.desired_count()?;
        (wanted != *desired_count).then(|| Change {
            field: "desired count".into(),
            from: desired_count.to_string(),
            to: wanted.to_string(),
        })
    }

    /// The settings of an existing service that differ from its definition and that UpdateService may
    /// change on a CODE_DEPLOY service (a field the definition leaves out is left as it is).
    pub fn settings_changes(&self) -> Vec<Change> {
        let ServiceState::Active { settings: now, .. } = &self.remote.service else {
            return Vec::new();
        };
        let i = &self.plan.service_definition.input;
        let mut changes = Vec::new();
        let secs = |v: Option<i32>| v.map_or("(none)".into(), |s| format!("{s} s"));
        if let Some(grace) = i.health_check_grace_period_seconds()
            && now.health_check_grace_period_seconds.unwrap_or(0) != grace
        {
            changes.push(Change {
                field: "health check grace period".into(),
                from: secs(now.health_check_grace_period_seconds),
                to: secs(Some(grace)),
            });
        }
        if let Some(managed) = i.enable_ecs_managed_tags()
            && now.enable_ecs_managed_tags != managed
        {
            changes.push(Change {
                field: "ECS managed tags".into(),
                from: now.enable_ecs_managed_tags.to_string(),
                to: managed.to_string(),
            });
        }
        if let Some(p) = i.propagate_tags()
            && now.propagate_tags.as_deref().unwrap_or("NONE") != p.as_str()
        {
            changes.push(Change {
                field: "tag propagation".into(),
                from: now.propagate_tags.clone().unwrap_or_else(|| "NONE".into()),
                to: p.as_str().to_string(),
            });
        }
        changes
    }

    /// The name of one of the pair's target groups, from its ARN.
    pub fn tg_name(&self, arn: &str) -> String {
        self.remote
            .target_groups
            .iter()
            .find(|(_, a)| a == arn)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| arn.to_string())
    }
}
