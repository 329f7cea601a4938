//! The gate (`gate:`) on an ECS-native service: ECS has no "Ready" wait, so the gate holds the service
//! deployment at a PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT — green serves the test listener,
//! production is still on blue — while kirikae runs the gate's checks through the test listener (the
//! same [`crate::gate`] checks as on CodeDeploy), then `ContinueServiceDeployment` CONTINUE when they
//! pass, ROLLBACK when they fail. With `approve: true` a passing gate stays paused until `kirikae
//! promote` (or `--auto-promote-after`) continues it.
//!
//! The pause is the config's own `pause: true` hook at that stage when it has one (its timeout bounds
//! the gate), else kirikae adds one to the service's lifecycle hooks ([`added_hook`]: shown by the dry
//! run, part of the settings the up-to-date check compares). Its timeout action is ROLLBACK, so a
//! deployment whose kirikae went away is rolled back by ECS rather than left with test traffic only.

use std::path::{Path, PathBuf};

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus, ServiceDeploymentStatus,
};
use tokio::time::Instant;

use super::config::{EcsSection, Hook, HookAction, stage_order};
use super::operate;
use super::plan::NativePlan;
use super::prepare::NativePrepared;
use crate::aws::failed;
use crate::config::gate::{self as gate_config, Gate};
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::gate::{Approval, GateReport, Guard, deployment_env, humanize, run_checks, url};
use crate::outcome::{Image, Outcome};
use crate::plan::{WaitMode, WaitOptions};
use crate::policy::{Applied, Policy};
use crate::progress::{Event, Observer, now_epoch};
use crate::watch::native::{self as follow, Followed, Snapshot, Until};
use crate::watch::{Poller, Stop};

/// Where the gate holds: test traffic on green, production still on blue.
pub const GATE_STAGE: &str = "POST_TEST_TRAFFIC_SHIFT";

/// How long the pause kirikae adds holds for checks only: long enough for checks that time out, short
/// enough that a deployment whose kirikae died is rolled back within the hour.
const CHECKS_MINUTES: u32 = 60;
/// For an approval: AWS's default hook timeout, a day.
const APPROVAL_MINUTES: u32 = 1440;

/// The config's own pause at [`GATE_STAGE`], if it has one.
fn own_pause(ecs: &EcsSection) -> Option<&Hook> {
    ecs.hooks
        .iter()
        .find(|h| h.pause && h.stages.iter().any(|s| s == GATE_STAGE))
}

/// The PAUSE hook kirikae adds for the gate (`None` without a gate, or when the config pauses at
/// [`GATE_STAGE`] itself).
pub fn added_hook(ecs: &EcsSection, gate: Option<&Gate>) -> Option<Hook> {
    let gate = gate?;
    if own_pause(ecs).is_some() {
        return None;
    }
    let minutes = if gate.approve {
        APPROVAL_MINUTES
    } else {
        // Checks that may take long get their time plus ten minutes.
        let checks = u32::try_from(gate.longest_seconds().div_ceil(60)).unwrap_or(u32::MAX);
        CHECKS_MINUTES.max(checks.saturating_add(10)).min(20160)
    };
    Some(Hook {
        stages: vec![GATE_STAGE.to_string()],
        function: None,
        role: None,
        pause: true,
        timeout_minutes: Some(minutes),
        timeout_action: Some(HookAction::Rollback),
        details: None,
    })
}

/// How long the gate's pause holds before ECS acts, and what it then does.
pub fn pause_timeout(ecs: &EcsSection, gate: Option<&Gate>) -> Option<(u32, HookAction)> {
    let hook = own_pause(ecs).cloned().or_else(|| added_hook(ecs, gate))?;
    Some((
        hook.timeout_minutes.unwrap_or(1440),
        hook.timeout_action.unwrap_or(HookAction::Rollback),
    ))
}

/// One line for the plan / dry run: where the gate holds and how.
pub fn said(ecs: &EcsSection, gate: &Gate) -> String {
    let (minutes, action) = pause_timeout(ecs, Some(gate)).unwrap_or((1440, HookAction::Rollback));
    let whose = if own_pause(ecs).is_some() {
        "the config's PAUSE hook"
    } else {
        "a PAUSE hook kirikae adds to the service's lifecycle hooks"
    };
    let what = match (gate.has_checks(), gate.approve) {
        (true, true) => {
            "run the gate's checks through the test listener, then hold for approval (kirikae promote)"
        }
        (true, false) => "run the gate's checks through the test listener",
        _ => "hold for approval (kirikae promote)",
    };
    format!(
        "pause at {GATE_STAGE} ({whose}; {minutes} min, then {}) and {what}; ContinueServiceDeployment CONTINUE shifts production, ROLLBACK if the checks fail",
        action.as_str()
    )
}

/// [`said`], with where the checks go (the test listener's URL) when there are checks.
pub fn said_with_url(ecs: &EcsSection, gate: &Gate, test_url: Option<&str>) -> String {
    match test_url {
        Some(url) => format!("{} (through {url})", said(ecs, gate)),
        None => said(ecs, gate),
    }
}

/// Everything about a native gate that needs no AWS call.
pub fn check(
    path: &Path,
    gate: &Gate,
    ecs: &EcsSection,
    wait: &WaitOptions,
) -> Result<(), ConfigError> {
    let err = |field: &str, msg: String| ConfigError::in_file(path, msg).field(field.to_string());
    if !gate.has_checks() && !gate.approve {
        return Err(err(
            "gate",
            "checks nothing: give it `http` checks, a `command`, or `approve: true`".into(),
        ));
    }
    if gate.has_checks() && ecs.test_listener.is_none() {
        return Err(err(
            "gate",
            "runs against the test listener, and ecs has no test_listener".into(),
        )
        .hint("add ecs.test_listener (a second listener forwarding to both groups), where ECS serves green before production moves"));
    }
    if let WaitMode::Until(flag_value) = &wait.mode
        && gate.has_checks()
    {
        return Err(ConfigError::new(
            "--wait-until",
            format!(
                "the gate of {} runs while the service deployment pauses at {GATE_STAGE}; --wait-until {flag_value} stops waiting before it can decide",
                path.display()
            ),
        )
        .hint("drop the flag (kirikae runs the gate, then shifts production or rolls back), or use --no-wait: the deployment pauses and `kirikae promote` runs the gate's checks before it continues"));
    }
    let (minutes, _) = pause_timeout(ecs, Some(gate)).unwrap_or((1440, HookAction::Rollback));
    let pause_seconds = u64::from(minutes) * 60;
    if gate.longest_seconds() >= pause_seconds {
        return Err(err(
            "gate",
            format!(
                "may take up to {} s, but the pause at {GATE_STAGE} in ecs.hooks times out after {minutes} min",
                gate.longest_seconds()
            ),
        )
        .hint("raise that hook's timeout_minutes, or shorten the checks (requests, duration_seconds, timeouts)"));
    }
    if let Some(after) = wait.auto_promote_after {
        if !gate.approve {
            return Err(ConfigError::new(
                "--auto-promote-after",
                format!(
                    "promotes a deployment held for approval, and the gate of {} has no `approve: true`",
                    path.display()
                ),
            ));
        }
        if wait.mode != WaitMode::Complete {
            return Err(ConfigError::new(
                "--auto-promote-after",
                "promotes while kirikae waits at the pause; --no-wait and --wait-until stop waiting before",
            ));
        }
        let after = after.as_secs().max(1);
        if gate.longest_seconds() + after >= pause_seconds {
            return Err(ConfigError::new(
                "--auto-promote-after",
                format!(
                    "{after} s after the checks is past the pause's timeout ({minutes} min): ECS would act on the pause first"
                ),
            ));
        }
    }
    gate_config::check_fields(path, gate)
}

/// How following with the gate and the interrupt / time-out policy ended.
#[derive(Debug, Clone)]
pub struct Guarded {
    pub followed: Followed,
    pub gate: Option<GateReport>,
    pub policy: Option<Applied>,
    /// With a gate: how someone promotes the deployment (`kirikae promote -c FILE`).
    pub promote: Option<String>,
}

impl Guarded {
    /// Adds what the gate and the policy did to the outcome built from [`Self::followed`].
    pub fn explain(&self, outcome: &mut Outcome, interrupt_code: u8) {
        if let Some(g) = &self.gate {
            g.explain(outcome);
        }
        if let Some(applied) = &self.policy {
            crate::policy::explain(outcome, applied, interrupt_code);
        }
        // Left paused at the gate (kirikae stopped waiting): promote runs the gate's checks first.
        let paused_at_gate = matches!(
            &self.followed,
            Followed::Unfinished { last: Some(s), .. } | Followed::Reached(s) if at_gate(s)
        );
        if let Some(promote) = &self.promote
            && paused_at_gate
            && !outcome.next_steps.is_empty()
        {
            outcome
                .next_steps
                .insert(0, format!("shift production traffic: {promote}"));
        }
    }
}

/// Whether the deployment waits at the gate's pause.
pub fn at_gate(s: &Snapshot) -> bool {
    s.status == ServiceDeploymentStatus::InProgress
        && s.stage.as_deref() == Some(GATE_STAGE)
        && s.awaiting().is_some()
}

/// The test listener of a listener rule (`…:listener-rule/app/LB/ID/LISTENER/RULE` →
/// `…:listener/app/LB/ID/LISTENER`: the rule's ARN is its listener's plus the rule's id).
pub fn listener_of_rule(rule_arn: &str) -> Option<String> {
    let (listener, _rule_id) = rule_arn.rsplit_once('/')?;
    listener
        .contains(":listener-rule/")
        .then(|| listener.replacen(":listener-rule/", ":listener/", 1))
}

/// Follows service deployment `arn` as [`follow::follow`] does, with the gate at its pause (when the
/// config has one and the run waits for the end) and the interrupt / time-out policy at the end.
pub async fn follow(
    poller: &mut Poller<'_>,
    aws: &Clients,
    arn: &str,
    until: &Until,
    guard: &Guard<'_>,
) -> Guarded {
    let (followed, report) = match guard.gate {
        Some(gate) if *until == Until::End => gated(poller, aws, arn, gate, guard).await,
        _ => (follow::follow(poller, aws, arn, until).await, None),
    };
    let (followed, policy) = super::policy::apply(guard.policy, poller, aws, arn, followed).await;
    Guarded {
        followed,
        gate: report,
        policy,
        promote: guard.gate.map(|_| guard.promote.clone()),
    }
}

async fn gated(
    poller: &mut Poller<'_>,
    aws: &Clients,
    arn: &str,
    gate: &Gate,
    guard: &Guard<'_>,
) -> (Followed, Option<GateReport>) {
    let paused = match follow::follow(poller, aws, arn, &Until::PausedAt(GATE_STAGE)).await {
        Followed::Reached(snap) => snap,
        // It ended, or the wait stopped, before the pause: the gate never ran.
        other => return (other, None),
    };
    let hook = paused.awaiting().map(|h| h.id.clone()).unwrap_or_default();
    let observer = poller.observer();
    let unfinished = |stop: Stop| Followed::Unfinished {
        stop,
        last: Some(paused.clone()),
    };
    let checks = run_checks(gate, guard, arn, observer);
    let mut report = tokio::select! {
        r = checks => r,
        _ = poller.interrupt().raised() => {
            let mut r = GateReport::new(guard.test_url.clone());
            r.summary = "interrupted while the checks ran".into();
            return (unfinished(Stop::Interrupted), Some(r));
        }
        _ = tokio::time::sleep_until(poller.deadline()) => {
            let mut r = GateReport::new(guard.test_url.clone());
            r.summary = "timed out while the checks ran".into();
            return (unfinished(Stop::TimedOut), Some(r));
        }
    };
    if !report.passed() {
        observer.on_event(&Event::GateDecided {
            deployment_id: arn.to_string(),
            passed: false,
            summary: report.summary.clone(),
            action: format!(
                "rolling back service deployment {arn} at hook {hook} (ContinueServiceDeployment ROLLBACK): production traffic stays on the previous revision"
            ),
        });
        resolve(
            aws,
            arn,
            &hook,
            DeploymentLifecycleHookAction::Rollback,
            observer,
            "",
        )
        .await;
        return (
            follow::follow_on(poller, aws, arn, &Until::End, Some(paused.clone())).await,
            Some(report),
        );
    }
    if !gate.approve {
        observer.on_event(&Event::GateDecided {
            deployment_id: arn.to_string(),
            passed: true,
            summary: report.summary.clone(),
            action: format!(
                "shifting production traffic to the new revision (ContinueServiceDeployment CONTINUE on hook {hook})"
            ),
        });
        resolve(
            aws,
            arn,
            &hook,
            DeploymentLifecycleHookAction::Continue,
            observer,
            "",
        )
        .await;
        return (
            follow::follow_on(poller, aws, arn, &Until::End, Some(paused.clone())).await,
            Some(report),
        );
    }
    if gate.has_checks() {
        observer.on_event(&Event::GateDecided {
            deployment_id: arn.to_string(),
            passed: true,
            summary: report.summary.clone(),
            action: format!("holding at {GATE_STAGE} for approval"),
        });
    }
    let (followed, approval) = approve(poller, aws, arn, &paused, guard).await;
    report.approval = Some(approval);
    let followed = match followed {
        // A wait stopped before its first poll has seen nothing new: the deployment is as it was.
        Followed::Unfinished { stop, last: None } => unfinished(stop),
        other => other,
    };
    (followed, Some(report))
}

/// ContinueServiceDeployment on the gate's hook; a refusal is said (someone else may have continued
/// or rolled it back meanwhile, or the pause timed out, which following shows).
async fn resolve(
    aws: &Clients,
    arn: &str,
    hook: &str,
    action: DeploymentLifecycleHookAction,
    observer: &dyn Observer,
    why: &str,
) {
    if let Err(e) = operate::continue_hook(aws, arn, hook, action.clone()).await {
        observer.on_event(&Event::Warning {
            message: format!(
                "could not {} service deployment {arn} at hook {hook}{why}: {e}",
                action.as_str().to_ascii_lowercase()
            ),
        });
    }
}

/// Whether the gate's hook was continued: it SUCCEEDED, or the deployment is past the gate's stage.
fn promoted_from(s: &Snapshot, hook: &str) -> bool {
    s.status == ServiceDeploymentStatus::Successful
        || s.hooks
            .iter()
            .any(|h| h.id == hook && h.status == Some(DeploymentLifecycleHookStatus::Succeeded))
        || (s.status == ServiceDeploymentStatus::InProgress
            && s.stage.as_deref().and_then(stage_order) > stage_order(GATE_STAGE))
}

/// Holds at the pause until someone continues it (or `--auto-promote-after`), then follows it.
async fn approve(
    poller: &mut Poller<'_>,
    aws: &Clients,
    arn: &str,
    paused: &Snapshot,
    guard: &Guard<'_>,
) -> (Followed, Approval) {
    let hook = paused.awaiting().map_or("", |h| h.id.as_str());
    let observer = poller.observer();
    let started = Instant::now();
    observer.on_event(&Event::AwaitingApproval {
        deployment_id: arn.to_string(),
        promote: guard.promote.clone(),
        auto_promote_at: guard
            .auto_promote_after
            .map(|d| now_epoch() + d.as_secs_f64()),
    });
    let held = match guard.auto_promote_after {
        None => Some(follow::follow_on(poller, aws, arn, &Until::End, Some(paused.clone())).await),
        Some(after) => {
            let following = follow::follow_on(poller, aws, arn, &Until::End, Some(paused.clone()));
            tokio::select! {
                f = following => Some(f),
                _ = tokio::time::sleep(after) => None,
            }
        }
    };
    let waited_seconds = started.elapsed().as_secs_f64();
    let Some(followed) = held else {
        let after = guard.auto_promote_after.unwrap_or_default();
        observer.on_event(&Event::Step {
            message: format!(
                "auto-promoting service deployment {arn} ({} after the gate passed): ContinueServiceDeployment CONTINUE on hook {hook}",
                humanize(after)
            ),
        });
        resolve(
            aws,
            arn,
            hook,
            DeploymentLifecycleHookAction::Continue,
            observer,
            " (auto-promote)",
        )
        .await;
        let approval = Approval {
            state: "auto_promoted",
            said: format!("auto-promoted {} after the gate passed", humanize(after)),
            waited_seconds,
        };
        return (
            follow::follow_on(poller, aws, arn, &Until::End, Some(paused.clone())).await,
            approval,
        );
    };
    let last = match &followed {
        Followed::Succeeded(s) | Followed::Reached(s) | Followed::Failed(s) => Some(s),
        Followed::Unfinished { last, .. } => last.as_ref(),
    };
    let (state, said) = match (&followed, last) {
        (_, Some(s)) if promoted_from(s, hook) => (
            "promoted",
            "promoted: someone continued the service deployment (kirikae promote, the console or the CLI)".to_string(),
        ),
        (Followed::Unfinished { stop, .. }, _) => (
            "not_given",
            format!(
                "not given: kirikae stopped waiting ({})",
                match stop {
                    Stop::Interrupted => "interrupted",
                    Stop::TimedOut => "timed out",
                    Stop::LostContact(_) => "lost contact",
                }
            ),
        ),
        _ => (
            "not_given",
            "not given: the service deployment was rolled back or its pause timed out".to_string(),
        ),
    };
    (
        followed,
        Approval {
            state,
            said,
            waited_seconds,
        },
    )
}

/// The gate's checks `kirikae promote -c FILE` runs on a service deployment paused at the gate (the
/// two-job CI pattern: `deploy --no-wait`, then `promote`): the same checks deploy runs, through the
/// test listener the service's advanced configuration names, with green's images from the
/// deployment's target revision (read-only: DescribeServices, DescribeListeners,
/// DescribeLoadBalancers, DescribeServiceRevisions, DescribeTaskDefinition). `Ok(None)`: the config's
/// gate has no checks, or the deployment is not paused at the gate.
pub async fn promote_checks(
    plan: &NativePlan,
    aws: &Clients,
    snap: &Snapshot,
    observer: &dyn Observer,
) -> Result<Option<GateReport>, Error> {
    let Some(gate) = plan.gate.as_ref().filter(|g| g.has_checks()) else {
        return Ok(None);
    };
    if !at_gate(snap) {
        return Ok(None);
    }
    let services = aws
        .ecs
        .describe_services()
        .cluster(&plan.cluster)
        .services(&plan.service)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServices", e))?;
    let test_listener = services
        .services()
        .first()
        .and_then(|s| s.load_balancers().first())
        .and_then(|lb| lb.advanced_configuration())
        .and_then(|a| a.test_listener_rule())
        .and_then(listener_of_rule);
    let test_url = url::for_gate(
        gate,
        &plan.config_path,
        test_listener.as_deref(),
        "ecs.test_listener",
        aws,
    )
    .await?;
    let images = green_images(aws, snap).await?;
    let guard = Guard {
        gate: Some(gate),
        test_url: Some(test_url),
        deployment_env: deployment_env(&plan.cluster, &plan.service, &images),
        dir: config_dir(&plan.config_path),
        auto_promote_after: None,
        policy: Policy::default(),
        promote: String::new(),
    };
    Ok(Some(run_checks(gate, &guard, &snap.arn, observer).await))
}

/// The images of the deployment's target revision.
pub(super) async fn green_images(aws: &Clients, snap: &Snapshot) -> Result<Vec<Image>, Error> {
    let Some(target) = &snap.target else {
        return Ok(Vec::new());
    };
    let revisions = aws
        .ecs
        .describe_service_revisions()
        .service_revision_arns(&target.arn)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServiceRevisions", e))?;
    let Some(td) = revisions
        .service_revisions()
        .first()
        .and_then(|r| r.task_definition())
    else {
        return Ok(Vec::new());
    };
    crate::task_images::of(aws, td).await
}

/// Where the gate's command runs: the config's directory.
pub fn config_dir(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
}

impl NativePrepared {
    /// What the gate and the policy need for this deploy's service deployment.
    pub(crate) fn guard(&self) -> Guard<'_> {
        Guard {
            gate: self.plan.gate.as_ref(),
            test_url: self.test_url.clone(),
            deployment_env: deployment_env(&self.plan.cluster, &self.plan.service, &self.images()),
            dir: config_dir(&self.plan.config_path),
            auto_promote_after: self.plan.wait.auto_promote_after,
            policy: Policy {
                on_interrupt: self.plan.wait.on_interrupt,
                on_timeout: self.plan.wait.on_timeout,
            },
            promote: format!("kirikae promote -c {}", self.plan.config_path.display()),
        }
    }

    /// `--no-wait` with a gate: the service deployment pauses at the gate until `kirikae promote`,
    /// which runs the gate's checks first; said in the outcome.
    pub(crate) fn held_for_promote(&self, mut outcome: Outcome) -> Outcome {
        let (Some(gate), Some(_)) = (&self.plan.gate, &outcome.deployment_id) else {
            return outcome;
        };
        let promote = format!("kirikae promote -c {}", self.plan.config_path.display());
        let checks = if gate.has_checks() {
            ", which runs the gate's checks first"
        } else {
            ""
        };
        let (minutes, action) =
            pause_timeout(&self.plan.ecs, Some(gate)).unwrap_or((1440, HookAction::Rollback));
        outcome.message = format!(
            "{}: it pauses at {GATE_STAGE} (production stays on the previous revision) until `{promote}`{checks}; after {minutes} min ECS acts on its own ({})",
            outcome.message,
            action.as_str()
        );
        outcome
            .next_steps
            .insert(0, format!("shift production traffic: {promote}"));
        outcome
    }
}

/// The test listener's URL for the plan's gate checks (`None` without checks), before any change.
pub(crate) async fn test_url(
    plan: &NativePlan,
    test_rule: Option<&str>,
    aws: &Clients,
) -> Result<Option<String>, Error> {
    let Some(gate) = plan.gate.as_ref().filter(|g| g.has_checks()) else {
        return Ok(None);
    };
    let listener = test_rule.and_then(listener_of_rule);
    url::for_gate(
        gate,
        &plan.config_path,
        listener.as_deref(),
        "ecs.test_listener",
        aws,
    )
    .await
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_arn_names_its_listener() {
        assert_eq!(
            listener_of_rule(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/demo/50dc/f2f7/9683"
            )
            .as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/demo/50dc/f2f7")
        );
        assert_eq!(
            listener_of_rule("arn:aws:ecs:us-east-1:1:service/demo/web"),
            None
        );
    }

    fn ecs(hooks: &str) -> EcsSection {
        serde_yaml_ng::from_str(&format!(
            "target_groups: [a, b]\nproduction_listener: arn:l\ntest_listener: arn:t\ninfrastructure_role: arn:aws:iam::1:role/infra\nhooks: {hooks}\n"
        ))
        .unwrap()
    }

    #[test]
    fn the_gate_pauses_at_the_configs_own_hook_or_one_kirikae_adds() {
        let gate: Gate = serde_yaml_ng::from_str("{command: ./smoke}").unwrap();
        let added = added_hook(&ecs("[]"), Some(&gate)).expect("a pause is added");
        assert_eq!(added.stages, [GATE_STAGE]);
        assert!(added.pause);
        assert_eq!(added.timeout_minutes, Some(CHECKS_MINUTES));
        assert_eq!(added.timeout_action, Some(HookAction::Rollback));
        let approve: Gate = serde_yaml_ng::from_str("{approve: true}").unwrap();
        assert_eq!(
            added_hook(&ecs("[]"), Some(&approve))
                .unwrap()
                .timeout_minutes,
            Some(APPROVAL_MINUTES)
        );
        let own = ecs("[{stages: [POST_TEST_TRAFFIC_SHIFT], pause: true, timeout_minutes: 30}]");
        assert_eq!(added_hook(&own, Some(&gate)), None);
        assert_eq!(
            pause_timeout(&own, Some(&gate)),
            Some((30, HookAction::Rollback))
        );
        assert_eq!(added_hook(&ecs("[]"), None), None);
    }
}
