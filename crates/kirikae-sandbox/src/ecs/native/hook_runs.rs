//! The runs of a stage's hooks: created when the stage's action is done, driven on every pass until
//! all have succeeded, one has failed, or one has timed out. PAUSE hooks wait for
//! ContinueServiceDeployment (`api`); Lambda hooks are invoked through `hooks`, again after a
//! `callBackDelay` while they answer IN_PROGRESS.

use super::config::{Hook, HookTarget, TimeoutAction};
use super::deployment::{HookRun, HookStatus, ServiceDeployment};
use super::hooks;
use super::lifecycle::Place;
use crate::ecs::scheduler::timing;
use crate::world::Ctx;

/// Create the runs of the hooks registered at `stages` (only the Lambda ones with `lambda_only`) and
/// return their indices in the deployment's hook runs.
pub fn start(
    cx: &mut Ctx,
    d: &mut ServiceDeployment,
    stages: &[&'static str],
    lambda_only: bool,
) -> Vec<usize> {
    let mut runs = Vec::new();
    for &stage in stages {
        let hooks: Vec<(usize, Hook)> = d
            .plan
            .hooks_at(stage)
            .map(|(i, h)| (i, h.clone()))
            .collect();
        for (i, hook) in hooks {
            let expires_at = timing::after(cx.shared, cx.now, hook.timeout_minutes * 60.0);
            let (status, target_arn) = match &hook.target {
                HookTarget::Pause => (HookStatus::AwaitingAction, None),
                HookTarget::Lambda(arn) => (HookStatus::InProgress, Some(arn.clone())),
            };
            if lambda_only && target_arn.is_none() {
                continue;
            }
            d.hooks.push(HookRun {
                hook_id: hooks::new_hook_id(target_arn.is_none()),
                hook: i,
                stage,
                target_arn,
                status,
                expires_at,
                timeout_action: hook.timeout_action,
                invoking: false,
                next_invoke_at: cx.now,
                // Details a function returned go on to its next call in this deployment.
                details: d
                    .hooks
                    .iter()
                    .rev()
                    .find(|r| r.hook == i)
                    .map_or_else(|| hook.details.clone(), |r| r.details.clone()),
                failure: None,
            });
            runs.push(d.hooks.len() - 1);
        }
    }
    runs
}

/// Where a stage's hooks stand.
pub enum Outcome {
    Waiting,
    /// All succeeded (or timed out with CONTINUE).
    Done,
    /// One failed, or timed out with ROLLBACK: the deployment rolls back for this reason.
    Failed(String),
}

/// Invoke Lambda hooks that are due, time out the ones past their expiry.
pub fn drive(cx: &mut Ctx, at: &Place, d: &mut ServiceDeployment, runs: &[usize]) -> Outcome {
    let now = cx.now;
    for &i in runs {
        let h = &mut d.hooks[i];
        let waiting = matches!(
            h.status,
            HookStatus::AwaitingAction | HookStatus::InProgress
        );
        if waiting && now >= h.expires_at {
            h.status = HookStatus::TimedOut;
            h.invoking = false;
            if h.timeout_action == TimeoutAction::Rollback {
                let what = h.target_arn.as_deref().unwrap_or("PAUSE");
                h.failure = Some(format!(
                    "the {} hook {what} timed out and its timeout action is ROLLBACK",
                    h.stage
                ));
            }
        }
    }
    for &i in runs {
        let h = &d.hooks[i];
        if h.status == HookStatus::InProgress && !h.invoking && now >= h.next_invoke_at {
            let event = hooks::event(d, h);
            let target = h.target_arn.clone().unwrap_or_default();
            let hook_id = h.hook_id.clone();
            match hooks::invoke(cx, at, &d.arn, &hook_id, &target, event) {
                Ok(()) => d.hooks[i].invoking = true,
                Err(why) => {
                    d.hooks[i].status = HookStatus::Failed;
                    d.hooks[i].failure = Some(why);
                }
            }
        }
    }
    let failed = runs.iter().map(|&i| &d.hooks[i]).find(|h| {
        h.status == HookStatus::Failed
            || (h.status == HookStatus::TimedOut && h.timeout_action == TimeoutAction::Rollback)
    });
    if let Some(h) = failed {
        let why = h.failure.clone().unwrap_or_default();
        tracing::info!(deployment = %d.arn, "hook failed: {why}");
        return Outcome::Failed(format!(
            "Service deployment rolled back because of hook execution failure(s) detected: {why}."
        ));
    }
    let done = runs.iter().all(|&i| {
        matches!(
            d.hooks[i].status,
            HookStatus::Succeeded | HookStatus::TimedOut
        )
    });
    if done {
        Outcome::Done
    } else {
        Outcome::Waiting
    }
}
