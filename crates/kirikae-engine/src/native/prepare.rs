//! Connect and check, changing nothing: a [`NativePrepared`] deploy; and what the deploy lock asks of
//! it (the service deployment still going on, and who started it).

use std::time::Duration;

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsError;

use super::plan::NativePlan;
use super::preflight::{self, NativeRemote};
use super::{revision, settings};
use crate::audit::{self, ServiceTag};
use crate::aws::failed;
use crate::connection::{Clients, Connection};
use crate::error::Error;
use crate::history::{NOT_KIRIKAE, StartedBy};
use crate::lock::Active;
use crate::notify::Notifier;
use crate::outcome::Image;

/// A native deploy whose inputs and AWS preconditions are checked; nothing has been changed yet.
#[derive(Debug)]
pub struct NativePrepared {
    pub plan: NativePlan,
    pub remote: NativeRemote,
    pub aws: Clients,
    /// The service as the config wants it (CreateService's input; UpdateService takes its parts).
    pub desired: CreateServiceInput,
    /// The service runs this very task definition content with these very settings: nothing to deploy
    /// (unless `--force`).
    pub up_to_date: bool,
    /// The update starts a service deployment by itself (a new service, task definition, load
    /// balancer or other revision setting); else it changes only deployment settings, which ECS
    /// applies without one.
    pub starts_deployment: bool,
    pub notifier: Notifier,
    /// The test listener's URL the gate's checks go to (with a gate that has checks).
    pub test_url: Option<String>,
}

/// Connects and checks, without changing anything.
pub async fn prepare(plan: NativePlan, connection: &Connection) -> Result<NativePrepared, Error> {
    let aws = connection.connect(plan.region.as_deref()).await?;
    prepare_with(plan, aws).await
}

/// What `kirikae verify` says of one native config: each check that passed, the warnings, and the
/// first check that failed (nothing is changed).
pub async fn verify(
    plan: &NativePlan,
    connection: &Connection,
) -> (Vec<String>, Vec<String>, Option<Error>) {
    let mut passed = vec![format!(
        "{} and its definitions are valid (ECS controller, {}; family {}, container {}:{})",
        plan.config_path.display(),
        plan.ecs.strategy.as_str(),
        plan.task_definition.family(),
        plan.service_definition.container_name(),
        plan.service_definition.container_port()
    )];
    let aws = match connection.connect(plan.region.as_deref()).await {
        Ok(aws) => aws,
        Err(e) => return (passed, Vec::new(), Some(e.into())),
    };
    let remote = match preflight::check_noting(plan, &aws, &mut passed).await {
        Ok(remote) => remote,
        Err(e) => return (passed, Vec::new(), Some(e)),
    };
    // Where the gate would check green, found as deploy finds it.
    if let Some(gate) = &plan.gate {
        match super::gate::test_url(plan, remote.test_rule.as_deref(), &aws).await {
            Ok(url) => passed.push(super::gate::said_with_url(&plan.ecs, gate, url.as_deref())),
            Err(e) => return (passed, remote.warnings, Some(e)),
        }
    }
    (passed, remote.warnings, None)
}

/// [`prepare`] with clients already built.
pub async fn prepare_with(plan: NativePlan, aws: Clients) -> Result<NativePrepared, Error> {
    let remote = preflight::check(&plan, &aws).await?;
    crate::before_switch::check_revision_of(
        &plan.config_path,
        plan.before_switch.as_ref(),
        &plan.service_definition,
        remote.existing_task_definition.as_deref(),
        &aws,
    )
    .await?;
    let desired = settings::desired(&plan, &remote, remote.live.as_ref())?;
    // A changed revision setting (network configuration, platform version…) is a deploy too: ECS
    // starts a service deployment for it, as for a new task definition.
    let up_to_date = remote.unchanged_task_definition.is_some()
        && remote.live.as_ref().is_some_and(|l| {
            settings::same_settings(&desired, l)
                && revision::revision_changes(&desired, l).is_empty()
                && revision::service_setting_changes(&desired, l, plan.sync_desired_count)
                    .is_empty()
        });
    // Whether ECS starts a service deployment for the update: not when only the deployment
    // configuration changes (it is no part of a service revision).
    let starts_deployment = match remote.live.as_ref() {
        None => true,
        Some(l) => {
            remote.unchanged_task_definition.is_none()
                || !settings::same_load_balancers(&desired, l)
                || !revision::revision_changes(&desired, l).is_empty()
        }
    };
    let notifier = Notifier::new(&plan.notifications);
    let test_url = super::gate::test_url(&plan, remote.test_rule.as_deref(), &aws).await?;
    Ok(NativePrepared {
        plan,
        remote,
        aws,
        desired,
        up_to_date,
        starts_deployment,
        notifier,
        test_url,
    })
}

impl NativePrepared {
    /// What a deploy that starts no service deployment changes: the deployment settings and the
    /// service's own settings that differ (none without a live service).
    pub fn settings_only_changes(&self) -> Vec<&'static str> {
        let Some(live) = self.remote.live.as_ref() else {
            return Vec::new();
        };
        let mut fields = settings::deployment_changes(&self.desired, live);
        fields.extend(
            revision::service_setting_changes(&self.desired, live, self.plan.sync_desired_count)
                .into_iter()
                .map(|c| c.field),
        );
        fields
    }

    pub fn images(&self) -> Vec<Image> {
        self.plan
            .task_definition
            .images()
            .into_iter()
            .map(|(container, image)| Image { container, image })
            .collect()
    }

    /// `--timeout`, else what the deployment may take (bakes, hooks' timeouts) plus 30 minutes.
    pub fn timeout(&self) -> Duration {
        self.plan
            .wait
            .timeout
            .unwrap_or_else(|| Duration::from_secs((self.plan.expected_minutes() + 30) * 60))
    }

    /// What a dry run says would be done, in order.
    pub fn would(&self) -> Vec<String> {
        let mut said = Vec::new();
        let p = &self.plan;
        match (
            &self.remote.unchanged_task_definition,
            &self.remote.existing_task_definition,
        ) {
            (Some(arn), _) => said.push(format!(
                "reuse task definition {} (unchanged)",
                crate::deploy::short_arn(arn)
            )),
            (None, Some(arn)) => said.push(format!(
                "use task definition {}",
                crate::deploy::short_arn(arn)
            )),
            (None, None) => said.push(format!(
                "register task definition family {}",
                p.task_definition.family()
            )),
        }
        let what = format!(
            "{} strategy, bake {} min",
            p.ecs.strategy.as_str(),
            p.ecs.bake_time_minutes
        );
        if let Some(b) = &p.before_switch
            && (self.starts_deployment || p.force)
        {
            said.push(format!(
                "run `{}` in container {} with the new task definition (RunTask) and {} only once it exits 0",
                b.command_said(),
                b.container_name(&p.service_definition),
                if self.remote.live.is_none() {
                    "create the service"
                } else {
                    "update the service"
                }
            ));
        }
        match &self.remote.live {
            None => said.push(format!(
                "create service {}/{} with the ECS controller ({what}) and follow its first service deployment",
                p.cluster, p.service
            )),
            Some(_) if self.up_to_date && !p.force => said.push(format!(
                "nothing to deploy: {}/{} already runs this task definition with these settings",
                p.cluster, p.service
            )),
            Some(_) if !self.starts_deployment && !p.force => said.push(format!(
                "update the settings of service {}/{} ({}); ECS starts no service deployment for them",
                p.cluster,
                p.service,
                self.settings_only_changes().join(", ")
            )),
            Some(_) => said.push(format!(
                "update service {}/{} ({what}) and follow the service deployment it starts",
                p.cluster, p.service
            )),
        }
        if let Some(gate) = &p.gate
            && (self.remote.live.is_none() || !self.up_to_date || p.force)
        {
            said.push(super::gate::said_with_url(
                &p.ecs,
                gate,
                self.test_url.as_deref(),
            ));
        }
        said
    }
}

/// The deploy lock ([`crate::lock`]) around a native deploy: the same lock as on CodeDeploy, with a
/// service deployment still going on as the running deployment.
impl crate::lock::Guarded for NativePrepared {
    fn aws(&self) -> &Clients {
        &self.aws
    }
    fn cluster(&self) -> &str {
        &self.plan.cluster
    }
    fn service(&self) -> &str {
        &self.plan.service
    }
    fn wait_for_active(&self) -> bool {
        self.plan.wait.wait_for_active
    }
    fn poll_interval(&self) -> Duration {
        self.plan.wait.poll_interval
    }
    fn timeout(&self) -> Duration {
        NativePrepared::timeout(self)
    }
    fn changes_nothing(&self) -> bool {
        self.up_to_date && !self.plan.force
    }
    async fn active(&self) -> Result<Option<Active>, Error> {
        active_deployment(&self.aws, &self.plan).await
    }
    fn active_refusal(&self, a: &Active) -> Error {
        active_refusal(&self.plan, a)
    }
    async fn checked_again(self) -> Result<Self, Error> {
        prepare_with(self.plan, self.aws).await
    }
}

/// The service's deployment still going on (ListServiceDeployments, [`preflight::ONGOING`]), with who
/// started it as the service's [`ServiceTag`] says. A service that does not exist has none.
pub async fn active_deployment(aws: &Clients, plan: &NativePlan) -> Result<Option<Active>, Error> {
    let out = match aws
        .ecs
        .list_service_deployments()
        .cluster(&plan.cluster)
        .service(&plan.service)
        .set_status(Some(preflight::ONGOING.to_vec()))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(
                    ListServiceDeploymentsError::ServiceNotFoundException(_)
                        | ListServiceDeploymentsError::ClusterNotFoundException(_)
                )
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(failed("ecs:ListServiceDeployments", e)),
    };
    let Some(d) = out.service_deployments().first() else {
        return Ok(None);
    };
    let arn = d.service_deployment_arn().unwrap_or_default().to_string();
    // Who started it is worth saying, not worth failing for: without the tag it is "unknown".
    let tag = match d.service_arn() {
        Some(service_arn) => match audit::service_tags(aws, service_arn).await {
            Ok(tags) => tags
                .into_iter()
                .find(|t| t.deployment_id == audit::deployment_id(&arn)),
            Err(e) => {
                tracing::warn!("who started {arn} cannot be read: {e}");
                None
            }
        },
        None => None,
    };
    Ok(Some(Active {
        status: d.status().map_or("IN_PROGRESS", |s| s.as_str()).to_string(),
        started_by: started_by(tag.as_ref()),
        id: arn,
    }))
}

/// Who started a service deployment, as its record on the service says.
pub fn started_by(tag: Option<&ServiceTag>) -> StartedBy {
    match tag {
        Some(t) => StartedBy {
            audit: None,
            who: t.who(),
            from: t.from.clone(),
        },
        None => StartedBy {
            audit: None,
            who: NOT_KIRIKAE.to_string(),
            from: "unknown".into(),
        },
    }
}

/// The refusal of a native deploy while service deployment `a` goes on: ECS would start a second one.
pub fn active_refusal(plan: &NativePlan, a: &Active) -> Error {
    let config = plan.config_path.display();
    Error::Conflict {
        message: format!(
            "service deployment {} is {} on {}/{} (started by {}, from {}); kirikae starts no second one",
            a.id,
            a.status,
            plan.cluster,
            plan.service,
            a.who(),
            a.started_by.from
        ),
        hint: Some(format!(
            "kirikae deploy --wait-for-active queues behind it; kirikae watch -c {config} follows it; or stop it: kirikae rollback -c {config}"
        )),
    }
}
