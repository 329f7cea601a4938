//! Several services in one run (`kirikae deploy -c a.yml -c b.yml …`): every config is checked
//! (read-only, concurrently, at most `concurrency` at once) before anything changes anywhere; only when
//! every check passed are they executed, concurrently under the same limit and the connection's one
//! API budget. A service that waited for its turn is checked again right before it executes: what it
//! was checked against may have changed meanwhile.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::connection::Connection;
use crate::deploy::ending::{Changes, Facts};
use crate::deploy::{self, Prepared};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::progress::{Observer, Silent, now_epoch};

/// How the checks of a run ended.
pub enum Checked {
    /// Every config passed: ready to execute, in command-line order.
    Ready(Vec<Prepared>),
    /// Some failed (in command-line order); nothing was changed anywhere. Each is the error and its
    /// outcome (result `error`, exit 2 for bad input, else 1), already notified.
    Refused(Vec<(Error, Outcome)>),
    /// Interrupted while checking; nothing was changed.
    Interrupted,
}

/// Checks every plan against AWS, changing nothing.
pub async fn check_all(
    plans: Vec<Plan>,
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
            let facts = refusal_facts(&plan, &connection);
            let notifier = Notifier::new(&plan.notifications);
            let checked = deploy::prepare(plan, &connection).await;
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

/// What a refusal outcome knows about a plan that did not pass its checks.
fn refusal_facts(plan: &Plan, connection: &Connection) -> Facts {
    Facts {
        config: plan.config_path.display().to_string(),
        region: connection
            .region
            .clone()
            .or_else(|| plan.region.clone())
            .unwrap_or_default(),
        cluster: plan.cluster.clone(),
        service: plan.service.clone(),
        application: plan.application.clone(),
        deployment_group: plan.deployment_group.clone(),
        images: plan
            .task_definition
            .images()
            .into_iter()
            .map(|(container, image)| crate::outcome::Image { container, image })
            .collect(),
        started_at: now_epoch(),
        interrupt_code: crate::interrupt::DEFAULT_EXIT_CODE,
        changes: Changes::default(),
    }
}

/// Executes checked deploys, at most `concurrency` at once; `observer(i)` receives service `i`'s events
/// and `finished(i, outcome)` is called as each ends. Outcomes in command-line order.
pub async fn execute_all<O>(
    prepared: Vec<Prepared>,
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
                match recheck(p).await {
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

/// The checks again, right before executing; a refusal is this service's outcome (nothing changed).
async fn recheck(p: Prepared) -> Result<Prepared, Box<Outcome>> {
    let Prepared {
        plan,
        aws,
        notifier,
        ..
    } = p;
    let facts = Facts {
        region: aws.region.clone(),
        ..refusal_facts(&plan, &Connection::default())
    };
    match deploy::prepare_with(plan, aws).await {
        Ok(p) => Ok(p),
        Err(e) => {
            let e: Error = e;
            let outcome = facts.failed(&e, None);
            notifier.finished(&outcome, &Silent).await;
            Err(Box::new(outcome))
        }
    }
}
