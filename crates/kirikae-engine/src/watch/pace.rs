//! How long to wait before the next poll of a deployment: quickly when something can change, slowly
//! while nothing can (a ready wait of an hour, blue's termination wait), and quickly again as the
//! moment AWS is expected to move approaches, so the end is still noticed at once.
//!
//! Two signals, both from AWS's own answers: how long the deployment has been quiet (a poll interval
//! of a tenth of that, so an hour of waiting costs a few calls a minute, not two a second), and when its
//! current wait ends (the lifecycle event that started it, plus the group's wait).

use std::time::Duration;

use aws_sdk_codedeploy::types::{DeploymentStatus, LifecycleEventStatus, TargetStatus};

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
}
