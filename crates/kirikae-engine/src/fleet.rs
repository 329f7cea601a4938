//! Several services in one run (`kirikae deploy -c a.yml -c b.yml …`), on either controller: every
//! config is checked (read-only, concurrently, at most `concurrency` at once) before anything changes
//! anywhere; only when every check passed are they executed, concurrently under the same limit and the
//! connection's one API budget. A service that waited for its turn is checked again right before it
//! executes: what it was checked against may have changed meanwhile.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::connection::{Clients, Connection};
use crate::deploy::ending::{Changes, Facts};
use crate::deploy::{self, Prepared};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::native::{self, NativePlan, NativePrepared};
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::progress::{Observer, Silent, now_epoch};

/// One config of a run, validated without AWS: a service deployed through CodeDeploy (`codedeploy:`)
/// or by ECS itself (`ecs:`).
#[derive(Debug)]
pub enum Planned {
    CodeDeploy(Box<Plan>),
    Native(Box<NativePlan>),
}

/// One service checked against AWS; nothing changed yet.
#[derive(Debug)]
pub enum Ready {
    CodeDeploy(Box<Prepared>),
    Native(Box<NativePrepared>),
}

impl Planned {
    fn notifier(&self) -> Notifier {
        match self {
            Planned::CodeDeploy(p) => Notifier::new(&p.notifications),
            Planned::Native(p) => Notifier::new(&p.notifications),
        }
    }

    async fn prepare(self, connection: &Connection) -> Result<Ready, Error> {
        Ok(match self {
            Planned::CodeDeploy(p) => {
                Ready::CodeDeploy(Box::new(deploy::prepare(*p, connection).await?))
            }
            Planned::Native(p) => Ready::Native(Box::new(native::prepare(*p, connection).await?)),
        })
    }

    /// What a refusal outcome knows about a plan that did not pass its checks.
    fn refusal_facts(&self, region: String) -> Facts {
        let (config, cluster, service, images) = match self {
            Planned::CodeDeploy(p) => (
                &p.config_path,
                &p.cluster,
                &p.service,
                p.task_definition.images(),
            ),
            Planned::Native(p) => (
                &p.config_path,
                &p.cluster,
                &p.service,
                p.task_definition.images(),
            ),
        };
        let (application, deployment_group) = match self {
            Planned::CodeDeploy(p) => (p.application.clone(), p.deployment_group.clone()),
            // No CodeDeploy application or group on the ECS controller.
            Planned::Native(_) => (String::new(), String::new()),
        };
        Facts {
            config: config.display().to_string(),
            region,
            cluster: cluster.clone(),
            service: service.clone(),
            application,
            deployment_group,
            images: images
                .into_iter()
                .map(|(container, image)| crate::outcome::Image { container, image })
                .collect(),
            started_at: now_epoch(),
            interrupt_code: crate::interrupt::DEFAULT_EXIT_CODE,
            changes: Changes::default(),
        }
    }

    fn region(&self) -> Option<&str> {
        match self {
            Planned::CodeDeploy(p) => p.region.as_deref(),
            Planned::Native(p) => p.region.as_deref(),
        }
    }
}

impl Ready {
    pub fn config_path(&self) -> &Path {
        match self {
            Ready::CodeDeploy(p) => &p.plan.config_path,
            Ready::Native(p) => &p.plan.config_path,
        }
    }

    pub fn cluster(&self) -> &str {
        match self {
            Ready::CodeDeploy(p) => &p.plan.cluster,
            Ready::Native(p) => &p.plan.cluster,
        }
    }

    pub fn service(&self) -> &str {
        match self {
            Ready::CodeDeploy(p) => &p.plan.service,
            Ready::Native(p) => &p.plan.service,
        }
    }

    /// Changes AWS and follows the deployment: always an outcome.
    pub async fn execute(self, observer: &dyn Observer, interrupt: &Interrupt) -> Outcome {
        match self {
            Ready::CodeDeploy(p) => p.execute(observer, interrupt).await,
            Ready::Native(p) => p.execute(observer, interrupt).await,
        }
    }

    /// The checks again, right before executing; a refusal is this service's outcome (nothing changed).
    async fn recheck(self) -> Result<Ready, Box<Outcome>> {
        let (planned, aws, notifier): (Planned, Clients, Notifier) = match self {
            Ready::CodeDeploy(p) => {
                let Prepared {
                    plan,
                    aws,
                    notifier,
                    ..
                } = *p;
                (Planned::CodeDeploy(Box::new(plan)), aws, notifier)
            }
            Ready::Native(p) => {
                let NativePrepared {
                    plan,
                    aws,
                    notifier,
                    ..
                } = *p;
                (Planned::Native(Box::new(plan)), aws, notifier)
            }
        };
        let facts = planned.refusal_facts(aws.region.clone());
        let checked = match planned {
            Planned::CodeDeploy(plan) => deploy::prepare_with(*plan, aws)
                .await
                .map(|p| Ready::CodeDeploy(Box::new(p))),
            Planned::Native(plan) => native::prepare_with(*plan, aws)
                .await
                .map(|p| Ready::Native(Box::new(p))),
        };
        match checked {
            Ok(ready) => Ok(ready),
            Err(e) => {
                let outcome = facts.failed(&e, None);
                notifier.finished(&outcome, &Silent).await;
                Err(Box::new(outcome))
            }
        }
    }
}

/// How the checks of a run ended.
pub enum Checked {
    /// Every config passed: ready to execute, in command-line order.
    Ready(Vec<Ready>),
    /// Some failed (in command-line order); nothing was changed anywhere. Each is the error and its
    /// outcome (result `error`, exit 2 for bad input, else 1), already notified.
    Refused(Vec<(Error, Outcome)>),
    /// Interrupted while checking; nothing was changed.
    Interrupted,
}

/// Checks every plan against AWS, changing nothing.
pub async fn check_all(
    plans: Vec<Planned>,
    connection: &Connection,
    concurrency: usize,
    interrupt: &Interrupt,
) -> Checked {
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut checks = JoinSet::new();
    for (index, plan) in plans.into_iter().enumerate() {
        let (connection, limit) = (connection.clone(), limit.clone());
        checks.spawn(async move {
            let _turn = limit.acquire_owned().await.expect("semaphore open");
            let region = connection
                .region
                .clone()
                .or_else(|| plan.region().map(str::to_string))
                .unwrap_or_default();
            let facts = plan.refusal_facts(region);
            let notifier = plan.notifier();
            let checked = plan.prepare(&connection).await;
            (index, checked.map_err(|e| (facts, notifier, e)))
        });
    }
    let mut done = Vec::new();
    loop {
        tokio::select! {
            next = checks.join_next() => match next {
                Some(Ok(r)) => done.push(r),
                Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
                None => break,
            },
            _ = interrupt.raised() => return Checked::Interrupted,
        }
    }
    done.sort_by_key(|(i, _)| *i);
    let mut ready = Vec::new();
    let mut refused = Vec::new();
    for (_, r) in done {
        match r {
            Ok(p) => ready.push(p),
            Err((facts, notifier, e)) => {
                let outcome = facts.failed(&e, None);
                notifier.finished(&outcome, &Silent).await;
                refused.push((e, outcome));
            }
        }
    }
    if refused.is_empty() {
        Checked::Ready(ready)
    } else {
        Checked::Refused(refused)
    }
}

/// Executes checked deploys, at most `concurrency` at once; `observer(i)` receives service `i`'s events
/// and `finished(i, outcome)` is called as each ends. Outcomes in command-line order.
pub async fn execute_all<O>(
    prepared: Vec<Ready>,
    concurrency: usize,
    observer: impl Fn(usize) -> O,
    finished: impl Fn(usize, &Outcome),
    interrupt: &Interrupt,
) -> Vec<Outcome>
where
    O: Observer + 'static,
{
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let waits_for_turn = prepared.len() > concurrency;
    let mut tasks = JoinSet::new();
    for (index, p) in prepared.into_iter().enumerate() {
        let (limit, interrupt, observer) = (limit.clone(), interrupt.clone(), observer(index));
        tasks.spawn(async move {
            let _turn = limit.acquire_owned().await.expect("semaphore open");
            let p = if waits_for_turn {
                match p.recheck().await {
                    Ok(p) => p,
                    Err(outcome) => return (index, *outcome),
                }
            } else {
                p
            };
            (index, p.execute(&observer, &interrupt).await)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => {
                finished(index, &outcome);
                outcomes.push((index, outcome));
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}
