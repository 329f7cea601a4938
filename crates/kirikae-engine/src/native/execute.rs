//! The flow of one native deploy: the deploy lock, task definition, `before_switch:` task, CreateService
//! or UpdateService and the deployment's audit record, then following the service deployment that call
//! started ([`crate::watch::native`]) to an [`ending`](super::ending).
//! Before the service deployment exists a failed step ends the run with what was changed so far (exit
//! 1); from then on every ending is an outcome with its ARN and what AWS is doing now.

use tokio::time::Instant;

use super::ending;
use super::prepare::NativePrepared;
use crate::audit::Record;
use crate::deploy::ending::{Changes, Facts};
use crate::deploy::short_arn;
use crate::interrupt::Interrupt;
use crate::lock::{self, Lock};
use crate::notify::Start;
use crate::outcome::{Outcome, Result as Res};
use crate::plan::WaitMode;
use crate::progress::{Event, Observer, now_epoch};
use crate::watch::Poller;
use crate::watch::native::Until;

/// What the mutating steps came to.
enum Created {
    /// Nothing to follow: the run ends here, with this result and message.
    Nothing(Res, String),
    /// The service deployment our CreateService / UpdateService started.
    Deployment(String),
}

impl NativePrepared {
    fn facts(&self, interrupt: &Interrupt) -> Facts {
        Facts {
            config: self.plan.config_path.display().to_string(),
            region: self.aws.region.clone(),
            cluster: self.plan.cluster.clone(),
            service: self.plan.service.clone(),
            // No CodeDeploy application or group on the ECS controller.
            application: String::new(),
            deployment_group: String::new(),
            images: self.images(),
            started_at: now_epoch(),
            interrupt_code: interrupt.exit_code(),
            changes: Changes::default(),
        }
    }

    /// Changes AWS and (unless `--no-wait`) follows the service deployment to its end. Who and from
    /// where is gathered first; then the deploy lock ([`crate::lock`], shared with CodeDeploy), which
    /// may wait (`--wait-for-active`) and check again. Always an outcome; the finish notification is
    /// sent with it.
    pub async fn execute(self, observer: &dyn Observer, interrupt: &Interrupt) -> Outcome {
        let run_id = uuid::Uuid::new_v4().to_string();
        let audit = Record::gather(&self.aws).await;
        let mut facts = self.facts(interrupt);
        let notifier = self.notifier.clone();
        let taken = lock::take(self, &run_id, &audit, observer, interrupt).await;
        let (this, lock) = match taken.held_or_outcome(&mut facts, interrupt) {
            Ok(held) => held,
            Err(outcome) => {
                notifier.finished(&outcome, observer).await;
                return *outcome;
            }
        };
        this.execute_locked(&run_id, &audit, lock, observer, interrupt)
            .await
    }

    /// [`Self::execute`] holding the deploy lock, released once the service deployment exists (and its
    /// record is written) or the run ends before it.
    async fn execute_locked(
        self,
        run_id: &str,
        audit: &Record,
        lock: Option<Lock>,
        observer: &dyn Observer,
        interrupt: &Interrupt,
    ) -> Outcome {
        // The wait starts now: time spent queueing for the lock is not taken from --timeout.
        let start = Instant::now();
        let mut facts = self.facts(interrupt);
        for warning in &self.remote.warnings {
            observer.on_event(&Event::Warning {
                message: warning.clone(),
            });
        }
        let created = self
            .create(&mut facts.changes, run_id, audit, observer, interrupt)
            .await;
        if let Some(lock) = lock {
            lock.release(observer).await;
        }
        facts.interrupt_code = interrupt.exit_code();
        let outcome = match created {
            Err(e) => facts.failed(&e, None),
            Ok(Created::Nothing(result, message)) => facts.before_deployment(result, message),
            Ok(Created::Deployment(arn)) => {
                self.announce(&facts, &arn, observer).await;
                match &self.plan.wait.mode {
                    WaitMode::NoWait => {
                        let mut out = facts.before_deployment(
                            Res::Started,
                            format!("service deployment {arn} started; not waiting"),
                        );
                        out.deployment_id = Some(arn.clone());
                        out.console_url = Some(ending::console_url(
                            &facts.region,
                            &facts.cluster,
                            &facts.service,
                        ));
                        out.next_steps = ending::next_steps(&facts.config, &arn, None);
                        self.held_for_promote(out)
                    }
                    mode => {
                        let (until, wait) = match mode {
                            WaitMode::Until(w) if w == super::plan::PAUSED => {
                                (Until::Paused, Some(w.as_str()))
                            }
                            WaitMode::Until(s) => (Until::Stage(s.clone()), Some(s.as_str())),
                            _ => (Until::End, None),
                        };
                        let deadline = start + self.timeout();
                        let mut poller = Poller::new(
                            observer,
                            interrupt,
                            deadline,
                            self.plan.wait.poll_interval,
                        );
                        // The gate at its pause, and --on-interrupt / --on-timeout (native/gate.rs).
                        let guard = self.guard();
                        let guarded =
                            super::gate::follow(&mut poller, &self.aws, &arn, &until, &guard).await;
                        facts.interrupt_code = interrupt.exit_code();
                        let mut out = super::diagnose::ending(
                            &self.aws,
                            &facts,
                            &arn,
                            guarded.followed.clone(),
                            wait,
                        )
                        .await;
                        guarded.explain(&mut out, facts.interrupt_code);
                        out
                    }
                }
            }
        };
        self.notifier.finished(&outcome, observer).await;
        outcome
    }

    /// The mutating steps, up to the service deployment and its record.
    async fn create(
        &self,
        changes: &mut Changes,
        run_id: &str,
        audit: &Record,
        observer: &dyn Observer,
        interrupt: &Interrupt,
    ) -> Result<Created, crate::Error> {
        if self.up_to_date && !self.plan.force {
            changes.task_definition_arn = self.remote.unchanged_task_definition.clone();
            return Ok(Created::Nothing(
                Res::Succeeded,
                format!(
                    "nothing to deploy: {}/{} already runs {} with these settings (--force deploys it again)",
                    self.plan.cluster,
                    self.plan.service,
                    changes
                        .task_definition_arn
                        .as_deref()
                        .map_or("this task definition", short_arn)
                ),
            ));
        }
        let interrupted = || {
            Created::Nothing(
                Res::Interrupted,
                "interrupted before the service was created or updated".into(),
            )
        };
        let td_arn = self.task_definition(changes, observer).await?;
        if interrupt.is_raised() {
            return Ok(interrupted());
        }
        // For a new service too: its first tasks must find what the task prepares (the migration).
        // Not before a change of deployment settings alone: no new revision, nothing switches.
        if (self.starts_deployment || self.plan.force)
            && let Some((result, message)) = self
                .before_switch(&td_arn, run_id, changes, observer, interrupt)
                .await?
        {
            return Ok(Created::Nothing(result, message));
        }
        if interrupt.is_raised() {
            return Ok(interrupted());
        }
        let started = match &self.remote.live {
            None => {
                self.create_service(&td_arn, run_id, changes, observer)
                    .await?
            }
            Some(_) => match self.update_service(&td_arn, changes, observer).await? {
                Some(started) => started,
                None => {
                    return Ok(Created::Nothing(
                        Res::Succeeded,
                        format!(
                            "updated the settings of {}/{} ({}); no service deployment: ECS starts none for them, as the service revision (task definition {}, load balancer, network) is unchanged — the next service deployment runs with them",
                            self.plan.cluster,
                            self.plan.service,
                            self.settings_only_changes().join(", "),
                            short_arn(&td_arn)
                        ),
                    ));
                }
            },
        };
        self.record(&started, run_id, audit, observer).await;
        let arn = started.deployment_arn;
        observer.on_event(&Event::DeploymentCreated {
            deployment_id: arn.clone(),
            console_url: ending::console_url(
                &self.aws.region,
                &self.plan.cluster,
                &self.plan.service,
            ),
            task_definition: td_arn,
        });
        Ok(Created::Deployment(arn))
    }

    /// The start notification, once the service deployment runs.
    async fn announce(&self, facts: &Facts, arn: &str, observer: &dyn Observer) {
        let start = Start {
            region: facts.region.clone(),
            cluster: facts.cluster.clone(),
            service: facts.service.clone(),
            images: facts.images.clone(),
            task_definition_arn: facts
                .changes
                .task_definition_arn
                .clone()
                .unwrap_or_default(),
            deployment_id: Some(arn.to_string()),
            console_url: Some(ending::console_url(
                &facts.region,
                &facts.cluster,
                &facts.service,
            )),
        };
        self.notifier.started(&start, observer).await;
    }
}
