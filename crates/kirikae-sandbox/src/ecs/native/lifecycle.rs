//! The Blue/Green-family service deployment as a state machine, advanced on every controller pass on
//! the sandbox clock.
//!
//! Stages, in order (ECS API model stage docs; developer guide "How Amazon ECS blue/green deployments
//! work"): RECONCILE_SERVICE (only when revisions other than blue still run: they are scaled in, and
//! production goes back to blue) → PRE_SCALE_UP → SCALE_UP (green starts at the desired count in its
//! target group and must pass the health checks) → POST_SCALE_UP → TEST_TRAFFIC_SHIFT (the test rule
//! forwards to green) → POST_TEST_TRAFFIC_SHIFT → for each production step: PRE_PRODUCTION_TRAFFIC_SHIFT,
//! PRODUCTION_TRAFFIC_SHIFT (the production rule's weights move; LINEAR and CANARY hold each step for
//! its bake) → POST_PRODUCTION_TRAFFIC_SHIFT → BAKE_TIME → CLEAN_UP (blue scaled in) → SUCCESSFUL.
//! The hooks of a stage run after its action (a traffic-shift hook sees the shifted weights), and all
//! of them must succeed before the next stage starts.
//!
//! Rollback (a hook failure or timeout with ROLLBACK, an alarm, the circuit breaker, Stop or
//! Continue(ROLLBACK)): the rules' weights go back to blue, blue is PRIMARY again, the Lambda hooks of
//! TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT run again with blue at 100 %, green is scaled in;
//! ROLLBACK_SUCCESSFUL when its tasks are gone (ROLLBACK_FAILED if a hook fails on the way).

use super::deployment::{HookStatus, RevisionRef, RollbackInfo, ServiceDeployment, Status};
use super::{hook_runs, monitors, traffic};
use crate::ecs::scheduler::{is_healthy, timing};
use crate::ecs::services::Service;
use crate::ecs::task_sets::SetStatus;
use crate::world::Ctx;

/// Where the deployment stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    step: Step,
    phase: Phase,
}

impl Default for Run {
    fn default() -> Run {
        Run {
            step: Step::Start,
            phase: Phase::Act,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Start,
    Reconcile,
    PreScaleUp,
    ScaleUp,
    PostScaleUp,
    TestShift,
    PostTestShift,
    PreProductionShift(usize),
    ProductionShift(usize),
    PostProductionShift,
    Bake,
    CleanUp,
    RollingBack,
    /// After a rollback's hooks: until green's tasks are gone.
    RollbackCleanUp,
}

impl Step {
    fn stage(self) -> Option<&'static str> {
        Some(match self {
            Step::Start | Step::RollingBack | Step::RollbackCleanUp => return None,
            Step::Reconcile => "RECONCILE_SERVICE",
            Step::PreScaleUp => "PRE_SCALE_UP",
            Step::ScaleUp => "SCALE_UP",
            Step::PostScaleUp => "POST_SCALE_UP",
            Step::TestShift => "TEST_TRAFFIC_SHIFT",
            Step::PostTestShift => "POST_TEST_TRAFFIC_SHIFT",
            // Reported although the model's ServiceDeploymentLifecycleStage enum omits it (its doc
            // string lists it; clients must tolerate it).
            Step::PreProductionShift(_) => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            Step::ProductionShift(_) => "PRODUCTION_TRAFFIC_SHIFT",
            Step::PostProductionShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            Step::Bake => "BAKE_TIME",
            Step::CleanUp => "CLEAN_UP",
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// The stage's own action (and waiting for it to take effect).
    Act,
    /// The stage's hooks: indices into the deployment's hook runs.
    Hooks(Vec<usize>),
    /// A timed wait (a LINEAR/CANARY step's bake).
    Hold { until: f64 },
}

/// What one pass of a step decided.
enum Flow {
    Wait,
    Done,
    Rollback(String),
}

impl ServiceDeployment {
    /// Whether the deployment is on its way back to blue.
    fn rolling_back(&self) -> bool {
        matches!(self.run.step, Step::RollingBack | Step::RollbackCleanUp)
    }
}

/// Where a deployment lives.
pub struct Place<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
}

pub(super) fn service<'a>(cx: &'a mut Ctx, at: &Place) -> Option<&'a mut Service> {
    cx.region
        .ecs
        .clusters
        .get_mut(at.cluster)?
        .services
        .get_mut(at.service)
}

/// Advance every service deployment in progress in the region.
pub fn reconcile(cx: &mut Ctx) {
    let mut running = Vec::new();
    for cluster in cx.region.ecs.clusters.iter_mut().filter(|c| c.active) {
        for (name, svc) in &cluster.services {
            if let Some(d) = svc.history.deployments.iter().find(|d| d.in_progress()) {
                running.push((cluster.name.clone(), name.clone(), d.arn.clone()));
            }
        }
    }
    for (cluster, svc, arn) in running {
        let at = Place {
            cluster: &cluster,
            service: &svc,
        };
        advance_one(cx, &at, &arn);
    }
}

/// Advance one deployment now (the controller, and calls whose effect AWS shows at once).
pub fn advance_one(cx: &mut Ctx, at: &Place, arn: &str) {
    let Some(mut d) = service(cx, at).and_then(|s| s.history.find(arn).cloned()) else {
        return;
    };
    let before = (d.status, d.stage, d.run.clone());
    let rolling = d.plan.strategy == super::config::Strategy::Rolling;
    if rolling {
        super::rolling::step(cx, at, &mut d);
    }
    // Several steps can complete in one pass (stages without hooks take no time).
    for _ in 0..if rolling { 0 } else { 32 } {
        let progress = (d.status, d.stage, d.run.clone());
        step(cx, at, &mut d);
        if (d.status, d.stage, d.run.clone()) == progress || !d.in_progress() {
            break;
        }
    }
    if (d.status, d.stage, d.run.clone()) != before {
        d.updated_at = cx.now;
    }
    if let Some(svc) = service(cx, at)
        && let Some(slot) = svc.history.find_mut(arn)
    {
        *slot = d;
    }
}

fn step(cx: &mut Ctx, at: &Place, d: &mut ServiceDeployment) {
    let now = cx.now;
    if d.status == Status::Pending {
        d.status = Status::InProgress;
        d.started_at = Some(now);
    }
    // Stop or Continue(ROLLBACK) asked for it: ROLLBACK_REQUESTED becomes ROLLBACK_IN_PROGRESS now.
    if d.status == Status::RollbackRequested && !d.rolling_back() {
        let reason = d.status_reason.clone().unwrap_or_default();
        begin_rollback(d, reason, now);
    }
    if !d.rolling_back()
        && d.run.step != Step::CleanUp
        && let Some(reason) = monitors::rollback_reason(cx, at, d)
    {
        return begin_rollback(d, reason, now);
    }
    sync_desired(cx, at, d);
    let flow = match d.run.phase.clone() {
        Phase::Act => act(cx, at, d),
        Phase::Hooks(runs) => match hook_runs::drive(cx, at, d, &runs) {
            hook_runs::Outcome::Waiting => Flow::Wait,
            hook_runs::Outcome::Done => Flow::Done,
            hook_runs::Outcome::Failed(reason) => Flow::Rollback(reason),
        },
        Phase::Hold { until } if now >= until => Flow::Done,
        Phase::Hold { .. } => Flow::Wait,
    };
    match flow {
        Flow::Wait => {}
        Flow::Rollback(reason) if d.rolling_back() => {
            d.status = Status::RollbackFailed;
            d.status_reason = Some(reason);
            d.finished_at = Some(now);
        }
        Flow::Rollback(reason) => begin_rollback(d, reason, now),
        Flow::Done => finish_phase(cx, d),
    }
}

/// Act → Hooks → (Hold) → next step.
fn finish_phase(cx: &mut Ctx, d: &mut ServiceDeployment) {
    let now = cx.now;
    match d.run.phase.clone() {
        Phase::Act => {
            // A rollback runs the Lambda hooks of both traffic-shift stages again.
            let (stages, lambda_only) = match d.run.step {
                Step::RollingBack => (vec!["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"], true),
                step => (step.stage().into_iter().collect(), false),
            };
            let runs = hook_runs::start(cx, d, &stages, lambda_only);
            d.run.phase = Phase::Hooks(runs);
        }
        Phase::Hooks(_) => {
            if let Step::ProductionShift(i) = d.run.step {
                let hold = d.plan.steps[i].hold_minutes;
                if hold > 0.0 && i + 1 < d.plan.steps.len() {
                    d.run.phase = Phase::Hold {
                        until: timing::after(cx.shared, now, hold * 60.0),
                    };
                    return;
                }
            }
            next_step(cx, d);
        }
        Phase::Hold { .. } => next_step(cx, d),
    }
}

fn next_step(cx: &mut Ctx, d: &mut ServiceDeployment) {
    let last = d.plan.steps.len().saturating_sub(1);
    let next = match d.run.step {
        Step::Start if !d.leftovers.is_empty() => Step::Reconcile,
        Step::Start | Step::Reconcile => Step::PreScaleUp,
        Step::PreScaleUp => Step::ScaleUp,
        Step::ScaleUp => Step::PostScaleUp,
        Step::PostScaleUp => Step::TestShift,
        Step::TestShift => Step::PostTestShift,
        Step::PostTestShift => Step::PreProductionShift(0),
        Step::PreProductionShift(i) => Step::ProductionShift(i),
        Step::ProductionShift(i) if i < last => Step::PreProductionShift(i + 1),
        Step::ProductionShift(_) => Step::PostProductionShift,
        Step::PostProductionShift => Step::Bake,
        Step::Bake => Step::CleanUp,
        Step::CleanUp => {
            d.status = Status::Successful;
            d.status_reason = Some("Service deployment completed successfully.".into());
            d.finished_at = Some(cx.now);
            return;
        }
        Step::RollingBack => Step::RollbackCleanUp,
        Step::RollbackCleanUp => {
            d.status = Status::RollbackSuccessful;
            d.finished_at = Some(cx.now);
            return;
        }
    };
    d.run = Run {
        step: next,
        phase: Phase::Act,
    };
    d.stage = next.stage().or(d.stage);
}

fn begin_rollback(d: &mut ServiceDeployment, reason: String, now: f64) {
    tracing::info!(deployment = %d.arn, "rolling back: {reason}");
    d.status = Status::RollbackInProgress;
    d.status_reason = Some(reason.clone());
    d.rollback = Some(RollbackInfo {
        reason,
        started_at: now,
        revision_arn: d
            .source
            .as_ref()
            .map_or_else(|| d.target.arn.clone(), |s| s.arn.clone()),
    });
    // Hooks still waiting are over: nothing continues this deployment any more.
    for h in d.hooks.iter_mut().filter(|h| {
        matches!(
            h.status,
            HookStatus::AwaitingAction | HookStatus::InProgress
        )
    }) {
        h.status = HookStatus::Failed;
    }
    d.run = Run {
        step: Step::RollingBack,
        phase: Phase::Act,
    };
}

/// How many tasks each revision should run at this point: green from SCALE_UP on (until a rollback),
/// blue until CLEAN_UP, superseded revisions none.
fn sync_desired(cx: &mut Ctx, at: &Place, d: &ServiceDeployment) {
    let Some(svc) = service(cx, at) else {
        return;
    };
    let desired = if svc.is_active() {
        svc.desired_count
    } else {
        0
    };
    let green_up = if d.rolling_back() {
        d.source.is_none()
    } else {
        !matches!(d.run.step, Step::Start | Step::Reconcile | Step::PreScaleUp)
    };
    let blue_up = d.run.step != Step::CleanUp;
    for set in svc.sets.iter_mut() {
        set.desired = if set.id == d.target.set_id {
            if green_up { desired } else { 0 }
        } else if d.source.as_ref().is_some_and(|s| s.set_id == set.id) {
            if blue_up { desired } else { 0 }
        } else {
            0
        };
    }
}

fn act(cx: &mut Ctx, at: &Place, d: &mut ServiceDeployment) -> Flow {
    match d.run.step {
        Step::Start => {
            if let Some(t) = d.plan.traffic.clone()
                && let Err(reason) = traffic::check_networking(cx, &t)
            {
                return Flow::Rollback(reason);
            }
            Flow::Done
        }
        Step::Reconcile => {
            // Production (and test) traffic back on blue; the superseded revisions scale in
            // (`sync_desired`) and are gone when their tasks have stopped.
            if let Err(reason) = move_traffic(cx, d, 0.0, 0.0) {
                return Flow::Rollback(reason);
            }
            let leftovers: Vec<RevisionRef> = d.leftovers.clone();
            let gone = service(cx, at).is_none_or(|s| {
                leftovers
                    .iter()
                    .all(|r| !s.sets.iter().any(|set| set.id == r.set_id))
            });
            if gone { Flow::Done } else { Flow::Wait }
        }
        Step::ScaleUp => {
            if green_ready(cx, at, d) {
                Flow::Done
            } else {
                Flow::Wait
            }
        }
        Step::TestShift => {
            if let Err(reason) = move_traffic(cx, d, d.production_weight, 100.0) {
                return Flow::Rollback(reason);
            }
            Flow::Done
        }
        Step::ProductionShift(i) => {
            let percent = d.plan.steps[i].percent;
            if let Err(reason) = move_traffic(cx, d, percent, d.test_weight) {
                return Flow::Rollback(reason);
            }
            Flow::Done
        }
        Step::Bake => {
            let until = timing::after(cx.shared, cx.now, d.plan.bake_minutes * 60.0);
            d.run.phase = Phase::Hold { until };
            Flow::Wait
        }
        Step::CleanUp => {
            let blue = d.source.as_ref().map(|s| s.set_id.clone());
            let Some(svc) = service(cx, at) else {
                return Flow::Done;
            };
            if let Some(tg) = d.green_tg.clone() {
                svc.history.serving_target_group = Some(tg);
            }
            if let Some(green) = svc.sets.iter_mut().find(|s| s.id == d.target.set_id) {
                green.rollout_state = "COMPLETED";
            }
            let gone = blue.is_none_or(|b| !svc.sets.iter().any(|s| s.id == b));
            if gone { Flow::Done } else { Flow::Wait }
        }
        Step::RollingBack => roll_back(cx, at, d),
        Step::RollbackCleanUp => {
            let gone =
                service(cx, at).is_none_or(|s| !s.sets.iter().any(|set| set.id == d.target.set_id));
            if gone { Flow::Done } else { Flow::Wait }
        }
        Step::PreScaleUp
        | Step::PostScaleUp
        | Step::PostTestShift
        | Step::PreProductionShift(_)
        | Step::PostProductionShift => Flow::Done,
    }
}

/// Green runs its desired count, every task healthy in its target group.
fn green_ready(cx: &mut Ctx, at: &Place, d: &ServiceDeployment) -> bool {
    let region = &mut *cx.region;
    let Some(cluster) = region.ecs.clusters.get_mut(at.cluster) else {
        return false;
    };
    let Some(svc) = cluster.services.get(at.service) else {
        return false;
    };
    let want = svc.desired_count as usize;
    let live: Vec<_> = cluster
        .tasks
        .values()
        .filter(|t| t.belongs_to(at.service, &d.target.set_id) && t.is_live())
        .collect();
    live.len() == want && live.iter().all(|t| is_healthy(t, &region.elbv2))
}

/// Set green's production and test shares on the rules (no-op without a load balancer).
fn move_traffic(
    cx: &mut Ctx,
    d: &mut ServiceDeployment,
    production: f64,
    test: f64,
) -> Result<(), String> {
    let (Some(t), Some(green)) = (d.plan.traffic.clone(), d.green_tg.clone()) else {
        return Ok(());
    };
    let blue = d.blue_tg.clone().unwrap_or_else(|| {
        if green == t.target_group {
            t.alternate_target_group.clone()
        } else {
            t.target_group.clone()
        }
    });
    traffic::shift(cx, &t.production_rule, &green, &blue, production)?;
    d.production_weight = production;
    if let Some(rule) = &t.test_rule {
        traffic::shift(cx, rule, &green, &blue, test)?;
        d.test_weight = test;
    }
    Ok(())
}

/// The rollback's action: traffic back on blue and blue PRIMARY again (then the traffic-shift Lambda
/// hooks run again, and `RollbackCleanUp` waits for green to be gone).
fn roll_back(cx: &mut Ctx, at: &Place, d: &mut ServiceDeployment) -> Flow {
    let Some(source) = d.source.clone() else {
        // A new service has nothing to go back to: its first revision keeps running.
        d.status = Status::RollbackFailed;
        d.finished_at = Some(cx.now);
        return Flow::Wait;
    };
    if let Err(reason) = move_traffic(cx, d, 0.0, 0.0) {
        return Flow::Rollback(reason);
    }
    let now = cx.now;
    let Some(svc) = service(cx, at) else {
        return Flow::Done;
    };
    for set in svc.sets.iter_mut() {
        if set.id == source.set_id {
            set.status = SetStatus::Primary;
            set.updated_at = now;
        } else if set.status == SetStatus::Primary {
            set.status = SetStatus::Active;
            set.rollout_state = "FAILED";
            set.updated_at = now;
        }
    }
    // The service's own settings are blue's again (what DescribeServices shows, and what the next
    // UpdateService compares with).
    if let Some(spec) = svc.history.revision(&source.arn).map(|r| r.spec.clone()) {
        svc.spec = spec;
    }
    Flow::Done
}
