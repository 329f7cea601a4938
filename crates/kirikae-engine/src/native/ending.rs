//! How a native deploy ended, as an [`Outcome`]: pure functions of what the run did ([`Facts`]) and how
//! following the service deployment ended ([`Followed`]). The same results and exit statuses as on
//! CodeDeploy: SUCCESSFUL → succeeded (0); ROLLBACK_SUCCESSFUL → rolled back, ROLLBACK_FAILED → failed,
//! STOPPED → stopped (all 1, with ECS's statusReason); timed out / lost contact (3); interrupted (128 +
//! signal). Every ending that leaves a deployment running says how to follow, continue, or roll it back.

use aws_sdk_ecs::types::ServiceDeploymentStatus;

use crate::deploy::ending::{Facts, stop_said};
use crate::outcome::{Outcome, Result as Res, RollbackOutcome, TimelineEntry};
use crate::progress::now_epoch;
use crate::watch::native::{Followed, Snapshot};

/// The ECS console page of a service's deployments.
pub fn console_url(region: &str, cluster: &str, service: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/services/{service}/deployments?region={region}"
    )
}

/// What a person can do about a service deployment that goes on.
pub fn next_steps(config: &str, arn: &str, last: Option<&Snapshot>) -> Vec<String> {
    let mut steps = vec![
        format!("follow it: kirikae watch -c {config}"),
        format!("or: aws ecs describe-service-deployments --service-deployment-arns {arn}"),
    ];
    if let Some(h) = last.and_then(Snapshot::awaiting) {
        steps.push(format!(
            "continue it: kirikae promote -c {config} (aws ecs continue-service-deployment --service-deployment-arn {arn} --hook-id {})",
            h.id
        ));
    }
    steps.push(format!(
        "roll it back: kirikae rollback -c {config} (aws ecs stop-service-deployment --service-deployment-arn {arn} --stop-type ROLLBACK)"
    ));
    steps
}

fn images_said(f: &Facts) -> String {
    f.images
        .iter()
        .map(|i| format!("{}={}", i.container, i.image))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where production traffic is, from the last snapshot.
fn traffic(s: &Snapshot) -> String {
    match (s.status.clone(), s.green_production()) {
        (ServiceDeploymentStatus::RollbackSuccessful, _) => {
            "production traffic is back on the previous revision".into()
        }
        (ServiceDeploymentStatus::RollbackFailed, _) => {
            "the rollback failed: check the production listener rule's weights".into()
        }
        (_, Some(w)) if w > 0.0 => format!("production traffic is on the new revision ({w:.0}%)"),
        _ => "production traffic is on the previous revision".into(),
    }
}

/// The outcome with the service deployment's id, status, console page and stage timeline.
fn with_deployment(mut out: Outcome, f: &Facts, arn: &str, last: Option<&Snapshot>) -> Outcome {
    out.deployment_id = Some(arn.to_string());
    out.console_url = Some(console_url(&f.region, &f.cluster, &f.service));
    out.status = last.map(|s| s.status.as_str().to_string());
    if let Some(s) = last {
        // The before_switch task, which Facts put first, stays first.
        out.timeline.retain(|e| e.event == "BeforeSwitch");
        out.timeline.extend(timeline(s));
    }
    out
}

/// The stages seen, each from when it was first seen to when the next one was (the last one to the
/// deployment's end, when it ended).
fn timeline(s: &Snapshot) -> Vec<TimelineEntry> {
    let seen = &s.stages_seen;
    seen.iter()
        .enumerate()
        .map(|(i, (stage, start))| {
            let last = i + 1 == seen.len();
            let end = match seen.get(i + 1) {
                Some((_, next)) => Some(*next),
                None if s.is_terminal() => s.finished_at.or(Some(now_epoch())),
                None => None,
            };
            TimelineEntry {
                event: stage.clone(),
                status: if last {
                    s.status.as_str().to_string()
                } else {
                    "PASSED".into()
                },
                start: Some(*start),
                end,
                duration_seconds: end.map(|e| (e - start).max(0.0)),
            }
        })
        .collect()
}

/// The outcome of following service deployment `arn`. `wait`: the `--wait-until` stage or `paused`.
pub fn deployment(f: &Facts, arn: &str, followed: Followed, wait: Option<&str>) -> Outcome {
    let config = f.config.clone();
    match followed {
        Followed::Succeeded(s) => {
            let msg = format!(
                "deployed {} to {}/{}: service deployment SUCCESSFUL, production traffic on the new revision{}, the previous one scaled in",
                images_said(f),
                f.cluster,
                f.service,
                s.target
                    .as_ref()
                    .map(|t| format!(" ({})", t.id()))
                    .unwrap_or_default()
            );
            let out = f.outcome(Res::Succeeded, msg, None, None);
            with_deployment(out, f, arn, Some(&s))
        }
        Followed::Reached(s) => {
            let msg = match wait {
                Some("paused") => format!(
                    "service deployment paused at {} (hook {} awaits action); it goes on when continued",
                    s.stage.as_deref().unwrap_or("a stage"),
                    s.awaiting().map_or("?", |h| h.id.as_str())
                ),
                _ => format!(
                    "service deployment reached {}; it goes on ({})",
                    s.stage.as_deref().unwrap_or("the stage"),
                    s.status.as_str()
                ),
            };
            let mut out = f.outcome(Res::Reached, msg, None, None);
            out.next_steps = next_steps(&config, arn, Some(&s));
            with_deployment(out, f, arn, Some(&s))
        }
        Followed::Failed(s) => {
            let result = match s.status {
                ServiceDeploymentStatus::RollbackSuccessful => Res::RolledBack,
                ServiceDeploymentStatus::Stopped => Res::Stopped,
                _ => Res::Failed,
            };
            let reason = s
                .status_reason
                .clone()
                .or_else(|| s.rollback_reason.clone())
                .unwrap_or_else(|| "ECS gave no reason".into());
            let msg = format!(
                "service deployment ended {}: {}; {}",
                s.status.as_str(),
                reason.trim_end_matches('.'),
                traffic(&s)
            );
            let mut out = f.outcome(result, msg, None, None);
            if result == Res::RolledBack {
                out.rollback = Some(RollbackOutcome {
                    deployment_id: arn.to_string(),
                    status: s.status.as_str().to_string(),
                    traffic_on_blue: true,
                });
            }
            with_deployment(out, f, arn, Some(&s))
        }
        Followed::Unfinished { stop, last } => {
            let now = last
                .as_ref()
                .map_or_else(|| "not yet seen".to_string(), Snapshot::said);
            let what = format!("service deployment {arn} goes on in AWS ({now})");
            let (result, msg, failure) = stop_said(&stop, &what);
            let mut out = f.outcome(result, msg, None, None);
            out.failure = failure;
            out.next_steps = next_steps(&config, arn, last.as_ref());
            with_deployment(out, f, arn, last.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::ending::Changes;
    use crate::watch::Stop;

    fn facts() -> Facts {
        Facts {
            config: "kirikae.yml".into(),
            region: "us-east-1".into(),
            cluster: "demo".into(),
            service: "web".into(),
            application: String::new(),
            deployment_group: String::new(),
            images: Vec::new(),
            started_at: 0.0,
            interrupt_code: 130,
            changes: Changes::default(),
        }
    }

    fn snap(status: ServiceDeploymentStatus) -> Snapshot {
        Snapshot {
            arn: "arn:d".into(),
            status,
            status_reason: Some("Service deployment rolled back because of a failed hook.".into()),
            stage: Some("CLEAN_UP".into()),
            target: None,
            sources: Vec::new(),
            hooks: Vec::new(),
            rollback_reason: None,
            triggered_alarms: Vec::new(),
            created_at: Some(10.0),
            finished_at: Some(70.0),
            stages_seen: vec![("BAKE_TIME".into(), 20.0), ("CLEAN_UP".into(), 60.0)],
            waits: Default::default(),
        }
    }

    #[test]
    fn every_rollback_or_stop_is_exit_1_with_the_reason() {
        for (status, result) in [
            (ServiceDeploymentStatus::RollbackSuccessful, Res::RolledBack),
            (ServiceDeploymentStatus::RollbackFailed, Res::Failed),
            (ServiceDeploymentStatus::Stopped, Res::Stopped),
        ] {
            let out = deployment(&facts(), "arn:d", Followed::Failed(snap(status)), None);
            assert_eq!(out.result, result);
            assert_eq!(out.exit_code, 1);
            assert!(out.message.contains("a failed hook"), "{}", out.message);
            assert_eq!(out.deployment_id.as_deref(), Some("arn:d"));
            let stages: Vec<_> = out.timeline.iter().map(|e| e.event.as_str()).collect();
            assert_eq!(stages, ["BAKE_TIME", "CLEAN_UP"]);
            assert_eq!(out.timeline[0].duration_seconds, Some(40.0));
            assert_eq!(out.timeline[1].end, Some(70.0));
        }
    }

    #[test]
    fn a_native_outcome_says_its_controller_and_has_no_codedeploy_keys() {
        let out = deployment(
            &facts(),
            "arn:d",
            Followed::Failed(snap(ServiceDeploymentStatus::RollbackSuccessful)),
            None,
        );
        let doc = serde_json::to_value(&out).unwrap();
        assert_eq!(doc["controller"], "ECS");
        for key in ["application", "deployment_group", "deployment_group_action"] {
            assert!(doc.get(key).is_none(), "{key} in {doc:#}");
        }
        // The same facts with CodeDeploy's names: the keys are there, as before.
        let codedeploy = Facts {
            application: "AppEcs-demo-web".into(),
            deployment_group: "DgpEcs-demo-web".into(),
            ..facts()
        };
        let doc =
            serde_json::to_value(codedeploy.outcome(Res::Succeeded, String::new(), None, None))
                .unwrap();
        assert_eq!(doc["controller"], "CODE_DEPLOY");
        assert_eq!(doc["application"], "AppEcs-demo-web");
        assert_eq!(doc["deployment_group"], "DgpEcs-demo-web");
        assert_eq!(doc["deployment_group_action"], "unchanged");
    }

    #[test]
    fn unfinished_waits_say_how_to_follow_and_roll_back() {
        let out = deployment(
            &facts(),
            "arn:d",
            Followed::Unfinished {
                stop: Stop::TimedOut,
                last: None,
            },
            None,
        );
        assert_eq!(out.exit_code, 3);
        assert!(
            out.next_steps
                .iter()
                .any(|s| s.contains("--stop-type ROLLBACK"))
        );
        let out = deployment(
            &facts(),
            "arn:d",
            Followed::Unfinished {
                stop: Stop::Interrupted,
                last: None,
            },
            None,
        );
        assert_eq!(out.exit_code, 130);
    }
}
