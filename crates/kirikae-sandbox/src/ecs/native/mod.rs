//! ECS-native Blue/Green: services with the ECS deployment controller and the BLUE_GREEN, LINEAR or
//! CANARY strategy (July/October 2025), whose service deployments ECS runs itself, stage by stage, on
//! the sandbox clock: green starts in the alternate target group, the test rule and then the
//! production rule's weights move to it (the listeners' proxies route by them), hooks run at their
//! stages, blue is scaled in after the bake, and the groups' roles swap for the next deployment.
//!
//! Module map: [`config`] (the settings, checked as AWS checks them → a `Plan`), [`deployment`]
//! (service deployments and revisions, and their JSON), [`lifecycle`] (the stage machine, rollback),
//! [`hook_runs`] (a stage's hooks until they are done), [`monitors`] (alarms, circuit breaker),
//! [`traffic`] (listener rule weights, through ELBv2's operations), [`hooks`] (Lambda hooks' event and
//! response contract), [`rolling`] (rolling updates as service deployments), [`api`]
//! (List/DescribeServiceDeployments, DescribeServiceRevisions, Stop/ContinueServiceDeployment).

pub mod api;
pub mod config;
pub mod deployment;
mod hook_runs;
mod hooks;
pub mod lifecycle;
mod monitors;
pub mod rolling;
mod traffic;

pub use config::is_blue_green;
pub use deployment::History;
pub use lifecycle::reconcile;

use serde_json::Value;

use config::Plan;
use deployment::{RevisionRef, ServiceDeployment, ServiceRevision, Status};

use super::services::Service;
use super::spec::LaunchSpec;
use super::task_sets::{SetKind, SetStatus, TaskSet};
use crate::world::RegionKey;

/// `arn:aws:ecs:REGION:ACCOUNT:service-revision/CLUSTER/SERVICE/ID`; the id is the digits of the
/// deployment's `ecs-svc/…` id, the correlation clients rely on.
pub fn revision_arn(key: &RegionKey, cluster: &str, service: &str, set_id: &str) -> String {
    let id = set_id.strip_prefix("ecs-svc/").unwrap_or(set_id);
    key.arn("ecs", &format!("service-revision/{cluster}/{service}/{id}"))
}

/// `arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID` (ID: 21 letters and digits).
pub fn new_deployment_arn(key: &RegionKey, cluster: &str, service: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = (0..21)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    key.arn(
        "ecs",
        &format!("service-deployment/{cluster}/{service}/{id}"),
    )
}

/// `(cluster, service)` of a service deployment or service revision ARN.
pub fn owner_of(arn: &str) -> Option<(String, String)> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let (kind, path) = resource.split_once('/')?;
    if kind != "service-deployment" && kind != "service-revision" {
        return None;
    }
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(s), Some(id), None) if !c.is_empty() && !s.is_empty() && !id.is_empty() => {
            Some((c.to_string(), s.to_string()))
        }
        _ => None,
    }
}

/// Record the revision a deployment (task set) of an ECS-controller service runs.
pub fn record_revision(
    svc: &mut Service,
    set_id: &str,
    spec: &LaunchSpec,
    target_group: Option<String>,
    production_rule: Option<String>,
    now: f64,
) -> RevisionRef {
    let arn = revision_arn(&svc.region, &svc.cluster_name, &svc.name, set_id);
    if svc.history.revision(&arn).is_none() {
        svc.history.revisions.push(ServiceRevision {
            arn: arn.clone(),
            set_id: set_id.to_string(),
            created_at: now,
            spec: spec.clone(),
            target_group,
            production_rule,
        });
    }
    RevisionRef {
        arn,
        set_id: set_id.to_string(),
    }
}

/// Start a Blue/Green-family service deployment of `spec` (the service's new settings as given): a
/// new PRIMARY deployment (green, no tasks yet) in the group of the pair that does not serve
/// production, its revision, and the service deployment that will run it. A deployment still in
/// progress is superseded (STOPPED); its green is scaled in by the new one's RECONCILE_SERVICE stage.
pub fn begin(svc: &mut Service, spec: LaunchSpec, plan: Plan, configuration: Value, now: f64) {
    let mut leftovers: Vec<RevisionRef> = Vec::new();
    // AWS's words for a superseded deployment are not published; these are the sandbox's.
    let superseded = svc
        .history
        .stop_in_progress(
            "Service deployment stopped because a newer service deployment started.",
            now,
        )
        .map(|prev| {
            let mut gone = vec![prev.target.clone()];
            gone.extend(prev.leftovers.clone());
            (prev.source.clone(), gone)
        });
    let source = match superseded {
        Some((source, gone)) => {
            leftovers = gone;
            source
        }
        None => svc
            .primary()
            .map(|p| (p.id.clone(), p.spec.clone()))
            .map(|(id, set_spec)| {
                let tg = set_spec
                    .load_balancers
                    .first()
                    .and_then(|l| l.target_group_arn.clone());
                record_revision(svc, &id, &set_spec, tg, None, now)
            }),
    };
    // Any other deployment still running is scaled in too.
    for set in &svc.sets {
        let known = source.iter().chain(&leftovers).any(|r| r.set_id == set.id);
        if !known {
            leftovers.push(RevisionRef {
                arn: revision_arn(&svc.region, &svc.cluster_name, &svc.name, &set.id),
                set_id: set.id.clone(),
            });
        }
    }
    for set in svc
        .sets
        .iter_mut()
        .filter(|s| s.status == SetStatus::Primary)
    {
        set.status = SetStatus::Active;
        set.updated_at = now;
    }
    let traffic = plan.traffic.clone();
    let serving = svc
        .history
        .serving_target_group
        .clone()
        .or_else(|| traffic.as_ref().map(|t| t.target_group.clone()));
    let (green_tg, blue_tg) = match (&traffic, &serving, &source) {
        (Some(t), Some(serving), Some(_)) => {
            let other = if *serving == t.target_group {
                t.alternate_target_group.clone()
            } else {
                t.target_group.clone()
            };
            (Some(other), Some(serving.clone()))
        }
        (Some(_), Some(serving), None) => (Some(serving.clone()), None),
        _ => (None, None),
    };
    if svc.history.serving_target_group.is_none() {
        svc.history.serving_target_group = serving;
    }
    let mut set_spec = spec.clone();
    if let (Some(tg), Some(lb)) = (&green_tg, set_spec.load_balancers.first_mut()) {
        lb.target_group_arn = Some(tg.clone());
    }
    let green = TaskSet::new(SetKind::Deployment, SetStatus::Primary, svc, set_spec, now);
    let target = record_revision(
        svc,
        &green.id,
        &spec,
        green_tg.clone(),
        traffic.as_ref().map(|t| t.production_rule.clone()),
        now,
    );
    svc.sets.push(green);
    svc.spec = spec;
    svc.steady = false;
    let d = ServiceDeployment {
        arn: new_deployment_arn(&svc.region, &svc.cluster_name, &svc.name),
        service_arn: svc.arn.clone(),
        created_at: now,
        started_at: None,
        finished_at: None,
        stopped_at: None,
        updated_at: now,
        status: Status::Pending,
        status_reason: None,
        stage: None,
        target,
        source,
        leftovers,
        configuration,
        plan,
        green_tg,
        blue_tg,
        production_weight: 0.0,
        test_weight: 0.0,
        hooks: Vec::new(),
        rollback: None,
        failed_tasks: 0,
        triggered_alarms: Vec::new(),
        run: Default::default(),
        rollback_set: None,
    };
    tracing::info!(service = %svc.name, deployment = %d.arn, "service deployment created");
    svc.history.push(d);
}

/// Whether the service's tasks follow a Blue/Green-family deployment now (each deployment runs the
/// count the lifecycle gives it, instead of a rolling replacement).
pub fn runs_lifecycle(svc: &Service) -> bool {
    svc.history
        .deployments
        .iter()
        .any(|d| d.in_progress() && d.plan.strategy != config::Strategy::Rolling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_from_deployment_and_revision_arns() {
        let key = RegionKey {
            account: "111122223333".into(),
            region: "us-east-1".into(),
        };
        let rev = revision_arn(&key, "demo", "web", "ecs-svc/1234567890123456789");
        assert_eq!(
            rev,
            "arn:aws:ecs:us-east-1:111122223333:service-revision/demo/web/1234567890123456789"
        );
        assert_eq!(owner_of(&rev), Some(("demo".into(), "web".into())));
        let dep = new_deployment_arn(&key, "demo", "web");
        assert_eq!(owner_of(&dep), Some(("demo".into(), "web".into())));
        assert_eq!(dep.rsplit('/').next().unwrap().len(), 21);
        assert_eq!(
            owner_of("arn:aws:ecs:us-east-1:111122223333:service/demo/web"),
            None
        );
    }
}
