//! What the demo shows: every request's fate, the switch, and whether the deploy kept its promises.
//!
//! **The switch** is defined from what AWS reports: the first moment the production listener was seen
//! (`DescribeListeners`, polled every 20 ms by [`super::listener`]) forwarding 100% of its traffic to the
//! green target group. Its instant is when that answer arrived (`at`), so every request started after it
//! was routed by the new forward; the change itself happened after `not_before` (when the previous poll,
//! which still saw the old forward, was sent). CodeDeploy's own record, the end of the `AllowTraffic`
//! lifecycle event, is reported beside it for comparison but not used: its timestamp is taken at the start
//! of the step that rewrites the listener, and has only AWS's timestamp precision.
//!
//! **Stale** responses are answers from blue to requests started after the switch: with a listener that
//! routes every request afresh there must be none.

use std::collections::BTreeMap;

use kirikae_engine::outcome::{self, Outcome};
use serde::Serialize;

use super::listener::Observation;
use super::load::Sample;
use super::{Deploy, Options, Origin};

/// The definition printed with every report.
pub const SWITCH_DEFINITION: &str = "the first moment the production listener was seen (DescribeListeners, polled every 20 ms) forwarding 100% to the green target group; requests started after it can only be routed to green";

/// The pseudo-event of blue's termination wait in the timeline.
pub const TERMINATION_WAIT: &str = "(termination wait)";

/// The chart's resolution: a terminal line holds this many columns beside the labels.
const MAX_BUCKETS: f64 = 56.0;

/// Everything [`Report::build`] needs.
pub struct Inputs<'a> {
    pub options: &'a Options,
    pub origin: Origin,
    pub url: &'a str,
    /// When the load stopped, in seconds since the origin.
    pub load_seconds: f64,
    pub samples: &'a [Sample],
    pub observations: &'a [Observation],
    /// `(name, ARN)` of the deployment group's target groups.
    pub target_groups: &'a [(String, String)],
    pub v1: Outcome,
    pub v2: Outcome,
}

/// The demo's result. Times are seconds since the load started (`origin_epoch`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How the v2 deploy ended (the deploy's own result).
    pub result: outcome::Result,
    /// Whether every check passed: the deploy did what it promised.
    pub ok: bool,
    /// `kirikae demo`'s exit status: the deploy's own, or 1 when a check failed.
    pub exit_code: u8,
    pub checks: Vec<Check>,
    pub deployment_config: String,
    /// `--fail`: green was made to fail its health checks.
    pub fail: bool,
    /// The version on blue (serving before) and the one deployed on green.
    pub blue: String,
    pub green: String,
    /// Epoch seconds of time 0.
    pub origin_epoch: f64,
    pub load: LoadReport,
    pub requests: Requests,
    pub switch: Option<Switch>,
    /// Responses from blue to requests started after the switch.
    pub stale_after_switch: u64,
    /// The version that answered the last successful request.
    pub last_version: Option<String>,
    pub series: Series,
    /// The v2 deployment's lifecycle events.
    pub timeline: Vec<Mark>,
    /// Every forward of the production listener seen while the load ran.
    pub listener: Vec<ListenerState>,
    pub v1: Outcome,
    pub v2: Outcome,
    /// Where the SVG report was written (set by whoever writes it).
    pub report_file: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub url: String,
    pub rate: f64,
    pub connections: usize,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Requests {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub by_version: BTreeMap<String, u64>,
    /// Failed requests by reason.
    pub failures: BTreeMap<String, u64>,
    pub latency_ms: Latency,
}

/// Time from writing a request to its whole answer, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// When the slowest request started.
    pub max_at: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Switch {
    /// The switch instant (see the module doc).
    pub at: f64,
    /// The listener changed after this.
    pub not_before: f64,
    pub target_group: String,
    /// When CodeDeploy's AllowTraffic event ended, for comparison.
    pub allow_traffic_end: Option<f64>,
    pub definition: &'static str,
}

/// Requests per second by version, in buckets of `bucket_seconds` by start time.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub bucket_seconds: f64,
    /// Versions in chart order: blue, green, then any other.
    pub versions: Vec<String>,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub start: f64,
    /// Requests per second answered by each version of `Series::versions`, same order.
    pub rps: Vec<f64>,
    pub failed_rps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    pub event: String,
    pub status: String,
    pub start: Option<f64>,
    pub end: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListenerState {
    pub after: f64,
    pub by: f64,
    /// Target group name → percent.
    pub weights: BTreeMap<String, f64>,
}

impl Report {
    pub fn build(i: Inputs) -> Report {
        let (blue, green) = (Deploy::V1.version(), Deploy::V2.version());
        let name_of = |arn: &str| {
            i.target_groups
                .iter()
                .find(|(_, a)| a == arn)
                .map_or_else(|| arn.to_string(), |(n, _)| n.clone())
        };
        let switch = switch(&i, &name_of);
        let requests = requests(i.samples);
        let stale_after_switch = switch.as_ref().map_or(0, |s| {
            i.samples
                .iter()
                .filter(|r| r.start > s.at && r.version.as_deref() == Some(blue))
                .count() as u64
        });
        let last_version = i.samples.iter().rev().find_map(|s| s.version.clone());
        let first_version = i.samples.iter().find_map(|s| s.version.clone());
        let mut report = Report {
            result: i.v2.result,
            ok: false,
            exit_code: 0,
            checks: Vec::new(),
            deployment_config: i.options.deployment_config.clone(),
            fail: i.options.fail,
            blue: blue.into(),
            green: green.into(),
            origin_epoch: i.origin.epoch(),
            load: LoadReport {
                url: i.url.to_string(),
                rate: i.options.load.rate,
                connections: i.options.load.connections,
                seconds: i.load_seconds,
            },
            series: series(i.samples, i.load_seconds, &[blue, green]),
            timeline: timeline(&i.v2, i.origin),
            listener: i
                .observations
                .iter()
                .map(|o| ListenerState {
                    after: o.after,
                    by: o.by,
                    weights: o.weights.iter().map(|(a, w)| (name_of(a), *w)).collect(),
                })
                .collect(),
            switch,
            stale_after_switch,
            requests,
            last_version,
            v1: i.v1,
            v2: i.v2,
            report_file: None,
        };
        report.checks = if report.fail {
            report.rollback_checks(first_version.as_deref())
        } else {
            report.switch_checks(first_version.as_deref())
        };
        report.checks.extend(report.gate_check(i.samples));
        report.ok = report.checks.iter().all(|c| c.ok);
        let deploy_code = report.v2.exit_code();
        report.exit_code = if report.ok || deploy_code != 0 {
            deploy_code
        } else {
            1
        };
        report
    }

    /// A successful Blue/Green deploy: every request answered, one switch, nothing stale.
    fn switch_checks(&self, first: Option<&str>) -> Vec<Check> {
        let status = self.v2.status.clone().unwrap_or_else(|| "none".into());
        // CodeDeploy's word for it, or ECS's (a service deployment, `--controller ecs`).
        let succeeded = if is_native(&self.v2) {
            "SUCCESSFUL"
        } else {
            "Succeeded"
        };
        vec![
            Check::new(
                "deployment",
                succeeded,
                &status,
                self.v2.result == outcome::Result::Succeeded && status == succeeded,
            ),
            self.failed_check(),
            Check::new(
                "switch",
                "production listener forwards 100% to green",
                &self
                    .switch
                    .as_ref()
                    .map_or("never seen".into(), |s| format!("at +{:.2} s", s.at)),
                self.switch.is_some(),
            ),
            Check::new(
                "stale responses after the switch",
                "0",
                &self.stale_after_switch.to_string(),
                self.switch.is_some() && self.stale_after_switch == 0,
            ),
            Check::new(
                "versions answering",
                &format!("{} first, {} last", self.blue, self.green),
                &format!(
                    "{} first, {} last",
                    first.unwrap_or("none"),
                    self.last_version.as_deref().unwrap_or("none")
                ),
                first == Some(self.blue.as_str())
                    && self.last_version.as_deref() == Some(self.green.as_str()),
            ),
        ]
    }

    /// `--fail`: the deployment rolls back and production never leaves blue.
    fn rollback_checks(&self, first: Option<&str>) -> Vec<Check> {
        let back_on_blue = self.v2.rollback.as_ref().is_some_and(|r| r.traffic_on_blue);
        let green_answers = self
            .requests
            .by_version
            .get(&self.green)
            .copied()
            .unwrap_or(0);
        vec![
            Check::new(
                "deployment",
                "rolled back, production traffic back on blue",
                &format!(
                    "{}{}",
                    self.v2.result.as_str(),
                    if back_on_blue {
                        ", production traffic back on blue"
                    } else {
                        ""
                    }
                ),
                self.v2.result == outcome::Result::RolledBack && back_on_blue,
            ),
            self.failed_check(),
            Check::new(
                "versions answering",
                &format!("{} only", self.blue),
                &format!(
                    "{} first, {} last, {green_answers} answers from {}",
                    first.unwrap_or("none"),
                    self.last_version.as_deref().unwrap_or("none"),
                    self.green
                ),
                first == Some(self.blue.as_str())
                    && self.last_version.as_deref() == Some(self.blue.as_str())
                    && green_answers == 0,
            ),
        ]
    }

    /// `--gate`: the gate passed, and production answered nothing from green before it did.
    fn gate_check(&self, samples: &[Sample]) -> Option<Check> {
        let gate = self.v2.gate.as_ref()?;
        let passed_at = gate.finished_at - self.origin_epoch;
        let early = samples
            .iter()
            .filter(|r| r.start < passed_at && r.version.as_deref() == Some(self.green.as_str()))
            .count();
        let first_green = samples
            .iter()
            .find(|r| r.version.as_deref() == Some(self.green.as_str()))
            .map_or("none".to_string(), |r| format!("+{:.2} s", r.start));
        let passed = gate.verdict == kirikae_engine::gate::Verdict::Passed;
        Some(Check::new(
            "gate",
            &format!(
                "passed through the test listener; no answer from {} on production before",
                self.green
            ),
            &format!(
                "{} at +{passed_at:.2} s ({}); first answer from {} on production at {first_green}; {early} before the gate passed",
                if passed { "passed" } else { "did not pass" },
                gate.summary,
                self.green
            ),
            passed && early == 0,
        ))
    }

    fn failed_check(&self) -> Check {
        Check::new(
            "failed requests",
            "0",
            &format!("{} of {}", self.requests.failed, self.requests.total),
            self.requests.total > 0 && self.requests.failed == 0,
        )
    }
}

impl Check {
    fn new(name: &str, expected: &str, actual: &str, ok: bool) -> Check {
        Check {
            name: name.into(),
            expected: expected.into(),
            actual: actual.into(),
            ok,
        }
    }
}

/// The switch: blue is where the listener forwarded when the load started; the switch is the first
/// observation with all of it on another target group.
fn switch(i: &Inputs, name_of: &dyn Fn(&str) -> String) -> Option<Switch> {
    let first = i.observations.first()?;
    let blue = first
        .weights
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))?
        .0
        .clone();
    let seen = i.observations.iter().find(|o| {
        o.weights
            .iter()
            .any(|(arn, w)| *arn != blue && *w >= 100.0 - 1e-9)
    })?;
    let green = seen.weights.iter().find(|(_, w)| *w > 0.0)?.0.clone();
    let allow_traffic_end =
        i.v2.timeline
            .iter()
            .find(|t| t.event == "AllowTraffic" && t.status == "Succeeded")
            .and_then(|t| t.end)
            .map(|e| i.origin.since(e));
    Some(Switch {
        at: seen.by,
        not_before: seen.after,
        target_group: name_of(&green),
        allow_traffic_end,
        definition: SWITCH_DEFINITION,
    })
}

/// Whether the deploy was an ECS service deployment (ECS-native Blue/Green) rather than CodeDeploy's.
fn is_native(o: &Outcome) -> bool {
    o.deployment_id
        .as_deref()
        .is_some_and(|id| id.contains(":service-deployment/"))
}

/// The v2 deployment's lifecycle events; then the termination wait after a success (blue kept, without
/// traffic, until the deployment ends) or the rollback deployment after a failure, named in parentheses
/// as they are no lifecycle events of AWS's.
fn timeline(v2: &Outcome, origin: Origin) -> Vec<Mark> {
    let mut marks: Vec<Mark> = v2
        .timeline
        .iter()
        .map(|t| Mark {
            event: t.event.clone(),
            status: t.status.clone(),
            start: t.start.map(|s| origin.since(s)),
            end: t.end.map(|s| origin.since(s)),
        })
        .collect();
    // Until kirikae saw the deployment (or its rollback) end, within one poll of it.
    let end = Some(origin.since(v2.finished_at));
    let last_end = marks.iter().filter_map(|m| m.end).reduce(f64::max);
    let after = match (&v2.result, &v2.rollback) {
        // ECS's own stages include the bake and the clean-up: no pseudo-event after them.
        (outcome::Result::Succeeded, _) if is_native(v2) => None,
        (outcome::Result::Succeeded, _) => Some((TERMINATION_WAIT.to_string(), "Succeeded")),
        (outcome::Result::RolledBack, Some(r)) => Some((
            "(rollback)".to_string(),
            if r.traffic_on_blue {
                "Succeeded"
            } else {
                "Failed"
            },
        )),
        _ => None,
    };
    if let (Some((event, status)), Some(start)) = (after, last_end) {
        marks.push(Mark {
            event,
            status: status.into(),
            start: Some(start),
            end,
        });
    }
    marks
}

fn latency(samples: &[Sample]) -> Latency {
    let mut ms: Vec<f64> = samples.iter().map(|s| (s.end - s.start) * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let slowest = samples
        .iter()
        .max_by(|a, b| (a.end - a.start).total_cmp(&(b.end - b.start)));
    Latency {
        p50: at(0.5),
        p99: at(0.99),
        max: at(1.0),
        max_at: slowest.map_or(0.0, |s| s.start),
    }
}

fn requests(samples: &[Sample]) -> Requests {
    let mut r = Requests {
        latency_ms: latency(samples),
        ..Requests::default()
    };
    for s in samples {
        r.total += 1;
        match (&s.version, &s.error) {
            (Some(v), _) => {
                r.succeeded += 1;
                *r.by_version.entry(v.clone()).or_default() += 1;
            }
            (None, e) => {
                r.failed += 1;
                let reason = e.clone().unwrap_or_else(|| "unknown".into());
                *r.failures.entry(reason).or_default() += 1;
            }
        }
    }
    r
}

/// Buckets of a round width, at most [`MAX_BUCKETS`] (one per column of a terminal chart).
fn series(samples: &[Sample], seconds: f64, known: &[&str]) -> Series {
    const NICE: &[f64] = &[0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];
    let width = NICE
        .iter()
        .copied()
        .find(|w| seconds / w <= MAX_BUCKETS)
        .unwrap_or(60.0);
    let mut versions: Vec<String> = known.iter().map(|v| v.to_string()).collect();
    for s in samples {
        if let Some(v) = &s.version
            && !versions.contains(v)
        {
            versions.push(v.clone());
        }
    }
    // Whole buckets only: a last, partial one would show a drop that did not happen.
    let count = ((seconds / width + 1e-9).floor() as usize).max(1);
    let mut buckets: Vec<Bucket> = (0..count)
        .map(|b| Bucket {
            start: b as f64 * width,
            rps: vec![0.0; versions.len()],
            failed_rps: 0.0,
        })
        .collect();
    for s in samples {
        let b = (s.start / width + 1e-9) as usize;
        if b >= count {
            continue;
        }
        match &s.version {
            Some(v) => {
                let k = versions.iter().position(|x| x == v).unwrap_or(0);
                buckets[b].rps[k] += 1.0 / width;
            }
            None => buckets[b].failed_rps += 1.0 / width,
        }
    }
    Series {
        bucket_seconds: width,
        versions,
        buckets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start: f64, version: Option<&str>) -> Sample {
        Sample {
            start,
            end: start + 0.001,
            version: version.map(str::to_string),
            error: version.is_none().then(|| "HTTP 503".to_string()),
        }
    }

    #[test]
    fn series_counts_requests_per_second_by_version() {
        let samples = [
            sample(0.01, Some("v1")),
            sample(0.02, Some("v1")),
            sample(0.15, Some("v2")),
            sample(0.16, None),
            sample(0.17, Some("v3")),
        ];
        let s = series(&samples, 0.2, &["v1", "v2"]);
        assert_eq!(s.bucket_seconds, 0.05);
        assert_eq!(s.versions, ["v1", "v2", "v3"]);
        assert_eq!(s.buckets.len(), 4);
        assert_eq!(s.buckets[0].rps, [40.0, 0.0, 0.0]);
        assert_eq!(s.buckets[3].rps, [0.0, 20.0, 20.0]);
        assert_eq!(s.buckets[3].failed_rps, 20.0);
    }

    fn succeeded(origin: Origin) -> Outcome {
        let at = |t: f64| Some(origin.epoch() + t);
        Outcome {
            config: "kirikae.yml".into(),
            region: "us-east-1".into(),
            cluster: "demo".into(),
            service: "web".into(),
            result: outcome::Result::Succeeded,
            exit_code: 0,
            message: String::new(),
            next_steps: Vec::new(),
            failure: None,
            diagnosis: None,
            gate: None,
            before_switch: None,
            controller: outcome::Controller::CodeDeploy,
            codedeploy: Some(outcome::CodeDeployParts {
                application: "AppEcs-demo-web".into(),
                application_created: false,
                deployment_group: "DgpEcs-demo-web".into(),
                deployment_group_action: outcome::GroupAction::Unchanged,
                deployment_group_changes: Vec::new(),
            }),
            task_definition_arn: None,
            task_definition_registered: true,
            images: Vec::new(),
            service_created: false,
            service_changes: Vec::new(),
            deployment_id: Some("d-TEST00000".into()),
            console_url: None,
            status: Some("Succeeded".into()),
            error: None,
            rollback: None,
            timeline: vec![outcome::TimelineEntry {
                event: "AllowTraffic".into(),
                status: "Succeeded".into(),
                start: at(1.0),
                end: at(1.0),
                duration_seconds: Some(0.0),
            }],
            started_at: origin.epoch(),
            finished_at: origin.epoch() + 2.0,
            duration_seconds: 2.0,
        }
    }

    fn observed(after: f64, by: f64, blue: f64) -> Observation {
        Observation {
            after,
            by,
            weights: vec![
                ("arn:blue".into(), blue),
                ("arn:green".into(), 100.0 - blue),
            ],
        }
    }

    /// The switch is the first poll that saw all traffic on green; a blue answer to a request started
    /// after it is stale, one started before it is not.
    #[test]
    fn switch_from_the_listener_and_stale_answers_after_it() {
        let origin = Origin::now();
        let options = Options {
            endpoint_url: String::new(),
            examples: None,
            work_dir: std::env::temp_dir(),
            deployment_config: "CodeDeployDefault.ECSAllAtOnce".into(),
            fail: false,
            gate: false,
            ecs: false,
            load: super::super::load::Settings {
                rate: 10.0,
                connections: 1,
            },
        };
        let tgs = [
            ("demo-blue".to_string(), "arn:blue".to_string()),
            ("demo-green".to_string(), "arn:green".to_string()),
        ];
        let observations = [
            observed(0.0, 0.01, 100.0),
            observed(0.98, 1.01, 90.0),
            observed(1.48, 1.51, 0.0),
        ];
        let samples = [
            sample(0.5, Some("v1")),
            sample(1.50, Some("v1")), // started before the switch: not stale
            sample(1.52, Some("v1")), // stale
            sample(1.9, Some("v2")),
        ];
        let build = |samples: &[Sample]| {
            Report::build(Inputs {
                options: &options,
                origin,
                url: "http://lb/",
                load_seconds: 2.0,
                samples,
                observations: &observations,
                target_groups: &tgs,
                v1: succeeded(origin),
                v2: succeeded(origin),
            })
        };
        let r = build(&samples);
        let switch = r.switch.as_ref().expect("a switch");
        assert_eq!((switch.not_before, switch.at), (1.48, 1.51));
        assert_eq!(switch.target_group, "demo-green");
        assert!((switch.allow_traffic_end.unwrap() - 1.0).abs() < 1e-6);
        assert_eq!(r.stale_after_switch, 1);
        assert!(!r.ok);
        assert_eq!(r.exit_code, 1, "a broken promise fails a succeeded deploy");
        assert_eq!(r.listener[1].weights["demo-green"], 10.0);

        let clean = [samples[0].clone(), samples[1].clone(), samples[3].clone()];
        let r = build(&clean);
        assert_eq!(r.stale_after_switch, 0);
        assert!(r.ok, "{:#?}", r.checks);
        assert_eq!(r.exit_code, 0);
        assert_eq!(r.timeline.last().unwrap().event, TERMINATION_WAIT);
    }

    #[test]
    fn requests_by_version_and_failure_reason() {
        let r = requests(&[sample(0.0, Some("v1")), sample(0.1, None)]);
        assert_eq!((r.total, r.succeeded, r.failed), (2, 1, 1));
        assert_eq!(r.by_version["v1"], 1);
        assert_eq!(r.failures["HTTP 503"], 1);
    }
}
