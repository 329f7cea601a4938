//! One service's deploy: [`prepare`] (connect and run the read-only checks) gives a [`Prepared`] deploy
//! that can be previewed (`--dry-run`) or executed. Execution changes AWS in this order: application,
//! task definition, service (when new), deployment group, deployment; then waits.

use std::time::Duration;

use aws_sdk_codedeploy::operation::create_application::CreateApplicationError;
use aws_sdk_codedeploy::operation::create_deployment::CreateDeploymentError;
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, RevisionLocation, RevisionLocationType,
};
use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::appspec;
use crate::aws::failed;
use crate::connection::{Clients, Connection};
use crate::definitions::task::SPEC_TAG;
use crate::error::Error;
use crate::group::{Change, GroupSettings};
use crate::notify::{Notifier, Start};
use crate::outcome::{self, GroupAction, Image, Outcome, Result as Res, RollbackOutcome};
use crate::plan::{Plan, WaitMode};
use crate::preflight::{self, Remote, ServiceState};
use crate::preview::Preview;
use crate::progress::{
    DeploymentSnapshot, Event, Observer, ServiceSnapshot, console_url, now_epoch,
};
use crate::watch::{End, Until, Watcher};

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
}

/// Connects and checks, without changing anything.
pub async fn prepare(plan: Plan, connection: &Connection) -> Result<Prepared, Error> {
    let aws = connection.connect(plan.region.as_deref()).await?;
    prepare_with(plan, aws).await
}

/// Checks, without changing anything, with clients already built (`kirikae demo` uses its own, with fixed
/// sandbox credentials, so it can never reach a real account).
pub async fn prepare_with(plan: Plan, aws: Clients) -> Result<Prepared, Error> {
    let remote = preflight::check(&plan, &aws).await?;
    let desired_group = preflight::desired_group(&plan, &remote);
    let group_changes = remote
        .group
        .as_ref()
        .map(|g| g.diff(&desired_group))
        .unwrap_or_default();
    let notifier = Notifier::new(&plan.notifications);
    Ok(Prepared {
        plan,
        remote,
        aws,
        desired_group,
        group_changes,
        notifier,
    })
}

/// Mutable facts gathered while executing, for the outcome.
struct Progress {
    started_at: f64,
    application_created: bool,
    group_action: GroupAction,
    task_definition_arn: Option<String>,
    registered: bool,
    service_created: bool,
    service_changes: Vec<Change>,
}

impl Prepared {
    /// What would be done (`--dry-run`).
    pub fn preview(&self) -> Preview {
        Preview::new(self)
    }

    fn images(&self) -> Vec<Image> {
        self.plan
            .task_definition
            .images()
            .into_iter()
            .map(|(container, image)| Image { container, image })
            .collect()
    }

    /// How long to wait at most: `--timeout`, else the group's waits plus 30 minutes (AWS time; the
    /// sandbox's scaled clock only makes it generous).
    fn deadline(&self, start: Instant) -> Option<Instant> {
        let timeout = self.plan.wait.timeout.unwrap_or_else(|| {
            let g = &self.desired_group;
            Duration::from_secs(
                60 * (30
                    + g.ready_wait_minutes.max(0) as u64
                    + g.termination_wait_minutes.max(0) as u64),
            )
        });
        Some(start + timeout)
    }

    /// Changes AWS and (unless `--no-wait`) waits for the result. `cancel` (Ctrl-C) stops the waiting, never
    /// a change half-made: the step in flight completes first.
    pub async fn execute(
        self,
        observer: &dyn Observer,
        cancel: CancellationToken,
    ) -> Result<Outcome, Error> {
        let start = Instant::now();
        let mut p = Progress {
            started_at: now_epoch(),
            application_created: false,
            group_action: GroupAction::Unchanged,
            task_definition_arn: None,
            registered: false,
            service_created: false,
            service_changes: Vec::new(),
        };
        self.ensure_application(&mut p, observer).await?;
        let td_arn = self.task_definition(&mut p, observer).await?;

        let watcher = Watcher {
            aws: &self.aws,
            observer,
            cancel: &cancel,
            deadline: self.deadline(start),
            interval: self.plan.wait.poll_interval,
        };

        if cancel.is_cancelled() {
            return Ok(self.outcome(
                &p,
                Res::Interrupted,
                "interrupted before the service or deployment was created".into(),
                None,
                None,
            ));
        }
        if self.remote.service == ServiceState::Missing {
            self.create_service(&td_arn, observer).await?;
            p.service_created = true;
            self.ensure_group(&mut p, observer).await?;
            self.notifier
                .started(
                    &Start {
                        region: self.aws.region.clone(),
                        cluster: self.plan.cluster.clone(),
                        service: self.plan.service.clone(),
                        images: self.images(),
                        task_definition_arn: td_arn.clone(),
                        deployment_id: None,
                        console_url: None,
                    },
                    observer,
                )
                .await;
            let outcome = if self.plan.wait.mode == WaitMode::NoWait {
                self.outcome(
                    &p,
                    Res::Started,
                    format!(
                        "creating service {}/{}; not waiting",
                        self.plan.cluster, self.plan.service
                    ),
                    None,
                    None,
                )
            } else {
                let end = watcher
                    .service_stable(&self.plan.cluster, &self.plan.service)
                    .await?;
                self.service_outcome(&p, end)
            };
            self.notifier.finished(&outcome, observer).await;
            return Ok(outcome);
        }

        self.ensure_group(&mut p, observer).await?;
        self.sync_desired_count(&mut p, observer).await?;
        if self.remote.up_to_date.is_some() && !self.plan.force {
            let msg = format!(
                "nothing to deploy: {}/{} already runs {} (--force deploys it again)",
                self.plan.cluster,
                self.plan.service,
                short_arn(&td_arn)
            );
            return Ok(self.outcome(&p, Res::Succeeded, msg, None, None));
        }
        if cancel.is_cancelled() {
            return Ok(self.outcome(
                &p,
                Res::Interrupted,
                "interrupted before the deployment was created".into(),
                None,
                None,
            ));
        }
        let id = self.create_deployment(&td_arn).await?;
        let url = console_url(&self.aws.region, &id);
        observer.on_event(&Event::DeploymentCreated {
            deployment_id: id.clone(),
            console_url: url.clone(),
            task_definition: td_arn.clone(),
        });
        self.notifier
            .started(
                &Start {
                    region: self.aws.region.clone(),
                    cluster: self.plan.cluster.clone(),
                    service: self.plan.service.clone(),
                    images: self.images(),
                    task_definition_arn: td_arn.clone(),
                    deployment_id: Some(id.clone()),
                    console_url: Some(url.clone()),
                },
                observer,
            )
            .await;
        if self.plan.wait.mode == WaitMode::NoWait {
            let outcome = self.outcome(
                &p,
                Res::Started,
                format!("deployment {id} started; not waiting"),
                Some(id),
                None,
            );
            self.notifier.finished(&outcome, observer).await;
            return Ok(outcome);
        }
        let until = match &self.plan.wait.mode {
            WaitMode::Until(e) => Until::Event(e),
            _ => Until::End,
        };
        let end = watcher
            .deployment(&id, &self.plan.target_id(), until)
            .await?;
        let outcome = self.deployment_outcome(&p, &id, end, &watcher).await?;
        self.notifier.finished(&outcome, observer).await;
        Ok(outcome)
    }

    async fn ensure_application(
        &self,
        p: &mut Progress,
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

    async fn task_definition(
        &self,
        p: &mut Progress,
        observer: &dyn Observer,
    ) -> Result<String, Error> {
        if let Some(arn) = &self.remote.up_to_date {
            observer.on_event(&Event::Step {
                message: format!("task definition {} is unchanged", short_arn(arn)),
            });
            p.task_definition_arn = Some(arn.clone());
            return Ok(arn.clone());
        }
        if let Some(arn) = &self.remote.existing_task_definition {
            observer.on_event(&Event::Step {
                message: format!("using task definition {}", short_arn(arn)),
            });
            p.task_definition_arn = Some(arn.clone());
            return Ok(arn.clone());
        }
        #[allow(deprecated)] // inference_accelerators: passed through as given
        let i = self.plan.task_definition.input.clone();
        #[allow(deprecated)]
        let out = self
            .aws
            .ecs
            .register_task_definition()
            .set_family(i.family)
            .set_task_role_arn(i.task_role_arn)
            .set_execution_role_arn(i.execution_role_arn)
            .set_network_mode(i.network_mode)
            .set_container_definitions(i.container_definitions)
            .set_volumes(i.volumes)
            .set_placement_constraints(i.placement_constraints)
            .set_requires_compatibilities(i.requires_compatibilities)
            .set_cpu(i.cpu)
            .set_memory(i.memory)
            .set_tags(Some(self.tags_with_spec(i.tags)))
            .set_pid_mode(i.pid_mode)
            .set_ipc_mode(i.ipc_mode)
            .set_proxy_configuration(i.proxy_configuration)
            .set_inference_accelerators(i.inference_accelerators)
            .set_ephemeral_storage(i.ephemeral_storage)
            .set_runtime_platform(i.runtime_platform)
            .set_enable_fault_injection(i.enable_fault_injection)
            .send()
            .await
            .map_err(|e| failed("ecs:RegisterTaskDefinition", e))?;
        let arn = out
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap_or_default()
            .to_string();
        observer.on_event(&Event::Step {
            message: format!("registered task definition {}", short_arn(&arn)),
        });
        p.task_definition_arn = Some(arn.clone());
        p.registered = true;
        Ok(arn)
    }

    /// The file's tags plus the spec fingerprint that makes the next identical run a no-op.
    fn tags_with_spec(
        &self,
        tags: Option<Vec<aws_sdk_ecs::types::Tag>>,
    ) -> Vec<aws_sdk_ecs::types::Tag> {
        let mut tags: Vec<_> = tags
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.key() != Some(SPEC_TAG))
            .collect();
        tags.push(
            aws_sdk_ecs::types::Tag::builder()
                .key(SPEC_TAG)
                .value(self.plan.task_definition.spec_hash())
                .build(),
        );
        tags
    }

    async fn create_service(&self, td_arn: &str, observer: &dyn Observer) -> Result<(), Error> {
        let i = self.plan.service_definition.input.clone();
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
            .set_client_token(i.client_token)
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
            .set_tags(i.tags)
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
    async fn sync_desired_count(
        &self,
        p: &mut Progress,
        observer: &dyn Observer,
    ) -> Result<(), Error> {
        let Some(change) = self.desired_count_change() else {
            return Ok(());
        };
        let to: i32 = change.to.parse().expect("a count");
        self.aws
            .ecs
            .update_service()
            .cluster(&self.plan.cluster)
            .service(&self.plan.service)
            .desired_count(to)
            .send()
            .await
            .map_err(|e| failed("ecs:UpdateService", e))?;
        observer.on_event(&Event::Step {
            message: format!(
                "desired count of {}/{}: {} → {}",
                self.plan.cluster, self.plan.service, change.from, change.to
            ),
        });
        p.service_changes.push(change);
        Ok(())
    }

    /// The desired count change an existing service needs, if any.
    pub fn desired_count_change(&self) -> Option<Change> {
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

    async fn ensure_group(&self, p: &mut Progress, observer: &dyn Observer) -> Result<(), Error> {
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
            Some(_) if !self.group_changes.is_empty() => {
                self.desired_group
                    .update(client, &self.plan.application, &self.plan.deployment_group)
                    .await?;
                p.group_action = GroupAction::Updated;
                observer.on_event(&Event::GroupUpdated {
                    name: self.plan.deployment_group.clone(),
                    changes: self.group_changes.clone(),
                });
            }
            Some(_) => {}
        }
        Ok(())
    }

    async fn create_deployment(&self, td_arn: &str) -> Result<String, Error> {
        let doc = appspec::build(
            td_arn,
            &self.plan.service_definition,
            &self.plan.codedeploy.hooks,
        );
        let (content, sha) = appspec::content(&doc);
        let images: Vec<String> = self
            .images()
            .iter()
            .map(|i| format!("{}={}", i.container, i.image))
            .collect();
        let out = self
            .aws
            .codedeploy
            .create_deployment()
            .application_name(&self.plan.application)
            .deployment_group_name(&self.plan.deployment_group)
            .description(format!("kirikae deploy: {}", images.join(", ")))
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
        match out {
            Ok(o) => Ok(o.deployment_id().unwrap_or_default().to_string()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateDeploymentError::DeploymentLimitExceededException(_))
                ) =>
            {
                Err(Error::Conflict {
                    message: format!(
                        "deployment group {} already has an active deployment (it started after kirikae checked)",
                        self.plan.deployment_group
                    ),
                    hint: Some(
                        "wait for it to end, or stop it with aws deploy stop-deployment".into(),
                    ),
                })
            }
            Err(e) => Err(failed("codedeploy:CreateDeployment", e)),
        }
    }

    fn outcome(
        &self,
        p: &Progress,
        result: Res,
        message: String,
        deployment_id: Option<String>,
        last: Option<&DeploymentSnapshot>,
    ) -> Outcome {
        let finished_at = now_epoch();
        let next_steps = self.next_steps(result, deployment_id.as_deref(), last);
        Outcome {
            config: self.plan.config_path.display().to_string(),
            region: self.aws.region.clone(),
            cluster: self.plan.cluster.clone(),
            service: self.plan.service.clone(),
            result,
            message,
            next_steps,
            application: self.plan.application.clone(),
            application_created: p.application_created,
            deployment_group: self.plan.deployment_group.clone(),
            deployment_group_action: p.group_action.clone(),
            deployment_group_changes: if matches!(p.group_action, GroupAction::Updated) {
                self.group_changes.clone()
            } else {
                Vec::new()
            },
            task_definition_arn: p.task_definition_arn.clone(),
            task_definition_registered: p.registered,
            images: self.images(),
            service_created: p.service_created,
            service_changes: p.service_changes.clone(),
            console_url: deployment_id
                .as_ref()
                .map(|id| console_url(&self.aws.region, id)),
            deployment_id,
            status: last.map(|s| s.status.clone()),
            error: last.and_then(|s| s.error.clone()),
            rollback: None,
            timeline: last.map(outcome::timeline).unwrap_or_default(),
            started_at: p.started_at,
            finished_at,
            duration_seconds: finished_at - p.started_at,
        }
    }

    /// What someone can do next when the deploy ended while AWS still works on it.
    fn next_steps(
        &self,
        result: Res,
        deployment_id: Option<&str>,
        last: Option<&DeploymentSnapshot>,
    ) -> Vec<String> {
        if !matches!(
            result,
            Res::TimedOut | Res::Interrupted | Res::Reached | Res::Started
        ) {
            return Vec::new();
        }
        let Some(id) = deployment_id else {
            return vec![format!(
                "follow it: aws ecs describe-services --cluster {} --services {}",
                self.plan.cluster, self.plan.service
            )];
        };
        let mut steps = vec![format!("follow it: {}", console_url(&self.aws.region, id))];
        if last.is_some_and(|s| s.status == "Ready") {
            steps.push(format!(
                "shift production traffic: aws deploy continue-deployment --deployment-id {id} --deployment-wait-type READY_WAIT"
            ));
        }
        steps.push(format!("stop it and roll back: aws deploy stop-deployment --deployment-id {id} --auto-rollback-enabled"));
        steps
    }

    fn service_outcome(&self, p: &Progress, end: End<ServiceSnapshot>) -> Outcome {
        let name = format!("{}/{}", self.plan.cluster, self.plan.service);
        let tg = self.tg_name(&self.remote.initial_target_group_arn(&self.plan));
        match end {
            End::Done(s) => self.outcome(
                p,
                Res::Succeeded,
                format!(
                    "created service {name}: {} task(s) running behind target group {tg}",
                    s.running_count
                ),
                None,
                None,
            ),
            End::Failed(_, why) => self.outcome(
                p,
                Res::Failed,
                format!("created service {name}, but it is not starting: {why}"),
                None,
                None,
            ),
            End::TimedOut(s) => self.outcome(
                p,
                Res::TimedOut,
                format!(
                    "timed out while service {name} starts ({}); ECS goes on starting it",
                    s.map(|s| format!("{}/{} running", s.running_count, s.desired_count))
                        .unwrap_or_default(),
                ),
                None,
                None,
            ),
            End::Interrupted(_) => self.outcome(
                p,
                Res::Interrupted,
                format!("interrupted while service {name} starts; ECS goes on starting it"),
                None,
                None,
            ),
        }
    }

    fn tg_name(&self, arn: &str) -> String {
        self.remote
            .target_groups
            .iter()
            .find(|(_, a)| a == arn)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| arn.to_string())
    }

    async fn deployment_outcome(
        &self,
        p: &Progress,
        id: &str,
        end: End<DeploymentSnapshot>,
        watcher: &Watcher<'_>,
    ) -> Result<Outcome, Error> {
        let snap = match end {
            End::Done(s) => s,
            End::Failed(s, why) => {
                let msg = format!("deployment {id}: {why}");
                return Ok(self.outcome(p, Res::Failed, msg, Some(id.to_string()), s.as_ref()));
            }
            End::TimedOut(s) => {
                let status = s.as_ref().map(|s| s.status.as_str()).unwrap_or("running");
                let msg = format!("timed out; deployment {id} is still {status} in AWS");
                return Ok(self.outcome(p, Res::TimedOut, msg, Some(id.to_string()), s.as_ref()));
            }
            End::Interrupted(s) => {
                let msg = format!("interrupted; deployment {id} goes on in AWS");
                return Ok(self.outcome(
                    p,
                    Res::Interrupted,
                    msg,
                    Some(id.to_string()),
                    s.as_ref(),
                ));
            }
        };
        let images: Vec<String> = self
            .images()
            .iter()
            .map(|i| format!("{}={}", i.container, i.image))
            .collect();
        match snap.status.as_str() {
            "Succeeded" => {
                let green = snap
                    .task_sets
                    .iter()
                    .find(|t| t.status == "PRIMARY")
                    .and_then(|t| t.target_group.clone());
                let msg = format!(
                    "deployed {} to {}/{}: production traffic on green{}, blue terminated",
                    images.join(", "),
                    self.plan.cluster,
                    self.plan.service,
                    green.map(|g| format!(" ({g})")).unwrap_or_default()
                );
                Ok(self.outcome(p, Res::Succeeded, msg, Some(id.to_string()), Some(&snap)))
            }
            "Failed" | "Stopped" => self.failure_outcome(p, id, snap, watcher).await,
            _ => {
                // --wait-until reached.
                let event = match &self.plan.wait.mode {
                    WaitMode::Until(e) => e.clone(),
                    _ => String::new(),
                };
                let msg = format!(
                    "{event} succeeded; deployment {id} goes on ({})",
                    snap.status
                );
                Ok(self.outcome(p, Res::Reached, msg, Some(id.to_string()), Some(&snap)))
            }
        }
    }

    async fn failure_outcome(
        &self,
        p: &Progress,
        id: &str,
        snap: DeploymentSnapshot,
        watcher: &Watcher<'_>,
    ) -> Result<Outcome, Error> {
        let failed = snap.status == "Failed";
        let why = match &snap.error {
            Some(e) => format!(
                "{}{}",
                e.code
                    .as_deref()
                    .map(|c| format!("{c}: "))
                    .unwrap_or_default(),
                e.message
                    .as_deref()
                    .unwrap_or("no reason given")
                    .trim_end_matches('.')
            ),
            None => "no reason given".into(),
        };
        let verb = if failed { "failed" } else { "was stopped" };
        let mut snap = snap;
        // CodeDeploy records the rollback deployment just after the original ends: give it a few polls
        // when auto-rollback could apply.
        let rollback_expected = !self.desired_group.auto_rollback_events.is_empty();
        if rollback_expected
            && snap
                .rollback
                .as_ref()
                .and_then(|r| r.rollback_deployment_id.as_ref())
                .is_none()
            && let End::Done(s) = watcher
                .deployment(id, &self.plan.target_id(), Until::RollbackId { extra: 3 })
                .await?
        {
            snap = s;
        }
        let rollback_id = snap
            .rollback
            .as_ref()
            .and_then(|r| r.rollback_deployment_id.clone());
        let Some(rollback_id) = rollback_id else {
            let traffic = match snap.green_weight() {
                Some(w) if w > 0.0 => format!("production traffic is on green ({w:.0}%)"),
                _ => "production traffic is still on blue".to_string(),
            };
            let msg = format!("deployment {id} {verb}: {why}; not rolled back: {traffic}");
            let result = if failed { Res::Failed } else { Res::Stopped };
            return Ok(self.outcome(p, result, msg, Some(id.to_string()), Some(&snap)));
        };
        watcher.observer.on_event(&Event::RollbackStarted {
            deployment_id: id.to_string(),
            rollback_deployment_id: rollback_id.clone(),
        });
        let rb_end = watcher
            .deployment(&rollback_id, &self.plan.target_id(), Until::End)
            .await?;
        if let End::Interrupted(_) = rb_end {
            let msg = format!(
                "deployment {id} {verb}: {why}; interrupted while {rollback_id} rolls it back"
            );
            return Ok(self.outcome(p, Res::Interrupted, msg, Some(id.to_string()), Some(&snap)));
        }
        let (rb_status, done) = match &rb_end {
            End::Done(s) => (s.status.clone(), true),
            End::Failed(s, _) | End::TimedOut(s) | End::Interrupted(s) => (
                s.as_ref()
                    .map(|s| s.status.clone())
                    .unwrap_or_else(|| "InProgress".into()),
                false,
            ),
        };
        let on_blue = done && rb_status == "Succeeded";
        let traffic = if on_blue {
            "production traffic is back on blue".to_string()
        } else if done {
            format!("the rollback ended {rb_status}: check where production traffic is")
        } else {
            format!("the rollback {rollback_id} is still {rb_status}")
        };
        let msg = format!("deployment {id} {verb}: {why}; rolled back by {rollback_id}: {traffic}");
        let mut out = self.outcome(p, Res::RolledBack, msg, Some(id.to_string()), Some(&snap));
        out.rollback = Some(RollbackOutcome {
            deployment_id: rollback_id,
            status: rb_status,
            traffic_on_blue: on_blue,
        });
        Ok(out)
    }
}

/// `family:revision` from a task definition ARN.
pub fn short_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
