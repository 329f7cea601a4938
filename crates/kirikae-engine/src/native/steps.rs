//! The mutating steps of a native deploy, in order: the task definition, the `before_switch:` task
//! (shared with CodeDeploy, [`crate::before_switch`]), then CreateService (ECS controller) or
//! UpdateService; finding *the* service deployment our call started — by what the call answered
//! (`currentServiceDeployment`, else the revision of its PRIMARY deployment), never by waiting for the
//! service to look stable; and its audit record, a tag on the service ([`crate::audit::ServiceTag`]).

use aws_sdk_ecs::types::Service;

use super::prepare::NativePrepared;
use crate::audit::{self, Record, ServiceTag};
use crate::aws::failed;
use crate::before_switch::{self, Before};
use crate::deploy::ending::Changes;
use crate::deploy::{register, short_arn};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::outcome::Result as Res;
use crate::progress::{Event, Observer, now_epoch};

/// What CreateService / UpdateService started.
pub(super) struct Started {
    pub service_arn: Option<String>,
    pub deployment_arn: String,
}

impl NativePrepared {
    pub(super) async fn task_definition(
        &self,
        changes: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<String, Error> {
        let found = register::Found {
            unchanged: self.remote.unchanged_task_definition.as_ref(),
            existing: self.remote.existing_task_definition.as_ref(),
        };
        register::task_definition(
            &self.aws,
            &self.plan.task_definition,
            found,
            changes,
            observer,
        )
        .await
    }

    /// CreateService with the ECS controller and the `ecs:` block's settings. It carries a client token
    /// (the definition's, else the run's), so the SDK's retry of an attempt that did create it returns
    /// the same service. Returns the service deployment it started.
    pub(super) async fn create_service(
        &self,
        td_arn: &str,
        run_id: &str,
        changes: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<Started, Error> {
        let i = self.desired.clone();
        observer.on_event(&Event::ServiceCreating {
            service: self.plan.service.clone(),
            task_definition: td_arn.to_string(),
            desired_count: self.plan.service_definition.desired_count(),
        });
        let out = self
            .aws
            .ecs
            .create_service()
            .cluster(&self.plan.cluster)
            .service_name(&self.plan.service)
            .task_definition(td_arn)
            .set_deployment_controller(i.deployment_controller)
            .set_deployment_configuration(i.deployment_configuration)
            .set_load_balancers(i.load_balancers)
            .set_availability_zone_rebalancing(i.availability_zone_rebalancing)
            .set_service_registries(i.service_registries)
            .set_desired_count(i.desired_count)
            .client_token(i.client_token.unwrap_or_else(|| run_id.to_string()))
            .set_launch_type(i.launch_type)
            .set_capacity_provider_strategy(i.capacity_provider_strategy)
            .set_platform_version(i.platform_version)
            .set_role(i.role)
            .set_placement_constraints(i.placement_constraints)
            .set_placement_strategy(i.placement_strategy)
            .set_network_configuration(i.network_configuration)
            .set_health_check_grace_period_seconds(i.health_check_grace_period_seconds)
            .set_scheduling_strategy(i.scheduling_strategy)
            .set_tags(i.tags)
            .set_enable_ecs_managed_tags(i.enable_ecs_managed_tags)
            .set_propagate_tags(i.propagate_tags)
            .set_enable_execute_command(i.enable_execute_command)
            .set_service_connect_configuration(i.service_connect_configuration)
            .set_volume_configurations(i.volume_configurations)
            .set_vpc_lattice_configurations(i.vpc_lattice_configurations)
            .send()
            .await
            .map_err(|e| failed("ecs:CreateService", e))?;
        changes.service_created = true;
        observer.on_event(&Event::Step {
            message: format!(
                "created service {}/{} (ECS controller, {})",
                self.plan.cluster,
                self.plan.service,
                self.plan.ecs.strategy.as_str()
            ),
        });
        self.started(out.service()).await
    }

    /// UpdateService to the task definition and the `ecs:` block's settings; returns the service
    /// deployment it started, or `None` when it changed only deployment settings, for which ECS starts
    /// none ([`NativePrepared::starts_deployment`]; `--force` starts one all the same).
    pub(super) async fn update_service(
        &self,
        td_arn: &str,
        changes: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<Option<Started>, Error> {
        let i = self.desired.clone();
        let desired_count = if self.plan.sync_desired_count {
            i.desired_count
        } else {
            None
        };
        let out = self
            .aws
            .ecs
            .update_service()
            .cluster(&self.plan.cluster)
            .service(&self.plan.service)
            .task_definition(td_arn)
            .set_deployment_configuration(i.deployment_configuration)
            .set_load_balancers(i.load_balancers)
            .set_desired_count(desired_count)
            .set_capacity_provider_strategy(i.capacity_provider_strategy)
            .set_platform_version(i.platform_version)
            .set_network_configuration(i.network_configuration)
            .set_health_check_grace_period_seconds(i.health_check_grace_period_seconds)
            .set_enable_execute_command(i.enable_execute_command)
            .set_service_connect_configuration(i.service_connect_configuration)
            .set_volume_configurations(i.volume_configurations)
            .force_new_deployment(self.plan.force && !self.starts_deployment)
            .send()
            .await
            .map_err(|e| failed("ecs:UpdateService", e))?;
        if let Some(n) = desired_count {
            let before = match &self.remote.service {
                super::preflight::NativeService::Active { desired_count, .. } => *desired_count,
                super::preflight::NativeService::Missing => n,
            };
            if before != n {
                changes.service_changes.push(crate::group::Change {
                    field: "desiredCount".into(),
                    from: before.to_string(),
                    to: n.to_string(),
                });
            }
        }
        if !self.starts_deployment && !self.plan.force {
            return Ok(None);
        }
        observer.on_event(&Event::Step {
            message: format!(
                "updated service {}/{} to {} ({})",
                self.plan.cluster,
                self.plan.service,
                short_arn(td_arn),
                self.plan.ecs.strategy.as_str()
            ),
        });
        self.started(out.service()).await.map(Some)
    }

    /// The service and the service deployment a CreateService / UpdateService answer says it started.
    async fn started(&self, service: Option<&Service>) -> Result<Started, Error> {
        let live = match &self.remote.service {
            super::preflight::NativeService::Active { arn, .. } => Some(arn.clone()),
            super::preflight::NativeService::Missing => None,
        };
        Ok(Started {
            service_arn: service
                .and_then(|s| s.service_arn())
                .map(str::to_string)
                .or(live),
            deployment_arn: self.started_by(service).await?,
        })
    }

    /// The `before_switch:` task with the new task definition, before the service changes: `Some` when
    /// the run ends there (it failed, or kirikae stopped waiting for it), nothing switched.
    pub(super) async fn before_switch(
        &self,
        td_arn: &str,
        run_id: &str,
        changes: &mut Changes,
        observer: &dyn Observer,
        interrupt: &Interrupt,
    ) -> Result<Option<(Res, String)>, Error> {
        let Some(b) = &self.plan.before_switch else {
            return Ok(None);
        };
        let (cluster, service) = (&self.plan.cluster, &self.plan.service);
        let nothing = match &self.remote.service {
            super::preflight::NativeService::Active {
                task_definition, ..
            } => format!(
                "no service deployment was started: {cluster}/{service} still runs {}",
                task_definition.as_deref().map_or("what it ran", short_arn)
            ),
            super::preflight::NativeService::Missing => {
                format!("service {cluster}/{service} was not created")
            }
        };
        let before = Before {
            aws: &self.aws,
            cluster,
            before_switch: b,
            service_definition: &self.plan.service_definition,
            timeout: self.timeout(),
            poll_interval: self.plan.wait.poll_interval,
            nothing,
        };
        let ended =
            before_switch::before_switching(&before, td_arn, run_id, changes, observer, interrupt)
                .await?;
        // The task may outlast the deploy lock (it expires after lock::TTL), and ECS would start a
        // second service deployment where CodeDeploy refuses one: what runs now is checked again.
        if ended.is_none()
            && self.remote.live.is_some()
            && let Some(active) = super::prepare::active_deployment(&self.aws, &self.plan).await?
        {
            return Err(super::prepare::active_refusal(&self.plan, &active));
        }
        Ok(ended)
    }

    /// Who started the service deployment and from where, as a tag on its service. Best effort: the
    /// deployment runs already, so a refused tag is a warning, not a failed deploy.
    pub(super) async fn record(
        &self,
        started: &Started,
        run_id: &str,
        record: &Record,
        observer: &dyn Observer,
    ) {
        let Some(service_arn) = &started.service_arn else {
            return;
        };
        let tag = ServiceTag::new(&started.deployment_arn, now_epoch() as u64, run_id, record);
        if let Err(e) = audit::write_service_tag(&self.aws, service_arn, &tag).await {
            observer.on_event(&Event::Warning {
                message: format!(
                    "could not record who started {} on its service ({e}); kirikae history shows it as unknown",
                    started.deployment_arn
                ),
            });
        }
    }

    /// The service deployment a CreateService / UpdateService answer says it started: its
    /// `currentServiceDeployment`; else the one whose target revision is the answer's PRIMARY
    /// deployment (`ecs-svc/ID` ↔ `service-revision/…/ID`).
    async fn started_by(&self, service: Option<&Service>) -> Result<String, Error> {
        if let Some(arn) = service.and_then(|s| s.current_service_deployment()) {
            return Ok(arn.to_string());
        }
        let primary = service
            .and_then(|s| {
                s.deployments()
                    .iter()
                    .find(|d| d.status() == Some("PRIMARY"))
            })
            .and_then(|d| d.id())
            .map(|id| id.trim_start_matches("ecs-svc/").to_string());
        let not_found = || Error::Conflict {
            message: format!(
                "ECS answered without saying which service deployment it started on {}/{}",
                self.plan.cluster, self.plan.service
            ),
            hint: Some(format!(
                "follow it: aws ecs list-service-deployments --cluster {} --service {}",
                self.plan.cluster, self.plan.service
            )),
        };
        let Some(primary) = primary else {
            return Err(not_found());
        };
        let out = self
            .aws
            .ecs
            .list_service_deployments()
            .cluster(&self.plan.cluster)
            .service(&self.plan.service)
            .send()
            .await
            .map_err(|e| failed("ecs:ListServiceDeployments", e))?;
        out.service_deployments()
            .iter()
            .find(|d| {
                d.target_service_revision_arn()
                    .is_some_and(|r| r.rsplit('/').next() == Some(primary.as_str()))
            })
            .and_then(|d| d.service_deployment_arn())
            .map(str::to_string)
            .ok_or_else(not_found)
    }
}
