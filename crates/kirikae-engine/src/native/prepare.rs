//! Connect and check, changing nothing: a [`NativePrepared`] deploy.

use std::time::Duration;

use aws_sdk_ecs::operation::create_service::CreateServiceInput;

use super::plan::NativePlan;
use super::preflight::{self, NativeRemote};
use super::settings;
use crate::connection::{Clients, Connection};
use crate::error::Error;
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
    pub notifier: Notifier,
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
    match preflight::check_noting(plan, &aws, &mut passed).await {
        Ok(remote) => (passed, remote.warnings, None),
        Err(e) => (passed, Vec::new(), Some(e)),
    }
}

/// [`prepare`] with clients already built.
pub async fn prepare_with(plan: NativePlan, aws: Clients) -> Result<NativePrepared, Error> {
    let remote = preflight::check(&plan, &aws).await?;
    let desired = settings::desired(&plan, &remote, remote.live.as_ref())?;
    let up_to_date = remote.unchanged_task_definition.is_some()
        && remote
            .live
            .as_ref()
            .is_some_and(|l| settings::same_settings(&desired, l));
    let notifier = Notifier::new(&plan.notifications);
    Ok(NativePrepared {
        plan,
        remote,
        aws,
        desired,
        up_to_date,
        notifier,
    })
}

impl NativePrepared {
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
        match &self.remote.live {
            None => said.push(format!(
                "create service {}/{} with the ECS controller ({what}) and follow its first service deployment",
                p.cluster, p.service
            )),
            Some(_) if self.up_to_date && !p.force => said.push(format!(
                "nothing to deploy: {}/{} already runs this task definition with these settings",
                p.cluster, p.service
            )),
            Some(_) => said.push(format!(
                "update service {}/{} ({what}) and follow the service deployment it starts",
                p.cluster, p.service
            )),
        }
        said
    }
}
