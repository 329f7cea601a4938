//! What tasks report to their service while the scheduler moves them (targets registered or
//! deregistered, tasks that failed), turned into service events the way AWS words them, one event per
//! kind, task set and target group per pass.

use std::collections::BTreeMap;

use super::{Env, timing};
use crate::ecs::services::Service;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Notice {
    Registered {
        service: String,
        set: String,
        target_group: String,
    },
    Deregistered {
        service: String,
        set: String,
        target_group: String,
    },
    RegisterFailed {
        service: String,
        set: String,
        target_group: String,
        error: String,
    },
    /// A task failed to start, exited on its own, or failed its health checks.
    TaskFailed { service: String, set: String },
}

impl Notice {
    fn service(&self) -> &str {
        match self {
            Notice::Registered { service, .. }
            | Notice::Deregistered { service, .. }
            | Notice::RegisterFailed { service, .. }
            | Notice::TaskFailed { service, .. } => service,
        }
    }
}

/// Apply the pass's notices to the cluster's services.
pub fn publish(env: &mut Env, services: &mut BTreeMap<String, Service>) {
    let mut counted: BTreeMap<Notice, u32> = BTreeMap::new();
    for n in std::mem::take(&mut env.notices) {
        *counted.entry(n).or_default() += 1;
    }
    for (notice, n) in counted {
        let Some(svc) = services.get_mut(notice.service()) else {
            continue;
        };
        match &notice {
            Notice::Registered {
                set, target_group, ..
            } => {
                let msg = format!(
                    "{} registered {n} targets in (target-group {target_group})",
                    svc.scope(Some(set))
                );
                svc.event(env.now, msg);
            }
            Notice::Deregistered {
                set, target_group, ..
            } => {
                let scope = svc.scope(Some(set));
                svc.event(
                    env.now,
                    format!("{scope} has begun draining connections on {n} tasks."),
                );
                svc.event(
                    env.now,
                    format!("{scope} deregistered {n} targets in (target-group {target_group})"),
                );
            }
            Notice::RegisterFailed {
                set,
                target_group,
                error,
                ..
            } => {
                let msg = format!(
                    "{} failed to register targets in (target-group {target_group}) with (error {error})",
                    svc.scope(Some(set))
                );
                svc.event(env.now, msg);
            }
            Notice::TaskFailed { set, .. } => {
                let scope = svc.scope(Some(set));
                let Some(s) = svc.sets.iter_mut().find(|s| &s.id == set) else {
                    continue;
                };
                s.failed_tasks += n;
                s.launch_failures += n;
                let delay = timing::throttle(s.launch_failures);
                if delay > 0.0 {
                    s.next_launch_at = env.after(delay);
                    svc.event(
                        env.now,
                        format!(
                            "{scope} is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
                        ),
                    );
                }
            }
        }
    }
}
