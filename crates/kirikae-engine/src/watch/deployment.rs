//! Following a CodeDeploy deployment to its end: [`Follow`] is the state machine (pure: each answer
//! from AWS moves it, unit-tested below), [`follow`] drives it with the [`Poller`].
//!
//! States: the deployment runs → (it failed or was stopped) CodeDeploy may record a rollback deployment
//! just after, so a few more polls → the rollback runs → ended. Every state can also end because the
//! wait stopped ([`Stop`]): then the ending says what was last seen of each deployment.

use aws_sdk_codedeploy::types::{
    DeploymentCreator, DeploymentInfo, DeploymentStatus, EcsTarget, LifecycleEventStatus,
};
use tokio::time::Instant;

use crate::aws::CallFailure;
use crate::connection::Clients;
use crate::progress::{
    DeploymentSnapshot, ErrorInfo, Event, LifecycleEvent, RollbackInfo, TaskSet, now_epoch,
};
use crate::watch::pace::{self, Waits};
use crate::watch::{Poller, Stop};

/// After a failed or stopped deployment, CodeDeploy records its rollback deployment a little later:
/// kirikae looks for it in at least this many polls, and until this long after the deployment ended
/// (AWS's clock), before saying it was not rolled back.
pub const ROLLBACK_POLLS: u32 = 3;
pub const ROLLBACK_GRACE_SECONDS: f64 = 20.0;

/// What to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// A terminal status (and the rollback, if any).
    End,
    /// This lifecycle event has succeeded (or the deployment ended).
    Event(String),
    /// The deployment waits in Ready for someone to continue it (or it ended): where a gate runs.
    Ready,
}

/// How following a deployment ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    Succeeded(DeploymentSnapshot),
    /// `Until::Event` succeeded; the deployment goes on.
    Reached(DeploymentSnapshot),
    /// Failed or stopped, and no rollback deployment was recorded.
    NotRolledBack(DeploymentSnapshot),
    /// Failed or stopped, and CodeDeploy's rollback deployment ended (with `rollback.status`).
    RolledBack {
        ended: DeploymentSnapshot,
        rollback_id: String,
        rollback: DeploymentSnapshot,
    },
    /// Watching stopped before AWS finished: what was last seen of the deployment (which may have
    /// ended) and of its rollback, if one started.
    Unfinished {
        stop: Stop,
        id: String,
        last: Option<DeploymentSnapshot>,
        rollback: Option<(String, Option<DeploymentSnapshot>)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Follow {
    Running {
        id: String,
        last: Option<DeploymentSnapshot>,
    },
    AwaitingRollback {
        id: String,
        ended: DeploymentSnapshot,
        polls_left: u32,
    },
    RollingBack {
        id: String,
        ended: DeploymentSnapshot,
        rollback_id: String,
        last: Option<DeploymentSnapshot>,
    },
    Ended(Followed),
}

impl Follow {
    pub fn new(id: &str) -> Follow {
        Follow::Running {
            id: id.to_string(),
            last: None,
        }
    }

    /// The deployment to poll now, and what was last seen of it; `None` once ended.
    pub fn polling(&self) -> Option<(&str, Option<&DeploymentSnapshot>)> {
        match self {
            Follow::Running { id, last } => Some((id, last.as_ref())),
            Follow::AwaitingRollback { id, ended, .. } => Some((id, Some(ended))),
            Follow::RollingBack {
                rollback_id, last, ..
            } => Some((rollback_id, last.as_ref())),
            Follow::Ended(_) => None,
        }
    }

    /// The next state after seeing `snap` of the deployment [`Self::polling`] names, at `now` (epoch
    /// seconds). `rollback_expected`: the group rolls back automatically on some event.
    pub fn seen(
        self,
        snap: DeploymentSnapshot,
        until: &Until,
        rollback_expected: bool,
        now: f64,
    ) -> Follow {
        match self {
            Follow::Running { id, .. } => {
                if snap.status == DeploymentStatus::Succeeded {
                    Follow::Ended(Followed::Succeeded(snap))
                } else if snap.is_terminal() {
                    match rollback_id(&snap) {
                        Some(rollback_id) => Follow::RollingBack {
                            id,
                            ended: snap,
                            rollback_id,
                            last: None,
                        },
                        None if rollback_expected => Follow::AwaitingRollback {
                            id,
                            ended: snap,
                            polls_left: ROLLBACK_POLLS,
                        },
                        None => Follow::Ended(Followed::NotRolledBack(snap)),
                    }
                } else if let Until::Event(name) = until
                    && snap
                        .event(name)
                        .is_some_and(|e| e.status == LifecycleEventStatus::Succeeded)
                {
                    Follow::Ended(Followed::Reached(snap))
                } else if *until == Until::Ready && snap.status == DeploymentStatus::Ready {
                    Follow::Ended(Followed::Reached(snap))
                } else {
                    Follow::Running {
                        id,
                        last: Some(snap),
                    }
                }
            }
            Follow::AwaitingRollback { id, polls_left, .. } => match rollback_id(&snap) {
                Some(rollback_id) => Follow::RollingBack {
                    id,
                    ended: snap,
                    rollback_id,
                    last: None,
                },
                None if polls_left <= 1
                    && snap
                        .complete_time
                        .is_none_or(|t| now - t >= ROLLBACK_GRACE_SECONDS) =>
                {
                    Follow::Ended(Followed::NotRolledBack(snap))
                }
                None => Follow::AwaitingRollback {
                    id,
                    ended: snap,
                    polls_left: polls_left.saturating_sub(1),
                },
            },
            Follow::RollingBack {
                id,
                ended,
                rollback_id,
                ..
            } => {
                if snap.is_terminal() {
                    Follow::Ended(Followed::RolledBack {
                        ended,
                        rollback_id,
                        rollback: snap,
                    })
                } else {
                    Follow::RollingBack {
                        id,
                        ended,
                        rollback_id,
                        last: Some(snap),
                    }
                }
            }
            ended @ Follow::Ended(_) => ended,
        }
    }

    /// The ending when the wait stops before AWS finished.
    pub fn stopped(self, stop: Stop) -> Follow {
        Follow::Ended(match self {
            Follow::Running { id, last } => Followed::Unfinished {
                stop,
                id,
                last,
                rollback: None,
            },
            Follow::AwaitingRollback { id, ended, .. } => Followed::Unfinished {
                stop,
                id,
                last: Some(ended),
                rollback: None,
            },
            Follow::RollingBack {
                id,
                ended,
                rollback_id,
                last,
            } => Followed::Unfinished {
                stop,
                id,
                last: Some(ended),
                rollback: Some((rollback_id, last)),
            },
            Follow::Ended(f) => f,
        })
    }
}

fn rollback_id(s: &DeploymentSnapshot) -> Option<String> {
    s.rollback
        .as_ref()
        .and_then(|r| r.rollback_deployment_id.clone())
}

/// What a follow needs besides the poller.
pub struct Target<'a> {
    pub aws: &'a Clients,
    /// The deployment target's id (`cluster:service`).
    pub target_id: &'a str,
    pub until: Until,
    pub rollback_expected: bool,
    pub waits: Waits,
}

/// Follows deployment `id` (and CodeDeploy's rollback of it) until [`Follow`] ends.
pub async fn follow(poller: &mut Poller<'_>, t: &Target<'_>, id: &str) -> Followed {
    let mut state = Follow::new(id);
    let mut quiet_since = Instant::now();
    while let Some((polled_id, last)) = state.polling() {
        let polled_id = polled_id.to_string();
        let last = last.cloned();
        let until_expected = last
            .as_ref()
            .and_then(|s| pace::expected_change(s, &t.waits))
            .map(|at| at - now_epoch());
        let interval = pace::interval(poller.base, quiet_since.elapsed(), until_expected);
        let with_target = pace::needs_target(last.as_ref(), &t.waits);
        let polled = poller
            .next(interval, || fetch(t, &polled_id, with_target))
            .await;
        state = match polled {
            Ok((info, target)) => {
                let snap = snapshot(&polled_id, &info, target.as_ref(), last.as_ref());
                if last.as_ref() != Some(&snap) {
                    quiet_since = Instant::now();
                    poller.say(&Event::DeploymentProgress(snap.clone()));
                }
                let next = state.seen(snap, &t.until, t.rollback_expected, now_epoch());
                if let Follow::RollingBack {
                    id,
                    rollback_id,
                    last: None,
                    ..
                } = &next
                {
                    quiet_since = Instant::now();
                    poller.say(&Event::RollbackStarted {
                        deployment_id: id.clone(),
                        rollback_deployment_id: rollback_id.clone(),
                    });
                }
                next
            }
            Err(stop) => state.stopped(stop),
        };
    }
    match state {
        Follow::Ended(f) => f,
        _ => unreachable!("polling() is None only once ended"),
    }
}

/// The deployment (through the run's [`super::batch::Batcher`]: BatchGetDeployments), and
/// GetDeploymentTarget when `with_target` (its failure is not one: the target does not exist until the
/// deployment starts, and the last one seen is kept).
async fn fetch(
    t: &Target<'_>,
    id: &str,
    with_target: bool,
) -> Result<(DeploymentInfo, Option<EcsTarget>), CallFailure> {
    let deployment = t.aws.batch.deployment(id);
    let target = async {
        if !with_target {
            return None;
        }
        t.aws
            .codedeploy
            .get_deployment_target()
            .deployment_id(id)
            .target_id(t.target_id)
            .customize()
            .config_override(super::batch::codedeploy_poll_config())
            .send()
            .await
            .ok()
            .and_then(|o| o.deployment_target().and_then(|t| t.ecs_target()).cloned())
    };
    let (deployment, target) = tokio::join!(deployment, target);
    match deployment? {
        Some(info) => Ok((info, target)),
        None => Err(CallFailure {
            operation: "codedeploy:BatchGetDeployments",
            healing: crate::aws::Healing::Permanent,
            code: Some("DeploymentDoesNotExistException".into()),
            message: format!("AWS no longer lists deployment {id}"),
            hint: None,
        }),
    }
}

fn secs(t: Option<&aws_sdk_codedeploy::primitives::DateTime>) -> Option<f64> {
    t.map(|d| d.as_secs_f64())
}

/// A snapshot from GetDeployment and (if available) GetDeploymentTarget; without a target, the previous
/// snapshot's target view is kept.
pub fn snapshot(
    id: &str,
    info: &DeploymentInfo,
    target: Option<&EcsTarget>,
    prev: Option<&DeploymentSnapshot>,
) -> DeploymentSnapshot {
    let (target_status, lifecycle_events, task_sets) = match target {
        Some(t) => (
            t.status().cloned(),
            t.lifecycle_events()
                .iter()
                .map(|e| LifecycleEvent {
                    name: e.lifecycle_event_name().unwrap_or_default().to_string(),
                    status: e.status().cloned().unwrap_or(LifecycleEventStatus::Pending),
                    start: secs(e.start_time()),
                    end: secs(e.end_time()),
                    diagnostic: e.diagnostics().map(|d| {
                        let mut said = [
                            d.error_code().map(|c| c.as_str().to_string()),
                            d.message().map(str::to_string),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ");
                        if let Some(tail) = d.log_tail().filter(|t| !t.trim().is_empty()) {
                            said.push_str(&format!(" (log: {})", tail.trim()));
                        }
                        said
                    }),
                })
                .collect(),
            t.task_sets_info()
                .iter()
                .map(|s| TaskSet {
                    id: s.identifer().unwrap_or_default().to_string(),
                    label: s.task_set_label().cloned(),
                    status: s.status().unwrap_or_default().to_string(),
                    traffic_weight: s.traffic_weight(),
                    desired_count: s.desired_count(),
                    running_count: s.running_count(),
                    pending_count: s.pending_count(),
                    target_group: s.target_group().and_then(|g| g.name()).map(str::to_string),
                })
                .collect(),
        ),
        None => match prev {
            Some(p) => (
                p.target_status.clone(),
                p.lifecycle_events.clone(),
                p.task_sets.clone(),
            ),
            None => (None, Vec::new(), Vec::new()),
        },
    };
    DeploymentSnapshot {
        deployment_id: id.to_string(),
        status: info.status().cloned().unwrap_or(DeploymentStatus::Created),
        target_status,
        lifecycle_events,
        task_sets,
        error: info.error_information().map(|e| ErrorInfo {
            code: e.code().cloned(),
            message: e.message().map(str::to_string),
        }),
        rollback: info.rollback_info().map(|r| RollbackInfo {
            rollback_deployment_id: r.rollback_deployment_id().map(str::to_string),
            rollback_triggering_deployment_id: r
                .rollback_triggering_deployment_id()
                .map(str::to_string),
            message: r.rollback_message().map(str::to_string),
        }),
        termination_wait_started: info.instance_termination_wait_time_started(),
        is_rollback: info.creator() == Some(&DeploymentCreator::CodeDeployRollback),
        complete_time: secs(info.complete_time()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, status: &str, rollback: Option<&str>) -> DeploymentSnapshot {
        DeploymentSnapshot {
            deployment_id: id.into(),
            status: status.into(),
            target_status: None,
            lifecycle_events: vec![LifecycleEvent {
                name: "AfterAllowTestTraffic".into(),
                status: if status == "Ready" {
                    "Succeeded".into()
                } else {
                    "Pending".into()
                },
                start: None,
                end: None,
                diagnostic: None,
            }],
            task_sets: Vec::new(),
            error: None,
            rollback: rollback.map(|r| RollbackInfo {
                rollback_deployment_id: Some(r.into()),
                rollback_triggering_deployment_id: None,
                message: None,
            }),
            termination_wait_started: false,
            is_rollback: false,
            complete_time: None,
        }
    }

    fn run(events: Vec<DeploymentSnapshot>, until: Until, rollback_expected: bool) -> Follow {
        let mut f = Follow::new("d-1");
        for s in events {
            f = f.seen(s, &until, rollback_expected, 0.0);
        }
        f
    }

    #[test]
    fn success_ends_the_follow() {
        let f = run(
            vec![
                snap("d-1", "InProgress", None),
                snap("d-1", "Succeeded", None),
            ],
            Until::End,
            true,
        );
        assert!(
            matches!(f, Follow::Ended(Followed::Succeeded(s)) if s.status.as_str() == "Succeeded")
        );
    }

    #[test]
    fn a_lifecycle_event_reached_ends_a_wait_until() {
        let until = Until::Event("AfterAllowTestTraffic".into());
        let f = run(vec![snap("d-1", "Ready", None)], until, true);
        assert!(matches!(f, Follow::Ended(Followed::Reached(_))));
    }

    #[test]
    fn ready_ends_a_wait_for_ready_and_nothing_else_does() {
        let f = run(vec![snap("d-1", "InProgress", None)], Until::Ready, true);
        assert!(matches!(f, Follow::Running { .. }));
        let f = run(
            vec![snap("d-1", "InProgress", None), snap("d-1", "Ready", None)],
            Until::Ready,
            true,
        );
        assert!(
            matches!(f, Follow::Ended(Followed::Reached(s)) if s.status == DeploymentStatus::Ready)
        );
    }

    #[test]
    fn a_failure_is_followed_by_its_rollback_to_the_rollbacks_end() {
        let f = run(vec![snap("d-1", "Failed", None)], Until::End, true);
        assert_eq!(
            f.polling().map(|(id, _)| id),
            Some("d-1"),
            "still polling the original"
        );
        let f = f.seen(snap("d-1", "Failed", Some("d-2")), &Until::End, true, 0.0);
        assert_eq!(
            f.polling().map(|(id, _)| id),
            Some("d-2"),
            "now the rollback"
        );
        let f = f.seen(snap("d-2", "InProgress", None), &Until::End, true, 0.0);
        let f = f.seen(snap("d-2", "Succeeded", None), &Until::End, true, 0.0);
        match f {
            Follow::Ended(Followed::RolledBack {
                ended,
                rollback_id,
                rollback,
            }) => {
                assert_eq!(ended.status.as_str(), "Failed");
                assert_eq!(rollback_id, "d-2");
                assert_eq!(rollback.status.as_str(), "Succeeded");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_rollback_after_a_few_polls_means_not_rolled_back() {
        let mut f = run(vec![snap("d-1", "Stopped", None)], Until::End, true);
        for _ in 0..ROLLBACK_POLLS {
            assert!(f.polling().is_some());
            f = f.seen(snap("d-1", "Stopped", None), &Until::End, true, 0.0);
        }
        assert!(matches!(f, Follow::Ended(Followed::NotRolledBack(_))));
        // A group without auto-rollback does not wait for one.
        let f = run(vec![snap("d-1", "Failed", None)], Until::End, false);
        assert!(matches!(f, Follow::Ended(Followed::NotRolledBack(_))));
    }

    #[test]
    fn a_rollback_recorded_late_is_still_found() {
        let ended = |t: f64| DeploymentSnapshot {
            complete_time: Some(t),
            ..snap("d-1", "Failed", None)
        };
        let mut f = Follow::new("d-1").seen(ended(100.0), &Until::End, true, 101.0);
        // Polls come quickly, but CodeDeploy has not recorded the rollback yet: keep looking until
        // the grace after the end has passed.
        for now in [102.0, 103.0, 104.0, 110.0] {
            f = f.seen(ended(100.0), &Until::End, true, now);
            assert!(
                matches!(f, Follow::AwaitingRollback { .. }),
                "at {now}: {f:?}"
            );
        }
        let late = DeploymentSnapshot {
            complete_time: Some(100.0),
            ..snap("d-1", "Failed", Some("d-2"))
        };
        let f = f.seen(late, &Until::End, true, 115.0);
        assert_eq!(f.polling().map(|(id, _)| id), Some("d-2"));
        // Past the grace, without a rollback: not rolled back.
        let mut g = Follow::new("d-1").seen(ended(100.0), &Until::End, true, 101.0);
        for now in [102.0, 103.0, 121.0] {
            g = g.seen(ended(100.0), &Until::End, true, now);
        }
        assert!(
            matches!(g, Follow::Ended(Followed::NotRolledBack(_))),
            "{g:?}"
        );
    }

    #[test]
    fn a_stop_keeps_what_was_last_seen_of_both_deployments() {
        let f = run(
            vec![
                snap("d-1", "Failed", Some("d-2")),
                snap("d-2", "InProgress", None),
            ],
            Until::End,
            true,
        )
        .stopped(Stop::TimedOut);
        match f {
            Follow::Ended(Followed::Unfinished {
                stop,
                id,
                last,
                rollback,
            }) => {
                assert_eq!(stop, Stop::TimedOut);
                assert_eq!(id, "d-1");
                assert_eq!(last.unwrap().status.as_str(), "Failed");
                let (rb, rb_last) = rollback.unwrap();
                assert_eq!(rb, "d-2");
                assert_eq!(rb_last.unwrap().status.as_str(), "InProgress");
            }
            other => panic!("{other:?}"),
        }
    }
}
