//! The service as the `ecs:` block wants it: the service definition plus the ECS controller, the
//! deployment configuration (strategy, bake, linear / canary, lifecycle hooks — with the gate's pause
//! when kirikae adds one —, alarms) and the load
//! balancer's advanced configuration. Built as API JSON (the shapes AWS documents, one key per config
//! key) and parsed into the SDK's `CreateServiceInput` by the same codec as the definition files, so
//! CreateService and UpdateService send exactly what the JSON says.

use aws_sdk_ecs::operation::create_service::CreateServiceInput;
use aws_sdk_ecs::types::Service;
use serde_json::{Value, json};

use super::config::{EcsSection, Strategy};
use super::plan::NativePlan;
use super::preflight::NativeRemote;
use crate::definitions::codec;
use crate::error::Error;

/// `deploymentConfiguration` as API JSON: the service definition's own members (percentages, circuit
/// breaker) and the `ecs:` block's.
pub fn deployment_configuration(plan: &NativePlan) -> Value {
    let mut dc = plan.service_definition.json["deploymentConfiguration"].clone();
    if !dc.is_object() {
        dc = json!({});
    }
    let ecs: &EcsSection = &plan.ecs;
    dc["strategy"] = json!(ecs.strategy.as_str());
    dc["bakeTimeInMinutes"] = json!(ecs.bake_time_minutes);
    match ecs.strategy {
        Strategy::Linear => {
            let l = ecs.linear.clone().unwrap_or(super::config::Linear {
                step_percent: 10.0,
                step_bake_time_minutes: 6,
            });
            dc["linearConfiguration"] = json!({
                "stepPercent": l.step_percent,
                "stepBakeTimeInMinutes": l.step_bake_time_minutes,
            });
        }
        Strategy::Canary => {
            let c = ecs.canary.clone().unwrap_or(super::config::Canary {
                canary_percent: 5.0,
                canary_bake_time_minutes: 10,
            });
            dc["canaryConfiguration"] = json!({
                "canaryPercent": c.canary_percent,
                "canaryBakeTimeInMinutes": c.canary_bake_time_minutes,
            });
        }
        Strategy::BlueGreen => {}
    }
    // The gate's pause (super::gate) is one of the service's hooks like the config's own.
    let gate_pause = super::gate::added_hook(ecs, plan.gate.as_ref());
    let hooks: Vec<Value> = ecs
        .hooks
        .iter()
        .chain(gate_pause.iter())
        .map(|h| {
            let mut v = json!({
                "targetType": if h.pause { "PAUSE" } else { "AWS_LAMBDA" },
                "lifecycleStages": h.stages,
            });
            if let Some(f) = &h.function {
                v["hookTargetArn"] = json!(f);
            }
            if let Some(r) = &h.role {
                v["roleArn"] = json!(r);
            }
            if let Some(d) = &h.details {
                v["hookDetails"] = d.clone();
            }
            if h.timeout_minutes.is_some() || h.timeout_action.is_some() {
                let mut t = json!({});
                if let Some(m) = h.timeout_minutes {
                    t["timeoutInMinutes"] = json!(m);
                }
                if let Some(a) = h.timeout_action {
                    t["action"] = json!(a.as_str());
                }
                v["timeoutConfiguration"] = t;
            }
            v
        })
        .collect();
    // An empty list removes hooks a previous config had.
    dc["lifecycleHooks"] = json!(hooks);
    if let Some(a) = &ecs.alarms {
        dc["alarms"] = json!({"alarmNames": a.names, "enable": a.enabled, "rollback": a.rollback});
    }
    dc
}

/// The target group the service names (`loadBalancers[].targetGroupArn`): the one of the pair the live
/// service names now (ECS swaps the roles of the two groups after each deployment), else the config's
/// first.
pub fn serving_target_group(remote: &NativeRemote, live: Option<&Service>) -> (String, String) {
    let pair: Vec<&String> = remote.target_groups.iter().map(|(_, a)| a).collect();
    let live_tg = live
        .and_then(|s| s.load_balancers().first())
        .and_then(|lb| lb.target_group_arn())
        .filter(|a| pair.iter().any(|p| p.as_str() == *a));
    let primary = live_tg.map_or_else(|| pair[0].clone(), str::to_string);
    let alternate = pair
        .iter()
        .find(|p| **p != &primary)
        .map_or_else(|| pair[1].clone(), |p| (*p).clone());
    (primary, alternate)
}

/// The whole service as API JSON, parsed into the SDK's input.
pub fn desired(
    plan: &NativePlan,
    remote: &NativeRemote,
    live: Option<&Service>,
) -> Result<CreateServiceInput, Error> {
    let mut sd = plan.service_definition.json.clone();
    let (primary, alternate) = serving_target_group(remote, live);
    sd["deploymentController"] = json!({"type": "ECS"});
    sd["deploymentConfiguration"] = deployment_configuration(plan);
    let mut advanced = json!({
        "alternateTargetGroupArn": alternate,
        "productionListenerRule": remote.production_rule,
        "roleArn": plan.ecs.infrastructure_role,
    });
    if let Some(t) = &remote.test_rule {
        advanced["testListenerRule"] = json!(t);
    }
    sd["loadBalancers"][0]["targetGroupArn"] = json!(primary);
    sd["loadBalancers"][0]["advancedConfiguration"] = advanced;
    codec::decode::<CreateServiceInput>(&sd).map_err(|e| Error::Conflict {
        message: format!("the service's settings do not fit the SDK kirikae was built with: {e:?}"),
        hint: Some("report this as a kirikae bug, with the config".into()),
    })
}

/// Whether the live service already deploys as `want` says (strategy, bake, steps, hooks, alarms, and
/// the same pair, rules and role): then only a new task definition makes a deploy.
pub fn same_settings(want: &CreateServiceInput, live: &Service) -> bool {
    deployment_changes(want, live).is_empty() && same_load_balancers(want, live)
}

/// The members of the deployment configuration (strategy, bake, steps, hooks, alarms) in which `want`
/// differs from the live service. They are no part of a service revision: ECS applies them without a
/// service deployment.
pub fn deployment_changes(want: &CreateServiceInput, live: &Service) -> Vec<&'static str> {
    let (Some(w), Some(l)) = (
        want.deployment_configuration(),
        live.deployment_configuration(),
    ) else {
        return vec!["deploymentConfiguration"];
    };
    [
        ("strategy", w.strategy() == l.strategy()),
        (
            "bakeTimeInMinutes",
            w.bake_time_in_minutes() == l.bake_time_in_minutes(),
        ),
        (
            "linearConfiguration",
            w.linear_configuration() == l.linear_configuration(),
        ),
        (
            "canaryConfiguration",
            w.canary_configuration() == l.canary_configuration(),
        ),
        ("lifecycleHooks", w.lifecycle_hooks() == l.lifecycle_hooks()),
        ("alarms", w.alarms() == l.alarms()),
    ]
    .into_iter()
    .filter(|(_, same)| !same)
    .map(|(member, _)| member)
    .collect()
}

/// Whether the load balancer is the same: the pair (in either role), the rules and the role. Part of a
/// service revision: a change here starts a service deployment.
pub fn same_load_balancers(want: &CreateServiceInput, live: &Service) -> bool {
    let pair = |lb: &aws_sdk_ecs::types::LoadBalancer| {
        let adv = lb.advanced_configuration();
        let mut groups = vec![
            lb.target_group_arn().unwrap_or_default().to_string(),
            adv.and_then(|a| a.alternate_target_group_arn())
                .unwrap_or_default()
                .to_string(),
        ];
        groups.sort();
        (
            groups,
            adv.and_then(|a| a.production_listener_rule())
                .map(str::to_string),
            adv.and_then(|a| a.test_listener_rule()).map(str::to_string),
            adv.and_then(|a| a.role_arn()).map(str::to_string),
        )
    };
    match (want.load_balancers().first(), live.load_balancers().first()) {
        (Some(w), Some(l)) => pair(w) == pair(l),
        _ => false,
    }
}
