//! How long to wait before the next poll of a deployment: quickly when something can change, slowly
//! while nothing can (a ready wait of an hour, blue's termination wait), and quickly again as the
//! moment AWS is expected to move approaches, so the end is still noticed at once.
//!
//! Two signals, both from AWS's own answers: how long the deployment has been quiet (a poll interval
//! of a tenth of that, so an hour of waiting costs a few calls a minute, not two a second), and when its
//! current wait ends (the lifecycle event that started it, plus the group's wait).
//!
//! ECS service deployments (the `native_*` functions) are paced the same way while they only wait —
//! the bake, a LINEAR / CANARY step's bake, a PAUSE hook awaiting action — and at the run's pace
//! otherwise, four times as fast in CLEAN_UP, right before they end.

use std::time::Duration;

use aws_sdk_codedeploy::types::{DeploymentStatus, LifecycleEventStatus, TargetStatus};
use aws_sdk_ecs::types::ServiceDeploymentStatus;

use super::native::Snapshot;
use crate::progress::DeploymentSnapshot;

/// The longest pause between two polls. Someone may continue or stop a deployment at any time; this
/// bounds how late kirikae notices that.
pub const MAX_QUIET_INTERVAL: Duration = Duration::from_secs(10);

/// The deployment group's waits, which say when a waiting deployment moves again.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Waits {
    /// `ready: STOP_DEPLOYMENT`: how long the deployment waits in Ready for someone to continue it.
    pub ready: Option<Duration>,
    /// How long blue is kept after production traffic moved.
    pub termination: Duration,
}

/// The pause before the next poll.
///
/// `quiet_for`: how long the deployment has looked the same; `until_expected`: seconds until AWS is
/// expected to move on its own (negative once that moment passed), when known.
pub fn interval(base: Duration, quiet_for: Duration, until_expected: Option<f64>) -> Duration {
    let quiet = (quiet_for / 10).clamp(base, MAX_QUIET_INTERVAL.max(base));
    // From the expected moment on, twice as often as usual (one call per poll while waiting): AWS
    // finishes a little after it (blue's task set is deleted first), and the end must be seen at once.
    let near = base / 2;
    match until_expected {
        Some(s) if s <= 0.0 => near,
        Some(s) => quiet.min(Duration::from_secs_f64(s)).max(near),
        None => quiet,
    }
}

/// Whether the deployment waits in Ready for someone to continue it.
pub fn is_ready_wait(s: &DeploymentSnapshot) -> bool {
    s.status == DeploymentStatus::Ready
}

/// Whether production traffic is on green and blue waits to be terminated.
pub fn is_termination_wait(s: &DeploymentSnapshot) -> bool {
    s.status == DeploymentStatus::InProgress
        && (s.termination_wait_started || s.target_status == Some(TargetStatus::Succeeded))
}

/// Whether a poll needs the deployment target too: not while the deployment waits and the target
/// already told when the wait ends (only the deployment's status can change then). While the moment is
/// unknown (e.g. the first poll after someone continued a Ready deployment already shows blue's
/// termination wait, before the target was read again), the target is read, so the end is timed.
pub fn needs_target(last: Option<&DeploymentSnapshot>, waits: &Waits) -> bool {
    match last {
        Some(s) if is_termination_wait(s) => expected_change(s, waits).is_none(),
        // A Ready wait ends when someone continues the deployment (or at its timeout): nothing in the
        // target moves before the deployment's status does — once the target was read in Ready. A view
        // read just before (an event still in progress; the deployment and its target are two calls) is
        // read again, or the events that led to Ready would never be seen.
        Some(s) if is_ready_wait(s) => {
            s.lifecycle_events.is_empty()
                || s.lifecycle_events
                    .iter()
                    .any(|e| e.status == LifecycleEventStatus::InProgress)
        }
        _ => true,
    }
}

/// When (epoch seconds, AWS's clock) the deployment is expected to move on its own, when it waits.
pub fn expected_change(s: &DeploymentSnapshot, waits: &Waits) -> Option<f64> {
    let ended = |names: &[&str]| {
        s.lifecycle_events
            .iter()
            .filter(|e| names.contains(&e.name.as_str()))
            .filter_map(|e| e.end)
            .reduce(f64::max)
    };
    if is_termination_wait(s) {
        return Some(
            ended(&["AllowTraffic", "AfterAllowTraffic"])? + waits.termination.as_secs_f64(),
        );
    }
    if is_ready_wait(s) {
        return Some(
            ended(&["AfterAllowTestTraffic", "AfterInstall", "Install"])?
                + waits.ready?.as_secs_f64(),
        );
    }
    None
}

/// The waits of an ECS service deployment's configuration (DescribeServiceDeployments'
/// `deploymentConfiguration`), which say when a waiting deployment moves again.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NativeWaits {
    /// `bakeTimeInMinutes`: how long both revisions run once production traffic moved (BAKE_TIME).
    pub bake: Option<Duration>,
    /// LINEAR's `stepBakeTimeInMinutes` / CANARY's `canaryBakeTimeInMinutes`: the wait between two
    /// production traffic steps.
    pub step_bake: Option<Duration>,
}

/// Whether an ECS service deployment only waits, so nothing can move before the wait ends or someone
/// acts: its bake (BAKE_TIME), a LINEAR / CANARY step's bake (production traffic part-way), or a PAUSE
/// hook awaiting action. Stages that start tasks, run hooks or move traffic are not waits.
pub fn native_waits(s: &Snapshot) -> bool {
    if s.status != ServiceDeploymentStatus::InProgress {
        return false;
    }
    if s.awaiting().is_some() {
        return true;
    }
    match s.stage.as_deref() {
        Some("BAKE_TIME") => true,
        Some("PRODUCTION_TRAFFIC_SHIFT") => {
            s.waits.step_bake.is_some_and(|b| !b.is_zero())
                && s.green_production().is_some_and(|w| w > 0.0 && w < 100.0)
        }
        _ => false,
    }
}

/// When (epoch seconds) a waiting service deployment is expected to move on its own: a pause at its
/// hook's expiry (ECS's `expiresAt`), a bake when its time has passed since the deployment was last
/// seen to change (`since`: entering the bake, or the step's traffic moving, is such a change).
pub fn native_expected_change(s: &Snapshot, since: f64) -> Option<f64> {
    if !native_waits(s) {
        return None;
    }
    if let Some(hook) = s.awaiting() {
        return hook.expires_at;
    }
    let wait = match s.stage.as_deref() {
        Some("BAKE_TIME") => s.waits.bake?,
        _ => s.waits.step_bake?,
    };
    Some(since + wait.as_secs_f64())
}

/// The pause before the next poll of an ECS service deployment seen as `last`. While it only waits
/// ([`native_waits`]), as CodeDeploy's waits: slower the longer it has been quiet (`quiet_for`), up to
/// [`MAX_QUIET_INTERVAL`], and fast again near the expected moment (`until_expected`: seconds). In its
/// last stage (CLEAN_UP: the previous revision scales in, then it ends) four times as often as usual
/// (not faster than the shared 250 ms grid), so the end is noticed within a fraction of a second.
/// Otherwise (tasks starting, hooks running, traffic moving, a rollback) at the run's base pace.
pub fn native_interval(
    base: Duration,
    last: Option<&Snapshot>,
    quiet_for: Duration,
    until_expected: Option<f64>,
) -> Duration {
    match last {
        Some(s) if s.stage.as_deref() == Some("CLEAN_UP") => {
            (base / 4).max(Duration::from_millis(250))
        }
        Some(s) if native_waits(s) => interval(base, quiet_for, until_expected),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::LifecycleEvent;

    const S: Duration = Duration::from_secs(1);

    fn snapshot(status: &str, target: Option<&str>, events: &[(&str, f64)]) -> DeploymentSnapshot {
        DeploymentSnapshot {
            deployment_id: "d-1".into(),
            status: status.into(),
            target_status: target.map(Into::into),
            lifecycle_events: events
                .iter()
                .map(|(n, end)| LifecycleEvent {
                    name: n.to_string(),
                    status: "Succeeded".into(),
                    start: Some(end - 1.0),
                    end: Some(*end),
                    diagnostic: None,
                })
                .collect(),
            task_sets: Vec::new(),
            error: None,
            rollback: None,
            termination_wait_started: false,
            is_rollback: false,
            complete_time: None,
        }
    }

    #[test]
    fn fast_while_things_change_slow_while_quiet_at_most_ten_seconds() {
        assert_eq!(interval(S, Duration::ZERO, None), S);
        assert_eq!(interval(S, Duration::from_secs(5), None), S);
        assert_eq!(interval(S, Duration::from_secs(40), None), 4 * S);
        assert_eq!(interval(S, Duration::from_secs(3600), None), 10 * S);
    }

    #[test]
    fn the_expected_moment_is_not_slept_through_and_is_polled_fast_after() {
        let quiet = Duration::from_secs(3600);
        assert_eq!(interval(S, quiet, Some(600.0)), 10 * S);
        assert_eq!(interval(S, quiet, Some(3.5)), Duration::from_secs_f64(3.5));
        assert_eq!(interval(S, quiet, Some(0.2)), S / 2);
        assert_eq!(interval(S, quiet, Some(-30.0)), S / 2);
    }

    #[test]
    fn an_hour_of_quiet_waiting_costs_a_few_calls_a_minute() {
        // Simulate a 60-minute ready wait polled with one call per poll.
        let (mut t, mut calls) = (Duration::ZERO, 0);
        while t < Duration::from_secs(3600) {
            t += interval(S, t, None);
            calls += 1;
        }
        assert!(calls < 400, "{calls} calls in an hour");
    }

    #[test]
    fn termination_wait_ends_at_traffic_shift_end_plus_the_wait() {
        let s = snapshot(
            "InProgress",
            Some("Succeeded"),
            &[("AllowTraffic", 1000.0), ("AfterAllowTraffic", 1010.0)],
        );
        let waits = Waits {
            ready: None,
            termination: Duration::from_secs(300),
        };
        assert!(is_termination_wait(&s));
        assert!(!needs_target(Some(&s), &waits));
        assert_eq!(expected_change(&s, &waits), Some(1310.0));
        // Seen in the termination wait before the target said when traffic moved: read the target.
        let unknown = snapshot(
            "InProgress",
            Some("Ready"),
            &[("AfterAllowTestTraffic", 900.0)],
        );
        let unknown = DeploymentSnapshot {
            termination_wait_started: true,
            ..unknown
        };
        assert!(is_termination_wait(&unknown));
        assert!(needs_target(Some(&unknown), &waits));
    }

    #[test]
    fn a_stop_deployment_ready_wait_ends_at_test_traffic_end_plus_the_wait() {
        let s = snapshot("Ready", Some("Ready"), &[("AfterAllowTestTraffic", 500.0)]);
        let waits = Waits {
            ready: Some(Duration::from_secs(3600)),
            termination: Duration::ZERO,
        };
        assert!(!needs_target(Some(&s), &waits));
        assert_eq!(expected_change(&s, &waits), Some(4100.0));
        // Ready, but the target was read just before (Install still in progress): read it again.
        let mut stale = s.clone();
        stale.lifecycle_events[0].status = LifecycleEventStatus::InProgress;
        assert!(needs_target(Some(&stale), &waits));
        let in_progress = snapshot("InProgress", Some("InProgress"), &[]);
        assert!(needs_target(Some(&in_progress), &waits));
        assert_eq!(expected_change(&in_progress, &waits), None);
    }

    mod native {
        use super::*;
        use crate::watch::native::{Hook, Revision};
        use aws_sdk_ecs::types::DeploymentLifecycleHookStatus;

        const MIN: Duration = Duration::from_secs(60);

        fn deployment(stage: &str, green: Option<f64>) -> Snapshot {
            Snapshot {
                arn: "arn:d".into(),
                status: ServiceDeploymentStatus::InProgress,
                status_reason: None,
                stage: Some(stage.into()),
                target: green.map(|w| Revision {
                    arn: "arn:r/1".into(),
                    requested: 2,
                    running: 2,
                    pending: 0,
                    production_weight: Some(w),
                    test_weight: Some(100.0),
                }),
                sources: Vec::new(),
                hooks: Vec::new(),
                rollback_reason: None,
                triggered_alarms: Vec::new(),
                created_at: None,
                finished_at: None,
                stages_seen: Vec::new(),
                waits: NativeWaits {
                    bake: Some(60 * MIN),
                    step_bake: None,
                },
            }
        }

        #[test]
        fn a_long_bake_is_polled_slowly_then_fast_as_it_ends() {
            let s = deployment("BAKE_TIME", Some(100.0));
            assert!(native_waits(&s));
            // Baking since t=1000 for an hour: expected to move at 4600.
            assert_eq!(native_expected_change(&s, 1000.0), Some(4600.0));
            let quiet = Duration::from_secs(1800);
            assert_eq!(native_interval(S, Some(&s), quiet, Some(1800.0)), 10 * S);
            assert_eq!(
                native_interval(S, Some(&s), quiet, Some(2.5)),
                Duration::from_secs_f64(2.5)
            );
            assert_eq!(native_interval(S, Some(&s), quiet, Some(-1.0)), S / 2);
            // Just entered: at the run's pace.
            assert_eq!(
                native_interval(S, Some(&s), Duration::ZERO, Some(3600.0)),
                S
            );
        }

        #[test]
        fn an_hour_of_bake_costs_a_few_calls_a_minute() {
            let s = deployment("BAKE_TIME", Some(100.0));
            let (mut t, mut calls) = (Duration::ZERO, 0);
            while t < 60 * MIN {
                let until = native_expected_change(&s, 0.0).map(|at| at - t.as_secs_f64());
                t += native_interval(S, Some(&s), t, until);
                calls += 1;
            }
            assert!(calls < 450, "{calls} calls in an hour's bake");
        }

        #[test]
        fn a_pause_awaiting_action_is_a_wait_until_its_expiry() {
            let mut s = deployment("POST_TEST_TRAFFIC_SHIFT", Some(0.0));
            assert!(!native_waits(&s));
            s.hooks.push(Hook {
                id: "ecs-pause-1".into(),
                target_type: Some("PAUSE".into()),
                target_arn: None,
                status: Some(DeploymentLifecycleHookStatus::AwaitingAction),
                expires_at: Some(9000.0),
                timeout_action: Some("ROLLBACK".into()),
            });
            assert!(native_waits(&s));
            assert_eq!(native_expected_change(&s, 1000.0), Some(9000.0));
            assert_eq!(
                native_interval(S, Some(&s), Duration::from_secs(600), None),
                10 * S
            );
        }

        #[test]
        fn a_step_bake_waits_only_while_production_is_part_way() {
            let mut s = deployment("PRODUCTION_TRAFFIC_SHIFT", Some(10.0));
            // BLUE_GREEN has no step bake: traffic moves, nothing waits.
            assert!(!native_waits(&s));
            s.waits.step_bake = Some(6 * MIN);
            assert!(native_waits(&s));
            assert_eq!(native_expected_change(&s, 100.0), Some(460.0));
            s.target.as_mut().unwrap().production_weight = Some(100.0);
            assert!(!native_waits(&s));
        }

        #[test]
        fn clean_up_is_fast_and_moving_stages_and_rollbacks_keep_the_base_pace() {
            let quiet = Duration::from_secs(600);
            let clean = deployment("CLEAN_UP", Some(100.0));
            assert_eq!(
                native_interval(S, Some(&clean), quiet, None),
                Duration::from_millis(250)
            );
            assert_eq!(native_interval(4 * S, Some(&clean), quiet, None), S);
            assert_eq!(
                native_interval(S, Some(&deployment("SCALE_UP", None)), quiet, None),
                S
            );
            let mut rolling_back = deployment("BAKE_TIME", Some(100.0));
            rolling_back.status = ServiceDeploymentStatus::RollbackInProgress;
            assert!(!native_waits(&rolling_back));
            assert_eq!(native_interval(S, Some(&rolling_back), quiet, None), S);
            assert_eq!(native_interval(S, None, quiet, None), S);
        }
    }
}
