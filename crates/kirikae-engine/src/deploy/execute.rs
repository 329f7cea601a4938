//! The flow of one deploy: the mutating steps, then following what they created to its end.
//!
//! Before the deployment (or the new service) exists, a failed step ends the run with an outcome that
//! lists what was changed so far (exit 1). From the moment it exists, the [`crate::watch`] state
//! machines take over, and they end only with values: success, AWS's failure or rollback, time-out,
//! lost contact, interrupt — each an outcome with the id and what AWS is doing now.

use tokio::time::Instant;

use super::Prepared;
use super::ending::{self, Changes, Facts};
use crate::audit::Record;
use crate::interrupt::Interrupt;
use crate::lock::{self, Lock};
use crate::notify::Start;
use crate::outcome::{Outcome, Result as Res};
use crate::plan::WaitMode;
use crate::preflight::ServiceState;
use crate::progress::{Event, Observer, console_url, now_epoch};
use crate::watch::Poller;
use crate::watch::deployment::{self as follow_deployment, Target, Until};
use crate::watch::service as follow_service;

/// What the steps created, for the watch that follows.
enum Created {
    /// Nothing to follow: the run ends here, with this result and message.
    Nothing(Res, String),
    Service,
    Deployment(String),
}

/// What following what was created ended with.
#[allow(clippy::large_enum_variant)] // one per run, moved once
enum Followed {
    Service(follow_service::ServiceFollowed),
    /// With the gate and the interrupt/time-out policy around it ([`crate::gate::follow`]).
    Deployment(crate::gate::Guarded),
}

impl Prepared {
    /// Changes AWS and (unless `--no-wait`) follows the result to its end. `interrupt` stops the
    /// waiting, never a change half-made: the step in flight completes first. Always an outcome; the
    /// finish notification is sent with it.
    pub async fn execute(self, observer: &dyn Observer, interrupt: &Interrupt) -> Outcome {
        let run_id = uuid::Uuid::new_v4().to_string();
        // Who and from where, recorded in the deployment; then the deploy lock (crate::lock), which
        // may wait (--wait-for-active) and check again.
        let mut audit = Record::gather(&self.aws).await;
        if let ServiceState::Active {
            task_definition, ..
        } = &self.remote.service
        {
            audit.replaces = task_definition.clone();
        }
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

    fn facts(&self, interrupt: &Interrupt) -> Facts {
        Facts {
            config: self.plan.config_path.display().to_string(),
            region: self.aws.region.clone(),
            cluster: self.plan.cluster.clone(),
            service: self.plan.service.clone(),
            application: self.plan.application.clone(),
            deployment_group: self.plan.deployment_group.clone(),
            images: self.images(),
            started_at: now_epoch(),
            interrupt_code: interrupt.exit_code(),
            changes: Changes::default(),
        }
    }

    /// [`Self::execute`] holding the deploy lock, released once the deployment (or service) exists or
    /// the run ends before it.
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
            Ok(created) => {
                self.announce(&facts, &created, observer).await;
                if self.plan.wait.mode == WaitMode::NoWait {
                    let id = match &created {
                        Created::Deployment(id) => Some(id.as_str()),
                        _ => None,
                    };
                    self.held_for_promote(facts.started(id))
                } else {
                    let deadline = start + self.timeout();
                    let mut poller =
                        Poller::new(observer, interrupt, deadline, self.plan.wait.poll_interval);
                    let followed = self.follow(&created, &mut poller).await;
                    if let Followed::Deployment(crate::gate::Guarded {
                        followed: follow_deployment::Followed::Succeeded(_),
                        ..
                    }) = &followed
                    {
                        self.record_deployed_inputs(observer).await;
                    }
                    facts.interrupt_code = interrupt.exit_code();
                    self.ending_explained(&facts, followed).await
                }
            }
        };
        self.notifier.finished(&outcome, observer).await;
        outcome
    }

    /// The mutating steps, up to the deployment or new service.
    async fn create(
        &self,
        changes: &mut Changes,
        run_id: &str,
        audit: &Record,
        observer: &dyn Observer,
        interrupt: &Interrupt,
    ) -> Result<Created, crate::Error> {
        self.ensure_application(changes, observer).await?;
        let td_arn = self.task_definition(changes, observer).await?;
        if interrupt.is_raised() {
            return Ok(Created::Nothing(
                Res::Interrupted,
                "interrupted before the service or deployment was created".into(),
            ));
        }
        if self.remote.service == ServiceState::Missing {
            // The migration applies to a new service too: its tasks must find the schema they expect.
            if let Some((result, message)) = crate::before_switch::before_creating(
                self, &td_arn, run_id, changes, observer, interrupt,
            )
            .await?
            {
                return Ok(Created::Nothing(result, message));
            }
            self.create_service(&td_arn, run_id, changes, observer)
                .await?;
            self.ensure_group(changes, observer).await?;
            return Ok(Created::Service);
        }
        self.ensure_group(changes, observer).await?;
        self.update_service_settings(changes, observer).await?;
        if self.remote.up_to_date.is_some() && !self.plan.force {
            let msg = format!(
                "nothing to deploy: {}/{} already runs {} (--force deploys it again)",
                self.plan.cluster,
                self.plan.service,
                super::short_arn(&td_arn)
            );
            return Ok(Created::Nothing(Res::Succeeded, msg));
        }
        if interrupt.is_raised() {
            return Ok(Created::Nothing(
                Res::Interrupted,
                "interrupted before the deployment was created".into(),
            ));
        }
        // After "nothing to deploy" (no migration for a revision already running), right before the
        // switch is created.
        if let Some((result, message)) = crate::before_switch::before_creating(
            self, &td_arn, run_id, changes, observer, interrupt,
        )
        .await?
        {
            return Ok(Created::Nothing(result, message));
        }
        let id = self
            .create_deployment(&td_arn, run_id, audit, observer)
            .await?;
        observer.on_event(&Event::DeploymentCreated {
            deployment_id: id.clone(),
            console_url: console_url(&self.aws.region, &id),
            task_definition: td_arn,
        });
        Ok(Created::Deployment(id))
    }

    /// The start notification, once something runs in AWS.
    async fn announce(&self, facts: &Facts, created: &Created, observer: &dyn Observer) {
        let deployment_id = match created {
            Created::Deployment(id) => Some(id.clone()),
            _ => None,
        };
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
            console_url: deployment_id
                .as_ref()
                .map(|id| console_url(&facts.region, id)),
            deployment_id,
        };
        self.notifier.started(&start, observer).await;
    }

    async fn follow(&self, created: &Created, poller: &mut Poller<'_>) -> Followed {
        match created {
            Created::Deployment(id) => {
                let target_id = self.plan.target_id();
                let target = Target {
                    aws: &self.aws,
                    target_id: &target_id,
                    until: match &self.plan.wait.mode {
                        WaitMode::Until(e) => Until::Event(e.clone()),
                        _ => Until::End,
                    },
                    rollback_expected: !self.desired_group.auto_rollback_events.is_empty(),
                    waits: self.waits(),
                };
                let guard = self.guard();
                Followed::Deployment(crate::gate::follow(poller, &target, id, &guard).await)
            }
            _ => Followed::Service(
                follow_service::follow(poller, &self.aws, &self.plan.cluster, &self.plan.service)
                    .await,
            ),
        }
    }

    fn ending(&self, facts: &Facts, followed: Followed) -> Outcome {
        match followed {
            Followed::Service(s) => {
                let tg = self.tg_name(&self.remote.initial_target_group_arn(&self.plan));
                ending::service(facts, &tg, s)
            }
            Followed::Deployment(g) => {
                let event = match &self.plan.wait.mode {
                    WaitMode::Until(e) => Some(e.as_str()),
                    _ => None,
                };
                let mut out = ending::deployment(facts, g.followed.clone(), event);
                g.explain(&mut out, facts.interrupt_code);
                out
            }
        }
    }

    /// The ending, with AWS's reasons when the deployment failed.
    async fn ending_explained(&self, facts: &Facts, followed: Followed) -> Outcome {
        let failed = match &followed {
            Followed::Deployment(g) => match &g.followed {
                follow_deployment::Followed::NotRolledBack(s)
                | follow_deployment::Followed::RolledBack { ended: s, .. } => Some(s.clone()),
                follow_deployment::Followed::Unfinished { last: Some(s), .. }
                    if s.is_terminal() =>
                {
                    Some(s.clone())
                }
                _ => None,
            },
            _ => None,
        };
        let mut outcome = self.ending(facts, followed);
        if let Some(snap) = failed {
            let diagnosis = self.diagnose(&snap).await;
            if !diagnosis.is_empty() {
                outcome.diagnosis = Some(diagnosis);
            }
        }
        outcome
    }
}
