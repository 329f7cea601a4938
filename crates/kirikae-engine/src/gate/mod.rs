//! The gate before production traffic (config `gate:`, see [`crate::config::gate`]): when the deployment
//! waits in Ready (green serves the test listener, production is still on blue), kirikae checks green
//! through the test listener — HTTP checks ([`http`]) and/or a command ([`command`]) — then
//! `ContinueDeployment` when it passes, `StopDeployment` with rollback when it fails; with
//! `approve: true` a passing gate holds in Ready until someone promotes (`kirikae promote`, from another
//! process) or `--auto-promote-after` has passed.
//!
//! [`follow`] is the deploy's follow with the gate and the interrupt/time-out [`crate::policy`] around
//! it; every way it ends is still a [`Followed`], and [`Guarded::explain`] adds what the gate did to the
//! outcome (its report, the timeline, the message).

pub mod command;
pub mod http;
pub mod promote;
pub mod url;

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_codedeploy::types::{DeploymentStatus, DeploymentWaitType};
use serde::Serialize;
use tokio::time::Instant;

use crate::config::gate::Gate;
use crate::deploy::Prepared;
use crate::operate;
use crate::outcome::{Image, Outcome, TimelineEntry};
use crate::policy::{self, Applied, Policy};
use crate::progress::{DeploymentSnapshot, Event, Observer, now_epoch};
use crate::watch::deployment::{self, Followed, Target, Until};
use crate::watch::{Poller, Stop};

/// One HTTP check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check, said for a person: `GET /health → 200`.
    pub check: String,
    pub url: String,
    pub requests: u32,
    pub failures: u32,
    pub max_failure_ratio: f64,
    pub passed: bool,
    /// The first failed request and why.
    pub first_failure: Option<String>,
    pub duration_seconds: f64,
}

/// The gate command's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandResult {
    pub command: String,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// It could not be run (or waited for).
    pub error: Option<String>,
    /// Its last lines of output (stdout and stderr).
    pub output_tail: Vec<String>,
    pub duration_seconds: f64,
}

/// `passed`, `failed`, or `unfinished` (interrupted or timed out while the checks ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed,
    Unfinished,
}

/// How an approval ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// `promoted` (someone continued the deployment), `auto_promoted` (`--auto-promote-after`), or
    /// `not_given` (it was stopped, the wait ended, or kirikae stopped waiting).
    pub state: &'static str,
    pub said: String,
    pub waited_seconds: f64,
}

/// What the gate did, for the outcome (JSON, summary, notifications).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    pub verdict: Verdict,
    pub test_url: Option<String>,
    pub checks: Vec<CheckResult>,
    pub command: Option<CommandResult>,
    pub approval: Option<Approval>,
    /// One sentence: what passed or failed.
    pub summary: String,
    /// Epoch seconds (this machine's clock).
    pub started_at: f64,
    pub finished_at: f64,
}

impl GateReport {
    pub(crate) fn new(test_url: Option<String>) -> GateReport {
        let now = now_epoch();
        GateReport {
            verdict: Verdict::Unfinished,
            test_url,
            checks: Vec::new(),
            command: None,
            approval: None,
            summary: String::new(),
            started_at: now,
            finished_at: now,
        }
    }

    fn decide(&mut self) {
        self.finished_at = now_epoch();
        let mut failed = Vec::new();
        let mut passed = Vec::new();
        for c in &self.checks {
            let said = format!(
                "{}: {}/{} requests passed",
                c.check,
                c.requests - c.failures,
                c.requests
            );
            if c.passed {
                passed.push(said);
            } else {
                failed.push(match &c.first_failure {
                    Some(f) => format!("{said} ({f})"),
                    None => said,
                });
            }
        }
        if let Some(c) = &self.command {
            let said = command_said(c);
            if c.passed {
                passed.push(said)
            } else {
                failed.push(said)
            }
        }
        self.verdict = if failed.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed
        };
        self.summary = match self.verdict {
            Verdict::Passed if passed.is_empty() => "no checks (approval only)".into(),
            Verdict::Passed => format!("passed: {}", passed.join("; ")),
            _ => format!("failed: {}", failed.join("; ")),
        };
    }
}

fn command_said(c: &CommandResult) -> String {
    let how = match (&c.error, c.timed_out, c.exit_code) {
        (Some(e), _, _) => e.clone(),
        (None, true, _) => format!("still running after {:.0} s", c.duration_seconds),
        (None, false, Some(code)) => format!("exited {code}"),
        (None, false, None) => "was killed by a signal".into(),
    };
    let last = (!c.passed)
        .then(|| c.output_tail.last().map(|l| format!(": {l}")))
        .flatten()
        .unwrap_or_default();
    format!("command `{}` {how}{last}", c.command)
}

/// What the gate needs besides the follow's target.
pub struct Guard<'a> {
    pub gate: Option<&'a Gate>,
    pub test_url: Option<String>,
    pub deployment_env: Vec<(String, String)>,
    /// Where the command runs (the config's directory).
    pub dir: PathBuf,
    pub auto_promote_after: Option<Duration>,
    pub policy: Policy,
    /// How someone promotes a deployment held for approval.
    pub promote: String,
}

/// How following with the gate and the policy ended.
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
            policy::explain(outcome, applied, interrupt_code);
        }
        // Left waiting in Ready (kirikae stopped waiting): promote runs the gate's checks first.
        if let Some(promote) = &self.promote
            && outcome.status.as_deref() == Some("Ready")
            && !outcome.next_steps.is_empty()
        {
            outcome
                .next_steps
                .insert(0, format!("shift production traffic: {promote}"));
        }
    }
}

impl GateReport {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }

    /// Adds the gate's report to an outcome: its message (when it failed), its timeline, `gate`.
    pub fn explain(&self, outcome: &mut Outcome) {
        let g = self;
        if g.verdict == Verdict::Failed {
            outcome.message = format!("the gate {}; {}", g.summary, outcome.message);
        }
        // In the timeline where it happened: after green got test traffic, before production moved
        // (CodeDeploy's AfterAllowTestTraffic, or the ECS stage the native gate pauses at).
        let at = outcome
            .timeline
            .iter()
            .position(|t| {
                t.event == "AfterAllowTestTraffic" || t.event == "POST_TEST_TRAFFIC_SHIFT"
            })
            .map_or(outcome.timeline.len(), |i| i + 1);
        let mut entries = Vec::new();
        entries.extend((!g.checks.is_empty() || g.command.is_some()).then(|| {
            TimelineEntry {
                event: "Gate".into(),
                status: match g.verdict {
                    Verdict::Passed => "Succeeded",
                    Verdict::Failed => "Failed",
                    Verdict::Unfinished => "Unfinished",
                }
                .into(),
                start: Some(g.started_at),
                end: Some(g.finished_at),
                duration_seconds: Some(g.finished_at - g.started_at),
            }
        }));
        if let Some(a) = &g.approval {
            entries.push(TimelineEntry {
                event: "Approval".into(),
                status: match a.state {
                    "not_given" => "NotGiven",
                    "auto_promoted" => "AutoPromoted",
                    _ => "Promoted",
                }
                .into(),
                start: Some(g.finished_at),
                end: Some(g.finished_at + a.waited_seconds),
                duration_seconds: Some(a.waited_seconds),
            });
        }
        for (i, e) in entries.into_iter().enumerate() {
            outcome.timeline.insert(at + i, e);
        }
        outcome.gate = Some(g.clone());
    }
}

/// Follows deployment `id` as [`deployment::follow`] does, with the gate at Ready (when there is one)
/// and the interrupt/time-out policy at the end.
pub async fn follow(
    poller: &mut Poller<'_>,
    target: &Target<'_>,
    id: &str,
    guard: &Guard<'_>,
) -> Guarded {
    let (followed, gate) = match guard.gate {
        Some(gate) => gated(poller, target, id, gate, guard).await,
        None => (deployment::follow(poller, target, id).await, None),
    };
    let (followed, policy) = policy::apply(guard.policy, poller, target, followed).await;
    Guarded {
        followed,
        gate,
        policy,
        promote: guard.gate.map(|_| guard.promote.clone()),
    }
}

async fn gated(
    poller: &mut Poller<'_>,
    target: &Target<'_>,
    id: &str,
    gate: &Gate,
    guard: &Guard<'_>,
) -> (Followed, Option<GateReport>) {
    let retarget = |until: Until, rollback_expected: bool| Target {
        aws: target.aws,
        target_id: target.target_id,
        until,
        rollback_expected,
        waits: target.waits,
    };
    let ready = match deployment::follow(
        poller,
        &retarget(Until::Ready, target.rollback_expected),
        id,
    )
    .await
    {
        Followed::Reached(snap) => snap,
        // It ended, or the wait stopped, before Ready: the gate never ran.
        other => return (other, None),
    };
    // Every way on from Ready ends with what was last seen; a wait stopped before its first poll has
    // seen nothing new, and the deployment is as it was in Ready.
    let (followed, report) = async {
        let observer = poller.observer();
        let unfinished = |stop: Stop, last: DeploymentSnapshot| Followed::Unfinished {
            stop,
            id: id.to_string(),
            last: Some(last),
            rollback: None,
        };
        let checks = run_checks(gate, guard, id, observer);
        let mut report = tokio::select! {
            r = checks => r,
            _ = poller.interrupt().raised() => {
                let mut r = GateReport::new(guard.test_url.clone());
                r.summary = "interrupted while the checks ran".into();
                return (unfinished(Stop::Interrupted, ready.clone()), Some(r));
            }
            _ = tokio::time::sleep_until(poller.deadline()) => {
                let mut r = GateReport::new(guard.test_url.clone());
                r.summary = "timed out while the checks ran".into();
                return (unfinished(Stop::TimedOut, ready.clone()), Some(r));
            }
        };
        let to_end = retarget(Until::End, target.rollback_expected);
        if report.verdict == Verdict::Failed {
            observer.on_event(&Event::GateDecided {
                deployment_id: id.to_string(),
                passed: false,
                summary: report.summary.clone(),
                action: format!(
                    "stopping deployment {id} with rollback (StopDeployment): production traffic stays on blue"
                ),
            });
            if let Err(e) = operate::stop(target.aws, id, true).await {
                observer.on_event(&Event::Warning {
                    message: format!("could not stop deployment {id}: {e}"),
                });
            }
            let rolling_back = retarget(Until::End, true);
            return (
                deployment::follow(poller, &rolling_back, id).await,
                Some(report),
            );
        }
        if !gate.approve {
            observer.on_event(&Event::GateDecided {
                deployment_id: id.to_string(),
                passed: true,
                summary: report.summary.clone(),
                action: "shifting production traffic to green (ContinueDeployment READY_WAIT)".into(),
            });
            promote(target, id, observer, "").await;
            return (deployment::follow(poller, &to_end, id).await, Some(report));
        }
        if gate.has_checks() {
            observer.on_event(&Event::GateDecided {
                deployment_id: id.to_string(),
                passed: true,
                summary: report.summary.clone(),
                action: "holding in Ready for approval".into(),
            });
        }
        let (followed, approval) = approve(poller, &to_end, id, guard).await;
        report.approval = Some(approval);
        (followed, Some(report))
    }
    .await;
    (seen_in_ready(followed, &ready), report)
}

/// `followed`, with the Ready snapshot as what was last seen when the wait stopped before seeing more.
fn seen_in_ready(followed: Followed, ready: &DeploymentSnapshot) -> Followed {
    match followed {
        Followed::Unfinished {
            stop,
            id,
            last: None,
            rollback,
        } => Followed::Unfinished {
            stop,
            id,
            last: Some(ready.clone()),
            rollback,
        },
        other => other,
    }
}

/// Whether a deployment seen after Ready was continued: it succeeded, or it runs on past Ready, or the
/// events that come after Ready (production traffic) started.
fn promoted_from(s: &DeploymentSnapshot) -> bool {
    use aws_sdk_codedeploy::types::LifecycleEventStatus as E;
    s.status == DeploymentStatus::Succeeded
        || (s.status != DeploymentStatus::Ready && !s.is_terminal())
        || ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
            .iter()
            .any(|n| {
                s.event(n)
                    .is_some_and(|e| !matches!(e.status, E::Pending | E::Skipped))
            })
}

/// ContinueDeployment (READY_WAIT); a refusal is said (someone else may have continued or stopped it
/// meanwhile, which following shows).
async fn promote(target: &Target<'_>, id: &str, observer: &dyn Observer, why: &str) {
    if let Err(e) =
        operate::continue_deployment(target.aws, id, DeploymentWaitType::ReadyWait).await
    {
        observer.on_event(&Event::Warning {
            message: format!("could not continue deployment {id}{why}: {e}"),
        });
    }
}

/// Holds in Ready until someone continues the deployment (or `--auto-promote-after`), then follows it.
async fn approve(
    poller: &mut Poller<'_>,
    to_end: &Target<'_>,
    id: &str,
    guard: &Guard<'_>,
) -> (Followed, Approval) {
    let observer = poller.observer();
    let started = Instant::now();
    observer.on_event(&Event::AwaitingApproval {
        deployment_id: id.to_string(),
        promote: guard.promote.clone(),
        auto_promote_at: guard
            .auto_promote_after
            .map(|d| now_epoch() + d.as_secs_f64()),
    });
    let waited = |s: Instant| s.elapsed().as_secs_f64();
    let held = match guard.auto_promote_after {
        None => Some(deployment::follow(poller, to_end, id).await),
        Some(after) => {
            let following = deployment::follow(poller, to_end, id);
            tokio::select! {
                f = following => Some(f),
                _ = tokio::time::sleep(after) => None,
            }
        }
    };
    match held {
        Some(followed) => {
            let promoted = "promoted: someone continued the deployment (kirikae promote, the console or the CLI)";
            let last = match &followed {
                Followed::Succeeded(s) | Followed::Reached(s) | Followed::NotRolledBack(s) => {
                    Some(s)
                }
                Followed::RolledBack { ended, .. } => Some(ended),
                Followed::Unfinished { last, .. } => last.as_ref(),
            };
            let (state, said) = match (&followed, last) {
                (_, Some(s)) if promoted_from(s) => ("promoted", promoted.to_string()),
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
                    "not given: the deployment was stopped or its ready wait ran out".to_string(),
                ),
            };
            let approval = Approval {
                state,
                said,
                waited_seconds: waited(started),
            };
            (followed, approval)
        }
        None => {
            let after = guard.auto_promote_after.unwrap_or_default();
            observer.on_event(&Event::Step {
                message: format!(
                    "auto-promoting deployment {id} ({} after the gate passed): ContinueDeployment READY_WAIT",
                    humanize(after)
                ),
            });
            let approval = Approval {
                state: "auto_promoted",
                said: format!("auto-promoted {} after the gate passed", humanize(after)),
                waited_seconds: waited(started),
            };
            promote(to_end, id, observer, " (auto-promote)").await;
            (deployment::follow(poller, to_end, id).await, approval)
        }
    }
}

pub(crate) fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The HTTP checks, then the command; each result is said as it ends (both controllers).
pub(crate) async fn run_checks(
    gate: &Gate,
    guard: &Guard<'_>,
    id: &str,
    observer: &dyn Observer,
) -> GateReport {
    let mut report = GateReport::new(guard.test_url.clone());
    if !gate.has_checks() {
        // An approval only.
        report.decide();
        return report;
    }
    observer.on_event(&Event::GateStarted {
        deployment_id: id.to_string(),
        test_url: guard.test_url.clone(),
        checks: gate.http.iter().map(|c| c.said()).collect(),
        command: gate.command.clone(),
    });
    let base = guard.test_url.clone().unwrap_or_default();
    if !gate.http.is_empty() {
        match http::Client::for_url(&base) {
            Ok(client) => {
                for check in &gate.http {
                    let r = http::run(check, &base, &client).await;
                    observer.on_event(&Event::GateCheck(r.clone()));
                    report.checks.push(r);
                }
            }
            Err(why) => {
                for check in &gate.http {
                    let r = CheckResult {
                        check: check.said(),
                        url: format!("{base}{}", check.path),
                        requests: check.requests,
                        failures: check.requests,
                        max_failure_ratio: check.max_failure_ratio,
                        passed: false,
                        first_failure: Some(why.clone()),
                        duration_seconds: 0.0,
                    };
                    observer.on_event(&Event::GateCheck(r.clone()));
                    report.checks.push(r);
                }
            }
        }
    }
    if let Some(cmd) = &gate.command {
        let mut env = guard.deployment_env.clone();
        env.push(("KIRIKAE_TEST_URL".into(), base.clone()));
        env.push(("KIRIKAE_DEPLOYMENT_ID".into(), id.to_string()));
        let r = command::run(
            cmd,
            Duration::from_secs(gate.command_timeout_seconds.into()),
            &guard.dir,
            &env,
        )
        .await;
        observer.on_event(&Event::GateCommand(r.clone()));
        report.command = Some(r);
    }
    report.decide();
    report
}

/// The environment a gate command gets besides the test URL and the deployment id: the cluster, the
/// service, and the images (`KIRIKAE_IMAGES=web=repo:tag,…` and one
/// `KIRIKAE_IMAGE_<CONTAINER>` each).
pub fn deployment_env(cluster: &str, service: &str, images: &[Image]) -> Vec<(String, String)> {
    let mut env = vec![
        ("KIRIKAE_CLUSTER".to_string(), cluster.to_string()),
        ("KIRIKAE_SERVICE".to_string(), service.to_string()),
        (
            "KIRIKAE_IMAGES".to_string(),
            images
                .iter()
                .map(|i| format!("{}={}", i.container, i.image))
                .collect::<Vec<_>>()
                .join(","),
        ),
    ];
    for i in images {
        let name: String = i
            .container
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        env.push((format!("KIRIKAE_IMAGE_{name}"), i.image.clone()));
    }
    env
}

impl Prepared {
    /// `--no-wait` with a gate: the deployment holds in Ready until `kirikae promote`, which runs the
    /// gate's checks first; said in the outcome.
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
        outcome.message = format!(
            "{}: it holds in Ready (production stays on blue) until `{promote}`{checks}",
            outcome.message
        );
        outcome
            .next_steps
            .insert(0, format!("shift production traffic: {promote}"));
        outcome
    }

    /// What the gate and the policy need for deployment `id` of this deploy.
    pub(crate) fn guard(&self) -> Guard<'_> {
        Guard {
            gate: self.plan.gate.as_ref(),
            test_url: self.test_url.clone(),
            deployment_env: deployment_env(&self.plan.cluster, &self.plan.service, &self.images()),
            dir: self
                .plan
                .config_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            auto_promote_after: self.plan.wait.auto_promote_after,
            policy: Policy {
                on_interrupt: self.plan.wait.on_interrupt,
                on_timeout: self.plan.wait.on_timeout,
            },
            promote: format!("kirikae promote -c {}", self.plan.config_path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_names_in_the_command_environment() {
        let env = deployment_env(
            "demo",
            "web",
            &[Image {
                container: "web-app".into(),
                image: "repo/web:v2".into(),
            }],
        );
        assert!(env.contains(&("KIRIKAE_IMAGES".into(), "web-app=repo/web:v2".into())));
        assert!(env.contains(&("KIRIKAE_IMAGE_WEB_APP".into(), "repo/web:v2".into())));
        assert!(env.contains(&("KIRIKAE_SERVICE".into(), "web".into())));
    }

    #[test]
    fn the_summary_names_what_failed_and_why() {
        let mut r = GateReport::new(Some("http://t:8080".into()));
        r.checks.push(CheckResult {
            check: "GET / → 200".into(),
            url: "http://t:8080/".into(),
            requests: 10,
            failures: 10,
            max_failure_ratio: 0.0,
            passed: false,
            first_failure: Some("request 1: HTTP 500 (expected 200)".into()),
            duration_seconds: 1.0,
        });
        r.command = Some(CommandResult {
            command: "./smoke".into(),
            passed: true,
            exit_code: Some(0),
            timed_out: false,
            error: None,
            output_tail: vec![],
            duration_seconds: 0.5,
        });
        r.decide();
        assert_eq!(r.verdict, Verdict::Failed);
        assert!(
            r.summary
                .contains("GET / → 200: 0/10 requests passed (request 1: HTTP 500"),
            "{}",
            r.summary
        );
        assert!(!r.summary.contains("smoke"), "{}", r.summary);
    }
}
