//! Operating a deployment that already runs (`kirikae watch`, `promote`, `stop`, `rollback`): find it
//! (from a config's group, or by id), act on it with one CodeDeploy call, then follow it to its end with
//! the same state machine, poller and endings as `kirikae deploy`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_codedeploy::types::{DeploymentReadyAction, DeploymentStatus, DeploymentWaitType};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::aws::failed;
use crate::connection::{Clients, Connection};
use crate::deploy::ending::{self, Changes, Facts};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::outcome::{Image, Outcome};
use crate::plan::Plan;
use crate::progress::{DeploymentSnapshot, Event, Observer, now_epoch};
use crate::watch::Poller;
use crate::watch::deployment::{self, Followed, Target, Until};
use crate::watch::pace::{self, Waits};

/// The statuses of a deployment that has not ended.
pub fn active_statuses() -> Vec<DeploymentStatus> {
    vec![
        DeploymentStatus::Created,
        DeploymentStatus::Queued,
        DeploymentStatus::InProgress,
        DeploymentStatus::Baking,
        DeploymentStatus::Ready,
    ]
}

/// One deployment group and the service it deploys, with the group's waits.
#[derive(Debug, Clone)]
pub struct Group {
    pub config: String,
    pub application: String,
    pub deployment_group: String,
    pub cluster: String,
    pub service: String,
    pub images: Vec<Image>,
    pub waits: Waits,
    /// The group rolls back automatically on some event.
    pub rollback_expected: bool,
}

impl Group {
    /// The facts an ending needs, for a run that changed nothing but the deployment's course.
    pub fn facts(&self, region: &str, interrupt: &Interrupt) -> Facts {
        Facts {
            config: self.config.clone(),
            region: region.to_string(),
            cluster: self.cluster.clone(),
            service: self.service.clone(),
            application: self.application.clone(),
            deployment_group: self.deployment_group.clone(),
            images: self.images.clone(),
            started_at: now_epoch(),
            interrupt_code: match interrupt.exit_code() {
                0 => crate::interrupt::DEFAULT_EXIT_CODE,
                c => c,
            },
            changes: Changes::default(),
        }
    }

    pub fn target_id(&self) -> String {
        format!("{}:{}", self.cluster, self.service)
    }

    /// How long to wait at most by default: the group's waits plus 30 minutes.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(30 * 60) + self.waits.ready.unwrap_or_default() + self.waits.termination
    }
}

/// Connects for a config's group (read: GetDeploymentGroup, for its waits).
pub async fn for_plan(plan: &Plan, connection: &Connection) -> Result<(Clients, Group), Error> {
    let aws = connection.connect(plan.region.as_deref()).await?;
    let mut group = Group {
        config: plan.config_path.display().to_string(),
        application: plan.application.clone(),
        deployment_group: plan.deployment_group.clone(),
        cluster: plan.cluster.clone(),
        service: plan.service.clone(),
        images: plan
            .task_definition
            .images()
            .into_iter()
            .map(|(container, image)| Image { container, image })
            .collect(),
        waits: Waits::default(),
        rollback_expected: false,
    };
    read_group(&aws, &mut group).await?;
    Ok((aws, group))
}

/// Connects for deployment `id`, finding its group and service from AWS.
pub async fn for_deployment(id: &str, connection: &Connection) -> Result<(Clients, Group), Error> {
    let aws = connection.connect(None).await?;
    let info = get(&aws, id).await?;
    let mut group = Group {
        config: String::new(),
        application: info.application_name().unwrap_or_default().to_string(),
        deployment_group: info.deployment_group_name().unwrap_or_default().to_string(),
        cluster: String::new(),
        service: String::new(),
        images: Vec::new(),
        waits: Waits::default(),
        rollback_expected: false,
    };
    read_group(&aws, &mut group).await?;
    Ok((aws, group))
}

async fn read_group(aws: &Clients, group: &mut Group) -> Result<(), Error> {
    let out = aws
        .codedeploy
        .get_deployment_group()
        .application_name(&group.application)
        .deployment_group_name(&group.deployment_group)
        .send()
        .await
        .map_err(|e| failed("codedeploy:GetDeploymentGroup", e))?;
    let Some(info) = out.deployment_group_info() else {
        return Ok(());
    };
    if let Some(s) = info.ecs_services().first() {
        if group.cluster.is_empty() {
            group.cluster = s.cluster_name().unwrap_or_default().to_string();
        }
        if group.service.is_empty() {
            group.service = s.service_name().unwrap_or_default().to_string();
        }
    }
    group.rollback_expected = info
        .auto_rollback_configuration()
        .is_some_and(|r| r.enabled() && !r.events().is_empty());
    if let Some(bg) = info.blue_green_deployment_configuration() {
        if let Some(r) = bg.deployment_ready_option()
            && r.action_on_timeout() == Some(&DeploymentReadyAction::StopDeployment)
        {
            group.waits.ready = Some(Duration::from_secs(
                60 * r.wait_time_in_minutes().max(0) as u64,
            ));
        }
        if let Some(t) = bg.terminate_blue_instances_on_deployment_success() {
            group.waits.termination =
                Duration::from_secs(60 * t.termination_wait_time_in_minutes().max(0) as u64);
        }
    }
    Ok(())
}

async fn get(aws: &Clients, id: &str) -> Result<aws_sdk_codedeploy::types::DeploymentInfo, Error> {
    let out = aws
        .codedeploy
        .batch_get_deployments()
        .deployment_ids(id)
        .send()
        .await
        .map_err(|e| failed("codedeploy:BatchGetDeployments", e))?;
    out.deployments_info()
        .first()
        .cloned()
        .ok_or_else(|| Error::Conflict {
            message: format!("AWS lists no deployment {id}"),
            hint: None,
        })
}

/// The group's deployment that has not ended, if any.
pub async fn active(aws: &Clients, group: &Group) -> Result<Option<String>, Error> {
    let out = aws
        .codedeploy
        .list_deployments()
        .application_name(&group.application)
        .deployment_group_name(&group.deployment_group)
        .set_include_only_statuses(Some(active_statuses()))
        .send()
        .await
        .map_err(|e| failed("codedeploy:ListDeployments", e))?;
    Ok(out.deployments().first().cloned())
}

/// The group's most recent deployment, ended or not (the latest created of its first page).
pub async fn latest(aws: &Clients, group: &Group) -> Result<Option<String>, Error> {
    let out = aws
        .codedeploy
        .list_deployments()
        .application_name(&group.application)
        .deployment_group_name(&group.deployment_group)
        .send()
        .await
        .map_err(|e| failed("codedeploy:ListDeployments", e))?;
    let ids: Vec<String> = out.deployments().iter().take(25).cloned().collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let infos = aws
        .codedeploy
        .batch_get_deployments()
        .set_deployment_ids(Some(ids))
        .send()
        .await
        .map_err(|e| failed("codedeploy:BatchGetDeployments", e))?;
    Ok(infos
        .deployments_info()
        .iter()
        .max_by(|a, b| {
            let t = |d: &aws_sdk_codedeploy::types::DeploymentInfo| {
                d.create_time().map(|t| t.as_secs_f64()).unwrap_or(0.0)
            };
            t(a).total_cmp(&t(b))
        })
        .and_then(|d| d.deployment_id().map(str::to_string)))
}

/// What deployment `id` looks like now, with its target (GetDeploymentTarget).
pub async fn snapshot(aws: &Clients, group: &Group, id: &str) -> Result<DeploymentSnapshot, Error> {
    let info = get(aws, id).await?;
    let target = aws
        .codedeploy
        .get_deployment_target()
        .deployment_id(id)
        .target_id(group.target_id())
        .send()
        .await
        .ok()
        .and_then(|o| o.deployment_target().and_then(|t| t.ecs_target()).cloned());
    Ok(deployment::snapshot(id, &info, target.as_ref(), None))
}

/// Which task set serves production, said for a person.
pub fn serving(s: &DeploymentSnapshot) -> String {
    let on: Vec<String> = s
        .task_sets
        .iter()
        .filter(|t| t.traffic_weight > 0.0)
        .map(|t| {
            let label = t
                .label
                .as_ref()
                .map(|l| l.as_str().to_lowercase())
                .unwrap_or_else(|| "a task set".into());
            match &t.target_group {
                Some(tg) => format!("{label} ({tg}, {}%)", t.traffic_weight),
                None => format!("{label} ({}%)", t.traffic_weight),
            }
        })
        .collect();
    if on.is_empty() {
        "unknown (AWS shows no task set with traffic yet)".into()
    } else {
        on.join(" and ")
    }
}

/// ContinueDeployment with this wait type.
pub async fn continue_deployment(
    aws: &Clients,
    id: &str,
    wait: DeploymentWaitType,
) -> Result<(), Error> {
    aws.codedeploy
        .continue_deployment()
        .deployment_id(id)
        .deployment_wait_type(wait)
        .send()
        .await
        .map_err(|e| failed("codedeploy:ContinueDeployment", e))?;
    Ok(())
}

/// StopDeployment, with or without CodeDeploy's rollback.
pub async fn stop(aws: &Clients, id: &str, rollback: bool) -> Result<(), Error> {
    aws.codedeploy
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(rollback)
        .send()
        .await
        .map_err(|e| failed("codedeploy:StopDeployment", e))?;
    Ok(())
}

/// How to follow.
pub struct Follow {
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub rollback_expected: bool,
    /// Once blue's termination wait starts, end it (ContinueDeployment TERMINATION_WAIT).
    pub skip_termination_wait: bool,
    /// `--on-interrupt` / `--on-timeout` ([`crate::policy`]).
    pub policy: crate::policy::Policy,
}

/// Follows deployment `id` to its end, exactly as `kirikae deploy` does, into its outcome.
pub async fn follow(
    aws: &Clients,
    group: &Group,
    id: &str,
    how: &Follow,
    observer: &dyn Observer,
    interrupt: &Interrupt,
) -> Outcome {
    let mut facts = group.facts(&aws.region, interrupt);
    let target_id = group.target_id();
    let target = Target {
        aws,
        target_id: &target_id,
        until: Until::End,
        rollback_expected: how.rollback_expected,
        waits: group.waits,
    };
    let seen = Arc::new(Notify::new());
    let skipping = Skipping {
        inner: observer,
        armed: AtomicBool::new(how.skip_termination_wait),
        seen: seen.clone(),
    };
    let deadline = Instant::now() + how.timeout;
    let mut poller = Poller::new(&skipping, interrupt, deadline, how.poll_interval);
    let followed = {
        let following = deployment::follow(&mut poller, &target, id);
        tokio::pin!(following);
        let mut skipped = !how.skip_termination_wait;
        loop {
            tokio::select! {
                f = &mut following => break f,
                _ = seen.notified(), if !skipped => {
                    skipped = true;
                    match continue_deployment(aws, id, DeploymentWaitType::TerminationWait).await {
                        Ok(()) => observer.on_event(&Event::Warning {
                            message: "blue's termination wait skipped (ContinueDeployment TERMINATION_WAIT): blue is terminated now".into(),
                        }),
                        Err(e) => observer.on_event(&Event::Warning {
                            message: format!("could not skip blue's termination wait: {e}"),
                        }),
                    }
                }
            }
        }
    };
    let (followed, applied) = crate::policy::apply(how.policy, &poller, &target, followed).await;
    facts.interrupt_code = group.facts(&aws.region, interrupt).interrupt_code;
    let stopped_on = match &followed {
        Followed::NotRolledBack(s) if s.status == DeploymentStatus::Stopped => Some(s.clone()),
        _ => None,
    };
    let mut outcome = ending::deployment(&facts, followed, None);
    if let Some(a) = &applied {
        crate::policy::explain(&mut outcome, a, facts.interrupt_code);
    }
    // Where production traffic is, unless the ending says it already.
    if let Some(s) = stopped_on.filter(|_| !outcome.message.contains("production traffic")) {
        outcome.message = format!(
            "{}; production traffic stays on {}",
            outcome.message,
            serving(&s)
        );
    }
    outcome
}

/// Passes events on; when armed, tells once that blue's termination wait started.
struct Skipping<'a> {
    inner: &'a dyn Observer,
    armed: AtomicBool,
    seen: Arc<Notify>,
}

impl Observer for Skipping<'_> {
    fn on_event(&self, event: &Event) {
        if let Event::DeploymentProgress(s) = event
            && pace::is_termination_wait(s)
            && self.armed.swap(false, Ordering::SeqCst)
        {
            self.seen.notify_one();
        }
        self.inner.on_event(event);
    }
}
