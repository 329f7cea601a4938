//! What a signal (`--on-interrupt`) or the deadline (`--on-timeout`) does to a deployment that still
//! runs: `leave` it (the default: only the waiting stops, and the ending says how to follow, stop or roll
//! it back), or `rollback`: StopDeployment with CodeDeploy's rollback, then follow the rollback to its end
//! before exiting, saying so. A rollback CodeDeploy already started is followed to its end too.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::interrupt::Interrupt;
use crate::operate;
use crate::outcome::{Outcome, Result as Res};
use crate::progress::Event;
use crate::watch::deployment::{self, Followed, Target, Until};
use crate::watch::{Poller, Stop};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStop {
    /// Stop waiting; the deployment goes on in AWS.
    #[default]
    Leave,
    /// Stop the deployment with rollback and follow the rollback to its end.
    Rollback,
}

/// How long kirikae follows a rollback it started after an interrupt or time-out (a rollback moves
/// traffic back at once and waits for green to drain; AWS minutes, like every wait).
pub const ROLLBACK_BUDGET: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub on_interrupt: OnStop,
    pub on_timeout: OnStop,
}

/// What the policy did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// What ended the wait: [`Stop::Interrupted`] or [`Stop::TimedOut`].
    pub stop: Stop,
    /// StopDeployment failed (then the deployment was left as it was): why.
    pub refused: Option<String>,
}

impl Policy {
    /// What the policy says for the way the wait stopped (both controllers).
    pub(crate) fn on(&self, stop: &Stop) -> OnStop {
        match stop {
            Stop::Interrupted => self.on_interrupt,
            Stop::TimedOut => self.on_timeout,
            Stop::LostContact(_) => OnStop::Leave,
        }
    }
}

/// When the wait stopped on an interrupt or the deadline and the policy says `rollback`: stops the
/// deployment with rollback (unless it already ended or CodeDeploy already rolls it back) and follows
/// the rollback to its end, with a poller of its own (the run's interrupt is raised already; a second
/// signal still exits at once).
pub async fn apply(
    policy: Policy,
    poller: &Poller<'_>,
    target: &Target<'_>,
    followed: Followed,
) -> (Followed, Option<Applied>) {
    let Followed::Unfinished {
        stop,
        id,
        last,
        rollback,
    } = &followed
    else {
        return (followed, None);
    };
    if policy.on(stop) != OnStop::Rollback {
        return (followed, None);
    }
    let ended = last.as_ref().is_some_and(|s| s.is_terminal());
    if ended && rollback.is_none() {
        // AWS's verdict stands: nothing runs that could be rolled back.
        return (followed, None);
    }
    let (stop, id) = (stop.clone(), id.clone());
    let observer = poller.observer();
    let why = match stop {
        Stop::Interrupted => "--on-interrupt rollback",
        _ => "--on-timeout rollback",
    };
    if rollback.is_none() {
        observer.on_event(&Event::Step {
            message: format!(
                "{why}: stopping deployment {id} with rollback (StopDeployment), then following the rollback"
            ),
        });
        if let Err(e) = operate::stop(target.aws, &id, true).await {
            observer.on_event(&Event::Warning {
                message: format!("{why}: could not stop deployment {id}: {e}"),
            });
            let refused = Some(e.to_string().lines().next().unwrap_or_default().to_string());
            return (followed, Some(Applied { stop, refused }));
        }
    } else {
        observer.on_event(&Event::Step {
            message: format!("{why}: following CodeDeploy's rollback of {id} to its end"),
        });
    }
    let fresh = Interrupt::new();
    let mut own = Poller::new(
        observer,
        &fresh,
        Instant::now() + ROLLBACK_BUDGET,
        poller.base,
    );
    let to_end = Target {
        aws: target.aws,
        target_id: target.target_id,
        until: Until::End,
        rollback_expected: true,
        waits: target.waits,
    };
    let rolled = deployment::follow(&mut own, &to_end, &id).await;
    (
        rolled,
        Some(Applied {
            stop,
            refused: None,
        }),
    )
}

/// Says in the outcome what the policy did. An interrupted run keeps its signal's exit status (the
/// deployment is rolled back, and said so); a timed-out one ends as its rollback did (exit 1).
pub fn explain(outcome: &mut Outcome, applied: &Applied, interrupt_code: u8) {
    let (what, flag) = match applied.stop {
        Stop::Interrupted => ("interrupted", "--on-interrupt rollback"),
        _ => ("timed out", "--on-timeout rollback"),
    };
    outcome.message = match &applied.refused {
        Some(why) => format!(
            "{what}; {flag} could not stop the deployment ({why}); {}",
            outcome.message
        ),
        None => format!("{what}; {flag}: {}", outcome.message),
    };
    if applied.stop == Stop::Interrupted && applied.refused.is_none() {
        outcome.result = Res::Interrupted;
        outcome.exit_code = interrupt_code;
    }
    if outcome.rollback.as_ref().is_some_and(|r| r.traffic_on_blue) {
        // Nothing goes on in AWS: nothing to follow, stop or roll back.
        outcome.next_steps.clear();
    }
}
