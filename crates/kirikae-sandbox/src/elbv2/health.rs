//! A target's health as the load balancer sees it: the threshold state machine fed by health-check
//! outcomes, and how `DescribeTargetHealth` reports it (AWS's states, reason codes and descriptions).
//! Pure: the probes that produce outcomes live in `probes`.

use super::TargetState;

/// What one health check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// The target answered with a code the matcher does not accept.
    CodeMismatch(u16),
    /// No answer within `HealthCheckTimeoutSeconds`.
    TimedOut,
    /// The connection failed (refused, reset, not an HTTP answer).
    Failed,
}

/// The health-check verdict (before draining and "not in use" are considered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Registered; `checked` once the first health check has answered.
    Initial {
        checked: bool,
    },
    Healthy,
    Unhealthy(Outcome),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthTrack {
    pub verdict: Verdict,
    successes: u32,
    failures: u32,
}

impl Default for HealthTrack {
    fn default() -> Self {
        HealthTrack {
            verdict: Verdict::Initial { checked: false },
            successes: 0,
            failures: 0,
        }
    }
}

impl HealthTrack {
    /// Count an outcome. A newly registered target is healthy after ONE passing check ("After your
    /// target is registered, it must pass one health check to be considered healthy", ALB user guide);
    /// `healthy` (HealthyThresholdCount: "successes required before considering an unhealthy target
    /// healthy") consecutive passes bring an unhealthy target back. `unhealthy` consecutive failures
    /// make a target unhealthy (whether it was initial or healthy); anything less keeps the verdict.
    pub fn record(&mut self, outcome: Outcome, healthy: u32, unhealthy: u32) {
        if outcome == Outcome::Passed {
            self.successes += 1;
            self.failures = 0;
            let initial = matches!(self.verdict, Verdict::Initial { .. });
            if initial || self.successes >= healthy {
                self.verdict = Verdict::Healthy;
            }
        } else {
            self.failures += 1;
            self.successes = 0;
            if self.failures >= unhealthy {
                self.verdict = Verdict::Unhealthy(outcome);
            } else if let Verdict::Unhealthy(_) = self.verdict {
                // Still unhealthy; report the latest failure.
                self.verdict = Verdict::Unhealthy(outcome);
            }
        }
        if let Verdict::Initial { .. } = self.verdict {
            self.verdict = Verdict::Initial { checked: true };
        }
    }
}

/// How `DescribeTargetHealth` reports one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub state: TargetState,
    pub reason: Option<&'static str>,
    pub description: Option<String>,
}

/// What is known about a registered target, in the order AWS's states take precedence.
pub struct Facts {
    pub draining: bool,
    pub in_use: bool,
    pub health_check_enabled: bool,
    pub verdict: Verdict,
}

pub fn report(f: &Facts) -> Report {
    let r = |state, reason, description: &str| Report {
        state,
        reason: Some(reason),
        description: Some(description.to_string()),
    };
    if f.draining {
        return r(
            TargetState::Draining,
            "Target.DeregistrationInProgress",
            "Target deregistration is in progress",
        );
    }
    if !f.in_use {
        return r(
            TargetState::Unused,
            "Target.NotInUse",
            "Target group is not configured to receive traffic from the load balancer",
        );
    }
    if !f.health_check_enabled {
        return r(
            TargetState::Unavailable,
            "Target.HealthCheckDisabled",
            "Health checks are disabled",
        );
    }
    match f.verdict {
        Verdict::Initial { checked: false } => r(
            TargetState::Initial,
            "Elb.RegistrationInProgress",
            "Target registration is in progress",
        ),
        Verdict::Initial { checked: true } => r(
            TargetState::Initial,
            "Elb.InitialHealthChecking",
            "Initial health checks in progress",
        ),
        Verdict::Healthy => Report {
            state: TargetState::Healthy,
            reason: None,
            description: None,
        },
        Verdict::Unhealthy(Outcome::CodeMismatch(code)) => Report {
            state: TargetState::Unhealthy,
            reason: Some("Target.ResponseCodeMismatch"),
            description: Some(format!("Health checks failed with these codes: [{code}]")),
        },
        Verdict::Unhealthy(Outcome::TimedOut) => r(
            TargetState::Unhealthy,
            "Target.Timeout",
            "Request timed out",
        ),
        Verdict::Unhealthy(_) => r(
            TargetState::Unhealthy,
            "Target.FailedHealthChecks",
            "Health checks failed",
        ),
    }
}

/// Whether the load balancer may send new requests to a target in this state. Targets of a group
/// whose health checks are disabled are `unavailable` and, as on AWS, still receive traffic.
pub fn routable(state: TargetState) -> bool {
    matches!(state, TargetState::Healthy | TargetState::Unavailable)
}

/// `Matcher.HttpCode`: "200", "200,202", "200-299", or a mix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher(Vec<(u16, u16)>);

impl Matcher {
    pub fn parse(spec: &str) -> Option<Matcher> {
        let mut ranges = Vec::new();
        for part in spec.split(',') {
            let part = part.trim();
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let (lo, hi): (u16, u16) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
            // ALB accepts codes 200-499 in matchers.
            if !(200..=499).contains(&lo) || !(200..=499).contains(&hi) || lo > hi {
                return None;
            }
            ranges.push((lo, hi));
        }
        Some(Matcher(ranges))
    }

    pub fn accepts(&self, code: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(verdict: Verdict) -> Facts {
        Facts {
            draining: false,
            in_use: true,
            health_check_enabled: true,
            verdict,
        }
    }

    #[test]
    fn a_new_target_is_healthy_after_one_passing_check() {
        let mut h = HealthTrack::default();
        assert_eq!(
            report(&facts(h.verdict)).reason,
            Some("Elb.RegistrationInProgress")
        );
        // A failure below the unhealthy threshold keeps it initial, checked.
        h.record(Outcome::TimedOut, 5, 2);
        assert_eq!(h.verdict, Verdict::Initial { checked: true });
        assert_eq!(
            report(&facts(h.verdict)).reason,
            Some("Elb.InitialHealthChecking")
        );
        // One pass, not HealthyThresholdCount (5) of them.
        h.record(Outcome::Passed, 5, 2);
        assert_eq!(h.verdict, Verdict::Healthy);
        assert_eq!(
            report(&facts(h.verdict)),
            Report {
                state: TargetState::Healthy,
                reason: None,
                description: None
            }
        );
    }

    #[test]
    fn failures_need_consecutive_runs() {
        let mut h = HealthTrack::default();
        h.record(Outcome::Passed, 2, 3);
        h.record(Outcome::Passed, 2, 3);
        assert_eq!(h.verdict, Verdict::Healthy);
        h.record(Outcome::Failed, 2, 3);
        h.record(Outcome::Failed, 2, 3);
        h.record(Outcome::Passed, 2, 3); // breaks the run
        h.record(Outcome::Failed, 2, 3);
        h.record(Outcome::Failed, 2, 3);
        assert_eq!(h.verdict, Verdict::Healthy);
        h.record(Outcome::CodeMismatch(500), 2, 3);
        assert_eq!(h.verdict, Verdict::Unhealthy(Outcome::CodeMismatch(500)));
        let r = report(&facts(h.verdict));
        assert_eq!(r.state, TargetState::Unhealthy);
        assert_eq!(r.reason, Some("Target.ResponseCodeMismatch"));
        assert_eq!(
            r.description.as_deref(),
            Some("Health checks failed with these codes: [500]")
        );
        // Recovering takes the healthy threshold again.
        h.record(Outcome::Passed, 2, 3);
        assert!(matches!(h.verdict, Verdict::Unhealthy(_)));
        h.record(Outcome::Passed, 2, 3);
        assert_eq!(h.verdict, Verdict::Healthy);
    }

    #[test]
    fn initial_can_go_straight_to_unhealthy() {
        let mut h = HealthTrack::default();
        h.record(Outcome::TimedOut, 5, 2);
        assert_eq!(h.verdict, Verdict::Initial { checked: true });
        h.record(Outcome::TimedOut, 5, 2);
        assert_eq!(report(&facts(h.verdict)).reason, Some("Target.Timeout"));
        h.record(Outcome::Failed, 5, 2);
        assert_eq!(
            report(&facts(h.verdict)).reason,
            Some("Target.FailedHealthChecks")
        );
    }

    #[test]
    fn draining_and_unused_take_precedence() {
        let mut f = facts(Verdict::Healthy);
        f.in_use = false;
        assert_eq!(report(&f).reason, Some("Target.NotInUse"));
        f.draining = true;
        assert_eq!(report(&f).state, TargetState::Draining);
        assert!(!routable(TargetState::Draining));
        assert!(!routable(TargetState::Initial));
        assert!(routable(TargetState::Healthy));
    }

    #[test]
    fn matcher_accepts_lists_and_ranges() {
        let m = Matcher::parse("200,202,300-399").unwrap();
        assert!(m.accepts(200) && m.accepts(202) && m.accepts(350));
        assert!(!m.accepts(201) && !m.accepts(500));
        assert!(Matcher::parse("abc").is_none());
        assert!(Matcher::parse("600").is_none());
        assert!(Matcher::parse("299-200").is_none());
    }
}
