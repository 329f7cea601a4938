//! How a deploy ended, as an [`Outcome`]: pure functions of what the run did ([`Facts`]) and how the wait
//! ended ([`Followed`], [`ServiceFollowed`]). Every ending says what exists, what AWS is doing now and,
//! when AWS goes on without us, how to follow, continue, stop or roll it back.

use aws_sdk_codedeploy::types::{DeploymentStatus, LifecycleEventStatus};

use crate::error::Error;
use crate::group::Change;
use crate::outcome::{
    self, CodeDeployParts, Controller, Failure, GroupAction, Image, Outcome, Result as Res,
    RollbackOutcome,
};
use crate::progress::{DeploymentSnapshot, console_url, now_epoch, utc_clock};
use crate::watch::Stop;
use crate::watch::deployment::Followed;
use crate::watch::service::ServiceFollowed;

/// What was changed in AWS so far.
#[derive(Debug, Clone)]
pub struct Changes {
    pub application_created: bool,
    pub group_action: GroupAction,
    pub group_changes: Vec<Change>,
    pub task_definition_arn: Option<String>,
    pub registered: bool,
    pub service_created: bool,
    pub service_changes: Vec<Change>,
    /// The `before_switch:` task, once RunTask started it (it ran in AWS, whatever came next).
    pub before_switch: Option<crate::before_switch::TaskReport>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            application_created: false,
            group_action: GroupAction::Unchanged,
            group_changes: Vec::new(),
            task_definition_arn: None,
            registered: false,
            service_created: false,
            service_changes: Vec::new(),
            before_switch: None,
        }
    }
}

impl Changes {
    /// The changes, said for a person (empty when nothing changed).
    pub fn said(
        &self,
        cluster: &str,
        service: &str,
        application: &str,
        group: &str,
    ) -> Vec<String> {
        let mut said = Vec::new();
        if self.application_created {
            said.push(format!("created application {application}"));
        }
        if self.registered
            && let Some(arn) = &self.task_definition_arn
        {
            said.push(format!(
                "registered task definition {}",
                super::short_arn(arn)
            ));
        }
        if let Some(t) = &self.before_switch {
            said.push(format!("ran {}", t.said()));
        }
        if self.service_created {
            said.push(format!("created service {cluster}/{service}"));
        }
        match self.group_action {
            GroupAction::Created => said.push(format!("created deployment group {group}")),
            GroupAction::Updated => said.push(format!("updated deployment group {group}")),
            GroupAction::Unchanged => {}
        }
        for c in &self.service_changes {
            said.push(format!("changed the service's {c}"));
        }
        said
    }
}

/// What an ending needs to know about the run.
#[derive(Debug, Clone)]
pub struct Facts {
    pub config: String,
    pub region: String,
    pub cluster: String,
    pub service: String,
    /// The CodeDeploy application and group; empty on the ECS controller, which has neither (the
    /// outcome then says `controller: ECS` and leaves them out).
    pub application: String,
    pub deployment_group: String,
    pub images: Vec<Image>,
    pub started_at: f64,
    /// The exit status an interrupt asks for (130, 143, 129).
    pub interrupt_code: u8,
    pub changes: Changes,
}

impl Facts {
    fn images_said(&self) -> String {
        self.images
            .iter()
            .map(|i| format!("{}={}", i.container, i.image))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn name(&self) -> String {
        format!("{}/{}", self.cluster, self.service)
    }

    /// The outcome with everything but the ending-specific parts.
    pub fn outcome(
        &self,
        result: Res,
        message: String,
        deployment_id: Option<&str>,
        last: Option<&DeploymentSnapshot>,
    ) -> Outcome {
        let finished_at = now_epoch();
        let c = &self.changes;
        Outcome {
            config: self.config.clone(),
            region: self.region.clone(),
            cluster: self.cluster.clone(),
            service: self.service.clone(),
            result,
            exit_code: result.exit_code_with(self.interrupt_code),
            next_steps: self.next_steps(result, deployment_id, last),
            message,
            failure: None,
            controller: if self.application.is_empty() {
                Controller::Ecs
            } else {
                Controller::CodeDeploy
            },
            codedeploy: (!self.application.is_empty()).then(|| CodeDeployParts {
                application: self.application.clone(),
                application_created: c.application_created,
                deployment_group: self.deployment_group.clone(),
                deployment_group_action: c.group_action.clone(),
                deployment_group_changes: if matches!(c.group_action, GroupAction::Updated) {
                    c.group_changes.clone()
                } else {
                    Vec::new()
                },
            }),
            task_definition_arn: c.task_definition_arn.clone(),
            task_definition_registered: c.registered,
            images: self.images.clone(),
            service_created: c.service_created,
            service_changes: c.service_changes.clone(),
            console_url: deployment_id.map(|id| console_url(&self.region, id)),
            deployment_id: deployment_id.map(str::to_string),
            status: last.map(|s| s.status.as_str().to_string()),
            error: last.and_then(|s| s.error.clone()),
            rollback: None,
            diagnosis: None,
            gate: None,
            before_switch: c.before_switch.clone(),
            timeline: c
                .before_switch
                .iter()
                .map(before_switch_entry)
                .chain(last.map(outcome::timeline).unwrap_or_default())
                .collect(),
            started_at: self.started_at,
            finished_at,
            duration_seconds: finished_at - self.started_at,
        }
    }

    /// What someone can do next when AWS goes on without us (or after an error).
    fn next_steps(
        &self,
        result: Res,
        deployment_id: Option<&str>,
        last: Option<&DeploymentSnapshot>,
    ) -> Vec<String> {
        if result == Res::Error {
            let mut steps = vec![
                "fix the cause and run kirikae deploy again: what exists is reused, nothing is created twice"
                    .to_string(),
            ];
            if let Some(id) = deployment_id {
                steps.push(format!("follow it: {}", console_url(&self.region, id)));
            }
            return steps;
        }
        if !matches!(
            result,
            Res::TimedOut | Res::LostContact | Res::Interrupted | Res::Reached | Res::Started
        ) {
            return Vec::new();
        }
        if deployment_id.is_none()
            && let Some(t) = self
                .changes
                .before_switch
                .as_ref()
                .filter(|t| t.still_running)
        {
            return t.next_steps();
        }
        let Some(id) = deployment_id else {
            return vec![format!(
                "follow it: aws ecs describe-services --cluster {} --services {}",
                self.cluster, self.service
            )];
        };
        let mut steps = vec![
            format!("follow it: {}", console_url(&self.region, id)),
            format!("or: aws deploy get-deployment --deployment-id {id}"),
        ];
        let ended = last.is_some_and(DeploymentSnapshot::is_terminal);
        if !ended {
            if last.is_some_and(|s| s.status == DeploymentStatus::Ready) {
                steps.push(format!(
                    "shift production traffic: aws deploy continue-deployment --deployment-id {id} --deployment-wait-type READY_WAIT"
                ));
            }
            steps.push(format!("stop it and roll back: aws deploy stop-deployment --deployment-id {id} --auto-rollback-enabled"));
        }
        steps
    }

    /// A call failed before the deployment (or the new service's wait) existed: exit 1 (2 for bad
    /// input), with what was changed so far.
    pub fn failed(&self, error: &Error, deployment_id: Option<&str>) -> Outcome {
        let changed = self.changes.said(
            &self.cluster,
            &self.service,
            &self.application,
            &self.deployment_group,
        );
        let first_line = error.to_string();
        let first_line = first_line.lines().next().unwrap_or_default();
        let message = if changed.is_empty() {
            format!("{first_line}; nothing was changed")
        } else {
            format!("{first_line}; changed so far: {}", changed.join(", "))
        };
        let mut out = self.outcome(Res::Error, message, deployment_id, None);
        if error.is_config() {
            out.exit_code = 2;
        }
        out.failure = Some(failure_of(error));
        out
    }

    /// Something made the run end before any deployment was created (nothing to deploy, interrupted).
    pub fn before_deployment(&self, result: Res, message: String) -> Outcome {
        self.outcome(result, message, None, None)
    }

    /// `--no-wait`: created; nobody waits.
    pub fn started(&self, deployment_id: Option<&str>) -> Outcome {
        let message = match deployment_id {
            Some(id) => format!("deployment {id} started; not waiting"),
            None => format!("creating service {}; not waiting", self.name()),
        };
        self.outcome(Res::Started, message, deployment_id, None)
    }
}

/// The `before_switch:` task as the timeline's first entry, before the deployment's lifecycle events.
fn before_switch_entry(t: &crate::before_switch::TaskReport) -> outcome::TimelineEntry {
    outcome::TimelineEntry {
        event: "BeforeSwitch".into(),
        status: if t.still_running {
            "InProgress"
        } else if t.passed {
            "Succeeded"
        } else {
            "Failed"
        }
        .into(),
        start: Some(t.started_at),
        end: t.finished_at,
        duration_seconds: Some(t.duration_seconds),
    }
}

fn failure_of(error: &Error) -> Failure {
    match error {
        Error::Config(c) => Failure {
            kind: "config",
            operation: None,
            code: None,
            message: c.to_string().lines().next().unwrap_or_default().to_string(),
            hint: c.hint.clone(),
        },
        Error::Aws {
            operation,
            code,
            message,
            hint,
        } => Failure {
            kind: "aws",
            operation: Some(operation.to_string()),
            code: code.clone(),
            message: message.clone(),
            hint: hint.clone(),
        },
        Error::Conflict { message, hint } => Failure {
            kind: "conflict",
            operation: None,
            code: None,
            message: message.clone(),
            hint: hint.clone(),
        },
    }
}

/// Why watching stopped, for the message, and the matching result.
pub(crate) fn stop_said(stop: &Stop, what: &str) -> (Res, String, Option<Failure>) {
    match stop {
        Stop::TimedOut => (Res::TimedOut, format!("timed out; {what}"), None),
        Stop::Interrupted => (Res::Interrupted, format!("interrupted; {what}"), None),
        Stop::LostContact(l) => {
            let f = &l.failure;
            let said = if l.refused() {
                format!(
                    "stopped watching: AWS refused {} ({}) at {}; {what}",
                    f.operation,
                    f.message,
                    utc_clock(l.since)
                )
            } else {
                format!(
                    "stopped watching: lost contact with AWS at {} and it did not come back in time ({}: {}); {what}",
                    utc_clock(l.since),
                    f.operation,
                    f.message
                )
            };
            let failure = Failure {
                kind: "lost_contact",
                operation: Some(f.operation.to_string()),
                code: f.code.clone(),
                message: f.message.clone(),
                hint: f.hint.clone().or_else(|| {
                    Some("check the network, the endpoint and your credentials, then follow the deployment".into())
                }),
            };
            (Res::LostContact, said, Some(failure))
        }
    }
}

/// What a deployment's error says, as `CODE: message`.
fn reason(snap: &DeploymentSnapshot) -> String {
    match &snap.error {
        Some(e) => format!(
            "{}{}",
            e.code
                .as_ref()
                .map(|c| format!("{}: ", c.as_str()))
                .unwrap_or_default(),
            e.message
                .as_deref()
                .unwrap_or("no reason given")
                .trim_end_matches('.')
        ),
        None => "no reason given".into(),
    }
}

fn verb(snap: &DeploymentSnapshot) -> &'static str {
    if snap.status == DeploymentStatus::Failed {
        "failed"
    } else {
        "was stopped"
    }
}

/// Where production traffic is, from a deployment's last snapshot.
fn traffic(snap: &DeploymentSnapshot) -> String {
    match snap.green_weight() {
        Some(w) if w > 0.0 => format!("production traffic is on green ({w:.0}%)"),
        _ => "production traffic is still on blue".to_string(),
    }
}

/// The state of a deployment as last seen, for messages: `InProgress (AllowTraffic)`.
fn state_said(snap: Option<&DeploymentSnapshot>) -> String {
    let Some(s) = snap else {
        return "not yet seen".into();
    };
    let current = s
        .lifecycle_events
        .iter()
        .find(|e| e.status == LifecycleEventStatus::InProgress)
        .map(|e| format!(" ({})", e.name))
        .unwrap_or_default();
    let waiting = if super::super::watch::pace::is_termination_wait(s) {
        " (production on green; blue waits to be terminated)"
    } else {
        ""
    };
    format!("{}{current}{waiting}", s.status.as_str())
}

/// The outcome of following a deployment. `wait_event`: the `--wait-until` event, if any.
pub fn deployment(f: &Facts, followed: Followed, wait_event: Option<&str>) -> Outcome {
    match followed {
        Followed::Succeeded(snap) => {
            let green = snap
                .task_sets
                .iter()
                .find(|t| t.status == "PRIMARY")
                .and_then(|t| t.target_group.clone());
            let msg = format!(
                "deployed {} to {}: production traffic on green{}, blue terminated",
                f.images_said(),
                f.name(),
                green.map(|g| format!(" ({g})")).unwrap_or_default()
            );
            f.outcome(Res::Succeeded, msg, Some(&snap.deployment_id), Some(&snap))
        }
        Followed::Reached(snap) => {
            let msg = format!(
                "{} succeeded; deployment {} goes on ({})",
                wait_event.unwrap_or("the event"),
                snap.deployment_id,
                snap.status
            );
            f.outcome(Res::Reached, msg, Some(&snap.deployment_id), Some(&snap))
        }
        Followed::NotRolledBack(snap) => {
            let msg = format!(
                "deployment {} {}: {}; not rolled back: {}",
                snap.deployment_id,
                verb(&snap),
                reason(&snap),
                traffic(&snap)
            );
            let result = if snap.status == DeploymentStatus::Failed {
                Res::Failed
            } else {
                Res::Stopped
            };
            f.outcome(result, msg, Some(&snap.deployment_id), Some(&snap))
        }
        Followed::RolledBack {
            ended,
            rollback_id,
            rollback,
        } => {
            let on_blue = rollback.status == DeploymentStatus::Succeeded;
            let where_traffic = if on_blue {
                "production traffic is back on blue".to_string()
            } else {
                format!(
                    "the rollback ended {}: check where production traffic is",
                    rollback.status.as_str()
                )
            };
            let msg = format!(
                "deployment {} {}: {}; rolled back by {rollback_id}: {where_traffic}",
                ended.deployment_id,
                verb(&ended),
                reason(&ended)
            );
            let mut out = f.outcome(
                Res::RolledBack,
                msg,
                Some(&ended.deployment_id),
                Some(&ended),
            );
            out.rollback = Some(RollbackOutcome {
                deployment_id: rollback_id,
                status: rollback.status.as_str().to_string(),
                traffic_on_blue: on_blue,
            });
            out
        }
        Followed::Unfinished {
            stop,
            id,
            last,
            rollback,
        } => unfinished(f, stop, &id, last.as_ref(), rollback),
    }
}

fn unfinished(
    f: &Facts,
    stop: Stop,
    id: &str,
    last: Option<&DeploymentSnapshot>,
    rollback: Option<(String, Option<DeploymentSnapshot>)>,
) -> Outcome {
    match (last, rollback) {
        // It ended (failed or stopped) and CodeDeploy is rolling it back: follow the rollback.
        (Some(ended), Some((rb_id, rb_last))) => {
            let what = format!(
                "deployment {id} {} ({}) and CodeDeploy's rollback {rb_id} is {} in AWS",
                verb(ended),
                reason(ended),
                state_said(rb_last.as_ref())
            );
            let (result, message, failure) = stop_said(&stop, &what);
            let mut out = f.outcome(result, message, Some(id), Some(ended));
            out.next_steps.insert(
                0,
                format!("follow the rollback: {}", console_url(&f.region, &rb_id)),
            );
            out.failure = failure;
            out.rollback = Some(RollbackOutcome {
                deployment_id: rb_id,
                status: rb_last
                    .map_or(DeploymentStatus::InProgress, |s| s.status)
                    .as_str()
                    .to_string(),
                traffic_on_blue: false,
            });
            out
        }
        // It ended and no rollback was seen yet: AWS's verdict stands (exit 1).
        (Some(ended), None) if ended.is_terminal() => {
            let msg = format!(
                "deployment {id} {}: {}; {}; stopped watching before seeing whether CodeDeploy rolls it back",
                verb(ended),
                reason(ended),
                traffic(ended)
            );
            let result = if ended.status == DeploymentStatus::Failed {
                Res::Failed
            } else {
                Res::Stopped
            };
            let mut out = f.outcome(result, msg, Some(id), Some(ended));
            out.next_steps = vec![format!("follow it: {}", console_url(&f.region, id))];
            out
        }
        (last, _) => {
            let what = format!("deployment {id} is still {} in AWS", state_said(last));
            let (result, message, failure) = stop_said(&stop, &what);
            let mut out = f.outcome(result, message, Some(id), last);
            out.failure = failure;
            out
        }
    }
}

/// The outcome of following a new service (`tg`: the target group it starts behind).
pub fn service(f: &Facts, tg: &str, followed: ServiceFollowed) -> Outcome {
    let name = f.name();
    match followed {
        ServiceFollowed::Stable(s) => f.before_deployment(
            Res::Succeeded,
            format!(
                "created service {name}: {} task(s) running behind target group {tg}",
                s.running_count
            ),
        ),
        ServiceFollowed::Failing(_, why) => f.before_deployment(
            Res::Failed,
            format!("created service {name}, but it is not starting: {why}"),
        ),
        ServiceFollowed::Unfinished(stop, s) => {
            let what = format!(
                "service {name} is starting ({}); ECS goes on starting it",
                s.map(|s| format!("{}/{} running", s.running_count, s.desired_count))
                    .unwrap_or_else(|| "not yet seen".into()),
            );
            let (result, message, failure) = stop_said(&stop, &what);
            let mut out = f.before_deployment(result, message);
            out.failure = failure;
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{CallFailure, Healing};
    use crate::progress::{LifecycleEvent, RollbackInfo, TaskSet};
    use crate::watch::LostContact;

    fn facts() -> Facts {
        Facts {
            config: "kirikae.yml".into(),
            region: "us-east-1".into(),
            cluster: "demo".into(),
            service: "web".into(),
            application: "AppEcs-demo-web".into(),
            deployment_group: "DgpEcs-demo-web".into(),
            images: vec![Image {
                container: "web".into(),
                image: "kirikae/demo:v2".into(),
            }],
            started_at: 0.0,
            interrupt_code: 143,
            changes: Changes {
                task_definition_arn: Some("arn:aws:ecs:us-east-1:1:task-definition/web:7".into()),
                registered: true,
                ..Changes::default()
            },
        }
    }

    fn snap(status: &str) -> DeploymentSnapshot {
        DeploymentSnapshot {
            deployment_id: "d-1".into(),
            status: status.into(),
            target_status: Some("Succeeded".into()),
            lifecycle_events: vec![LifecycleEvent {
                name: "AllowTraffic".into(),
                status: "Succeeded".into(),
                start: Some(1.0),
                end: Some(2.0),
                diagnostic: None,
            }],
            task_sets: vec![TaskSet {
                id: "ts-2".into(),
                label: Some("Green".into()),
                status: "PRIMARY".into(),
                traffic_weight: 100.0,
                desired_count: 2,
                running_count: 2,
                pending_count: 0,
                target_group: Some("web-green".into()),
            }],
            error: None,
            rollback: None,
            termination_wait_started: true,
            is_rollback: false,
            complete_time: None,
        }
    }

    fn lost(healing: Healing) -> Stop {
        Stop::LostContact(LostContact {
            since: 3600.0 * 12.0 + 61.0,
            failure: CallFailure {
                operation: "codedeploy:GetDeployment",
                healing,
                code: (healing == Healing::Permanent).then(|| "ExpiredTokenException".into()),
                message: "the security token included in the request is expired".into(),
                hint: None,
            },
        })
    }

    #[test]
    fn lost_contact_says_the_id_the_last_state_and_how_to_follow_stop_or_roll_back() {
        let out = deployment(
            &facts(),
            Followed::Unfinished {
                stop: lost(Healing::Transient),
                id: "d-1".into(),
                last: Some(snap("InProgress")),
                rollback: None,
            },
            None,
        );
        assert_eq!(out.result, Res::LostContact);
        assert_eq!(out.exit_code, 3);
        assert_eq!(out.deployment_id.as_deref(), Some("d-1"));
        assert!(
            out.message
                .contains("lost contact with AWS at 12:01:01 UTC"),
            "{}",
            out.message
        );
        assert!(
            out.message.contains("d-1 is still InProgress"),
            "{}",
            out.message
        );
        assert!(
            out.message.contains("blue waits to be terminated"),
            "{}",
            out.message
        );
        let steps = out.next_steps.join("\n");
        assert!(
            steps.contains("get-deployment --deployment-id d-1"),
            "{steps}"
        );
        assert!(
            steps.contains("stop-deployment --deployment-id d-1 --auto-rollback-enabled"),
            "{steps}"
        );
        assert_eq!(out.failure.unwrap().kind, "lost_contact");
    }

    #[test]
    fn expired_credentials_are_lost_contact_exit_3_not_a_failure() {
        let out = deployment(
            &facts(),
            Followed::Unfinished {
                stop: lost(Healing::Permanent),
                id: "d-1".into(),
                last: Some(snap("InProgress")),
                rollback: None,
            },
            None,
        );
        assert_eq!(out.exit_code, 3);
        assert!(
            out.message.contains("AWS refused codedeploy:GetDeployment"),
            "{}",
            out.message
        );
        assert_eq!(
            out.failure.unwrap().code.as_deref(),
            Some("ExpiredTokenException")
        );
    }

    #[test]
    fn an_interrupt_exits_with_the_signals_status_and_keeps_the_id() {
        let out = deployment(
            &facts(),
            Followed::Unfinished {
                stop: Stop::Interrupted,
                id: "d-1".into(),
                last: None,
                rollback: None,
            },
            None,
        );
        assert_eq!(out.result, Res::Interrupted);
        assert_eq!(out.exit_code, 143);
        assert_eq!(out.deployment_id.as_deref(), Some("d-1"));
        assert!(out.message.contains("d-1 is still not yet seen") || out.message.contains("d-1"));
    }

    #[test]
    fn a_rollback_still_running_when_watching_stops_is_named() {
        let mut failed = snap("Failed");
        failed.rollback = Some(RollbackInfo {
            rollback_deployment_id: Some("d-2".into()),
            rollback_triggering_deployment_id: None,
            message: None,
        });
        let out = deployment(
            &facts(),
            Followed::Unfinished {
                stop: Stop::TimedOut,
                id: "d-1".into(),
                last: Some(failed),
                rollback: Some(("d-2".into(), None)),
            },
            None,
        );
        assert_eq!(out.exit_code, 3);
        assert!(out.message.contains("rollback d-2"), "{}", out.message);
        assert!(out.next_steps[0].contains("d-2"), "{:?}", out.next_steps);
        assert_eq!(out.rollback.unwrap().deployment_id, "d-2");
    }

    #[test]
    fn an_error_after_changes_lists_them_and_exits_1() {
        let e = Error::Aws {
            operation: "codedeploy:UpdateDeploymentGroup",
            code: Some("InvalidRoleException".into()),
            message: "InvalidRoleException: the role cannot be assumed".into(),
            hint: None,
        };
        let out = facts().failed(&e, None);
        assert_eq!(out.result, Res::Error);
        assert_eq!(out.exit_code, 1);
        assert!(
            out.message
                .contains("changed so far: registered task definition web:7"),
            "{}",
            out.message
        );
        assert_eq!(
            out.failure.as_ref().unwrap().operation.as_deref(),
            Some("codedeploy:UpdateDeploymentGroup")
        );
        assert!(out.next_steps[0].contains("run kirikae deploy again"));
    }

    #[test]
    fn success_and_rollback_say_where_traffic_is() {
        let out = deployment(&facts(), Followed::Succeeded(snap("Succeeded")), None);
        assert_eq!(out.exit_code, 0);
        assert!(
            out.message
                .contains("production traffic on green (web-green)"),
            "{}",
            out.message
        );
        assert!(out.next_steps.is_empty());
        let out = deployment(
            &facts(),
            Followed::RolledBack {
                ended: snap("Failed"),
                rollback_id: "d-2".into(),
                rollback: snap("Succeeded"),
            },
            None,
        );
        assert_eq!(out.result, Res::RolledBack);
        assert_eq!(out.exit_code, 1);
        assert!(out.message.contains("back on blue"), "{}", out.message);
    }
}
