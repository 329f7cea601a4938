//! The mutating steps of a deploy, in the order [`super::execute`] runs them. Each says what it did to the
//! observer and records it in [`Changes`], so that any ending can say what exists.

use std::time::Duration;

use aws_sdk_codedeploy::operation::create_application::CreateApplicationError;
use aws_sdk_codedeploy::operation::create_deployment::CreateDeploymentError;
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, DeploymentInfo, RevisionLocation, RevisionLocationType,
    TimeRange,
};
use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType};

use super::Prepared;
use super::ending::Changes;
use super::register;
use crate::appspec;
use crate::audit::Record;
use crate::aws::{Healing, call_failure, failed};
use crate::error::Error;
use crate::outcome::GroupAction;
use crate::plan::GroupDrift;
use crate::preflight::ServiceState;
use crate::progress::{Event, Observer};

impl Prepared {
    pub(super) async fn ensure_application(
        &self,
        p: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<(), Error> {
        if self.remote.application_exists {
            return Ok(());
        }
        match self
            .aws
            .codedeploy
            .create_application()
            .application_name(&self.plan.application)
            .compute_platform(ComputePlatform::Ecs)
            .send()
            .await
        {
            Ok(_) => {
                p.application_created = true;
                observer.on_event(&Event::Step {
                    message: format!(
                        "created CodeDeploy application {} (ECS)",
                        self.plan.application
                    ),
                });
                Ok(())
            }
            // Someone else created it since the check: fine, it is what we wanted.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateApplicationError::ApplicationAlreadyExistsException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(failed("codedeploy:CreateApplication", e)),
        }
    }

    pub(super) async fn task_definition(
        &self,
        p: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<String, Error> {
        let found = register::Found {
            unchanged: self.remote.unchanged_task_definition.as_ref(),
            existing: self.remote.existing_task_definition.as_ref(),
        };
        register::task_definition(&self.aws, &self.plan.task_definition, found, p, observer).await
    }

    /// The service definition's tags plus the AppSpec inputs it is created with.
    fn service_tags(
        &self,
        tags: Option<Vec<aws_sdk_ecs::types::Tag>>,
    ) -> Vec<aws_sdk_ecs::types::Tag> {
        let mut tags: Vec<_> = tags
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.key() != Some(appspec::INPUTS_TAG))
            .collect();
        tags.push(
            aws_sdk_ecs::types::Tag::builder()
                .key(appspec::INPUTS_TAG)
                .value(appspec::inputs_hash(
                    &self.plan.service_definition,
                    &self.plan.codedeploy.hooks,
                ))
                .build(),
        );
        tags
    }

    /// Records on the service that a deployment with this run's AppSpec inputs succeeded, so the next
    /// identical run has nothing to deploy. Best effort: without the tag, the next run deploys again.
    pub(super) async fn record_deployed_inputs(&self, observer: &dyn Observer) {
        let ServiceState::Active { arn, .. } = &self.remote.service else {
            return;
        };
        let tag = aws_sdk_ecs::types::Tag::builder()
            .key(appspec::INPUTS_TAG)
            .value(appspec::inputs_hash(
                &self.plan.service_definition,
                &self.plan.codedeploy.hooks,
            ))
            .build();
        if let Err(e) = self
            .aws
            .ecs
            .tag_resource()
            .resource_arn(arn)
            .tags(tag)
            .send()
            .await
        {
            observer.on_event(&Event::Warning {
                message: format!(
                    "could not tag the service with what was deployed ({}); the next run deploys again",
                    failed("ecs:TagResource", e)
                ),
            });
        }
    }

    /// Creates the service with the CODE_DEPLOY controller. It always carries a client token (the
    /// definition's, else the run's), so the SDK's retry of an attempt that did create it returns the
    /// same service instead of failing or creating another.
    pub(super) async fn create_service(
        &self,
        td_arn: &str,
        run_id: &str,
        p: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<(), Error> {
        let i = self.plan.service_definition.input.clone();
        // ECS takes up to 36 ASCII characters: a UUID.
        let client_token = i.client_token.clone().unwrap_or_else(|| run_id.to_string());
        let tg = self.remote.initial_target_group_arn(&self.plan);
        let load_balancers = i
            .load_balancers
            .unwrap_or_default()
            .into_iter()
            .map(|lb| {
                aws_sdk_ecs::types::LoadBalancer::builder()
                    .target_group_arn(&tg)
                    .set_container_name(lb.container_name)
                    .set_container_port(lb.container_port)
                    .set_load_balancer_name(lb.load_balancer_name)
                    .set_advanced_configuration(lb.advanced_configuration)
                    .build()
            })
            .collect();
        observer.on_event(&Event::ServiceCreating {
            service: self.plan.service.clone(),
            task_definition: td_arn.to_string(),
            desired_count: self.plan.service_definition.desired_count(),
        });
        self.aws
            .ecs
            .create_service()
            .cluster(&self.plan.cluster)
            .service_name(&self.plan.service)
            .task_definition(td_arn)
            .deployment_controller(
                DeploymentController::builder()
                    .r#type(DeploymentControllerType::CodeDeploy)
                    .build()
                    .map_err(|e| Error::Conflict {
                        message: e.to_string(),
                        hint: None,
                    })?,
            )
            .set_load_balancers(Some(load_balancers))
            .set_availability_zone_rebalancing(i.availability_zone_rebalancing)
            .set_service_registries(i.service_registries)
            .set_desired_count(i.desired_count)
            .client_token(client_token)
            .set_launch_type(i.launch_type)
            .set_capacity_provider_strategy(i.capacity_provider_strategy)
            .set_platform_version(i.platform_version)
            .set_role(i.role)
            .set_deployment_configuration(i.deployment_configuration)
            .set_placement_constraints(i.placement_constraints)
            .set_placement_strategy(i.placement_strategy)
            .set_network_configuration(i.network_configuration)
            .set_health_check_grace_period_seconds(i.health_check_grace_period_seconds)
            .set_scheduling_strategy(i.scheduling_strategy)
            .set_tags(Some(self.service_tags(i.tags)))
            .set_enable_ecs_managed_tags(i.enable_ecs_managed_tags)
            .set_propagate_tags(i.propagate_tags)
            .set_enable_execute_command(i.enable_execute_command)
            .set_service_connect_configuration(i.service_connect_configuration)
            .set_volume_configurations(i.volume_configurations)
            .set_vpc_lattice_configurations(i.vpc_lattice_configurations)
            .set_gateway_connectors(i.gateway_connectors)
            .set_monitoring(i.monitoring)
            .send()
            .await
            .map_err(|e| failed("ecs:CreateService", e))?;
        p.service_created = true;
        observer.on_event(&Event::Step {
            message: format!(
                "created service {}/{} (CODE_DEPLOY controller)",
                self.plan.cluster, self.plan.service
            ),
        });
        Ok(())
    }

    /// The one service setting kept in sync outside deployments: the desired count, when the service
    /// definition states it (leave it out when an autoscaler owns it).
    /// Updates what UpdateService may change on an existing CODE_DEPLOY service: the desired count (with
    /// `sync_desired_count`) and the settings its definition states (grace period, managed tags, tag
    /// propagation). One call for all of them.
    pub(super) async fn update_service_settings(
        &self,
        p: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<(), Error> {
        let count = self.desired_count_change();
        let settings = self.settings_changes();
        if count.is_none() && settings.is_empty() {
            return Ok(());
        }
        let i = &self.plan.service_definition.input;
        let mut call = self
            .aws
            .ecs
            .update_service()
            .cluster(&self.plan.cluster)
            .service(&self.plan.service);
        if let Some(c) = &count {
            call = call.desired_count(c.to.parse().expect("a count"));
        }
        for c in &settings {
            call = match c.field.as_str() {
                "health check grace period" => call
                    .set_health_check_grace_period_seconds(i.health_check_grace_period_seconds()),
                "ECS managed tags" => call.set_enable_ecs_managed_tags(i.enable_ecs_managed_tags()),
                "tag propagation" => call.set_propagate_tags(i.propagate_tags().cloned()),
                _ => call,
            };
        }
        call.send()
            .await
            .map_err(|e| failed("ecs:UpdateService", e))?;
        let name = format!("{}/{}", self.plan.cluster, self.plan.service);
        if let Some(c) = count {
            observer.on_event(&Event::Step {
                message: format!("desired count of {name}: {} → {}", c.from, c.to),
            });
            p.service_changes.push(c);
        }
        for c in settings {
            observer.on_event(&Event::Step {
                message: format!("updated service {name}: {c}"),
            });
            p.service_changes.push(c);
        }
        Ok(())
    }

    /// The desired count change an existing service needs, if any.
    pub(super) async fn ensure_group(
        &self,
        p: &mut Changes,
        observer: &dyn Observer,
    ) -> Result<(), Error> {
        let client = &self.aws.codedeploy;
        match &self.remote.group {
            None => {
                self.desired_group
                    .create(client, &self.plan.application, &self.plan.deployment_group)
                    .await?;
                p.group_action = GroupAction::Created;
                observer.on_event(&Event::Step {
                    message: format!("created deployment group {}", self.plan.deployment_group),
                });
            }
            Some(_)
                if !self.group_changes.is_empty() && self.plan.group_drift == GroupDrift::Warn =>
            {
                let changes: Vec<String> =
                    self.group_changes.iter().map(ToString::to_string).collect();
                observer.on_event(&Event::Warning {
                    message: format!(
                        "deployment group {} differs from the config, left as it is (--group-drift warn): {}",
                        self.plan.deployment_group,
                        changes.join("; ")
                    ),
                });
            }
            Some(_) if !self.group_changes.is_empty() => {
                self.desired_group
                    .update(client, &self.plan.application, &self.plan.deployment_group)
                    .await?;
                p.group_action = GroupAction::Updated;
                p.group_changes = self.group_changes.clone();
                observer.on_event(&Event::GroupUpdated {
                    name: self.plan.deployment_group.clone(),
                    changes: self.group_changes.clone(),
                });
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Creates the deployment, its description carrying `run_id`. CodeDeploy takes no client token,
    /// and the SDK retries a CreateDeployment that timed out or met a 5xx: when the attempt that failed
    /// (or a retry's DeploymentLimitExceededException) may hide our own deployment, it is looked for
    /// by its run id and followed, so there is never a second deployment nor a "conflict" with
    /// ourselves.
    pub(super) async fn create_deployment(
        &self,
        td_arn: &str,
        run_id: &str,
        audit: &Record,
        observer: &dyn Observer,
    ) -> Result<String, Error> {
        let doc = appspec::build(
            td_arn,
            &self.plan.service_definition,
            &self.plan.codedeploy.hooks,
        );
        let (content, sha) = appspec::content(&doc);
        let description = description(&self.images_said(), run_id, audit);
        let out = self
            .aws
            .codedeploy
            .create_deployment()
            .application_name(&self.plan.application)
            .deployment_group_name(&self.plan.deployment_group)
            .description(description)
            .revision(
                RevisionLocation::builder()
                    .revision_type(RevisionLocationType::AppSpecContent)
                    .app_spec_content(
                        AppSpecContent::builder()
                            .content(content)
                            .sha256(sha)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await;
        let err = match out {
            Ok(o) => return Ok(o.deployment_id().unwrap_or_default().to_string()),
            Err(e) => e,
        };
        let limit = matches!(
            err.as_service_error(),
            Some(CreateDeploymentError::DeploymentLimitExceededException(_))
        );
        let failure = call_failure("codedeploy:CreateDeployment", err);
        let ambiguous = matches!(failure.healing, Healing::Transient | Healing::Throttled);
        if (limit || ambiguous)
            && let Some(id) = self.find_own_deployment(run_id).await
        {
            observer.on_event(&Event::Step {
                message: format!(
                    "CreateDeployment answered {} but had created deployment {id}: following it",
                    failure.code.as_deref().unwrap_or("an error")
                ),
            });
            return Ok(id);
        }
        if limit {
            return Err(Error::Conflict {
                message: format!(
                    "deployment group {} already has an active deployment (it started after kirikae checked)",
                    self.plan.deployment_group
                ),
                hint: Some("wait for it to end, or stop it with aws deploy stop-deployment".into()),
            });
        }
        Err(failure.into_error())
    }

    /// The group's deployment whose description carries `run_id`, if AWS lists it. Asked a few times:
    /// a deployment just created may take a moment to be listed.
    async fn find_own_deployment(&self, run_id: &str) -> Option<String> {
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            match self.deployments_with(run_id).await {
                Ok(Some(id)) => return Some(id),
                Ok(None) => {}
                Err(e) => tracing::warn!("could not look for our deployment: {e}"),
            }
        }
        None
    }

    async fn deployments_with(&self, run_id: &str) -> Result<Option<String>, Error> {
        let cd = &self.aws.codedeploy;
        // Ours was created minutes ago at most: only look at those (every page of them).
        let since = aws_sdk_codedeploy::primitives::DateTime::from_secs(
            crate::progress::now_epoch() as i64 - 15 * 60,
        );
        let mut pages = cd
            .list_deployments()
            .application_name(&self.plan.application)
            .deployment_group_name(&self.plan.deployment_group)
            .create_time_range(TimeRange::builder().start(since).build())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("codedeploy:ListDeployments", e))?;
            for chunk in page.deployments().chunks(25) {
                let got = cd
                    .batch_get_deployments()
                    .set_deployment_ids(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| failed("codedeploy:BatchGetDeployments", e))?;
                if let Some(d) = got
                    .deployments_info()
                    .iter()
                    .find(|d| carries_run_id(d, run_id))
                {
                    return Ok(d.deployment_id().map(str::to_string));
                }
            }
        }
        Ok(None)
    }

    fn images_said(&self) -> String {
        self.images()
            .iter()
            .map(|i| format!("{}={}", i.container, i.image))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The marker a deployment's description carries for the run that created it.
fn run_marker(run_id: &str) -> String {
    format!("[kirikae run {run_id}]")
}

/// CodeDeploy's description: the images, then the run marker (kept whole when the images are long),
/// then who started it and from where ([`Record::marker`], read back by `kirikae history`). The model
/// sets no length limit on a description; the images are cut at 1000 characters and the record's
/// fields are bounded.
pub(super) fn description(images: &str, run_id: &str, audit: &Record) -> String {
    const MAX: usize = 1000;
    let marker = run_marker(run_id);
    let mut head = format!("kirikae deploy: {images}");
    if head.len() + marker.len() + 1 > MAX {
        let mut cut = MAX - marker.len() - " …".len();
        while !head.is_char_boundary(cut) {
            cut -= 1;
        }
        head.truncate(cut);
        head.push('…');
    }
    format!("{head} {marker} {}", audit.marker())
}

/// Whether `d` is the deployment run `run_id` created (a rollback CodeDeploy made of it may carry
/// the same description, and is not).
fn carries_run_id(d: &DeploymentInfo, run_id: &str) -> bool {
    !crate::history::is_rollback(d)
        && d.description()
            .is_some_and(|text| text.contains(&run_marker(run_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_always_ends_with_the_whole_run_marker() {
        let audit = Record::default();
        let d = description("web=kirikae/demo:v2", "0f8e", &audit);
        assert_eq!(
            d,
            format!(
                "kirikae deploy: web=kirikae/demo:v2 [kirikae run 0f8e] {}",
                audit.marker()
            )
        );
        let long = "x".repeat(5000);
        let d = description(&long, "0f8e", &audit);
        let head = d.strip_suffix(&format!(" {}", audit.marker())).unwrap();
        assert!(
            head.len() <= 1000 && head.ends_with("[kirikae run 0f8e]"),
            "{}",
            head.len()
        );
        assert_eq!(Record::parse(&d), Some(audit));
        let info = DeploymentInfo::builder().description(d).build();
        assert!(carries_run_id(&info, "0f8e"));
        assert!(!carries_run_id(&info, "0f8"));
    }
}
