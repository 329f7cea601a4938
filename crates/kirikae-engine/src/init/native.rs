//! The `ecs:` block of a service on ECS-native Blue/Green (deployment controller `ECS`, strategy
//! `BLUE_GREEN` / `LINEAR` / `CANARY`), read from DescribeServices: the deployment configuration's
//! strategy, bake, steps, lifecycle hooks and alarms, and the load balancer's advanced configuration
//! (the pair, the production and test listener rules, the infrastructure role). Listeners are named by
//! load balancer and port when the rule is a listener's default rule. Everything is carried over as the
//! service has it, so that a deploy of the files finds the same settings.

use serde_json::{Map, Value, json};

use super::network;
use crate::aws::failed;
use crate::config::ListenerRef;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::native::config::EcsSection;

/// The `ecs:` block, as YAML lines under `ecs:`, and the pair's names.
pub struct Block {
    pub lines: Vec<String>,
    pub target_groups: [String; 2],
}

pub async fn read(aws: &Clients, described: &Value, service: &str) -> Result<Block, Error> {
    let lb = &described["loadBalancers"][0];
    let adv = &lb["advancedConfiguration"];
    let (Some(primary), Some(alternate)) = (
        lb["targetGroupArn"].as_str(),
        adv["alternateTargetGroupArn"].as_str(),
    ) else {
        return Err(ConfigError::new(
            "--service",
            format!("service {service} deploys with ECS-native Blue/Green but names no target group pair (loadBalancers[0].advancedConfiguration)"),
        )
        .into());
    };
    let names = target_group_names(aws, &[primary, alternate]).await?;
    let mut ecs = Map::new();
    let dc = &described["deploymentConfiguration"];
    ecs.insert("strategy".into(), dc["strategy"].clone());
    if let Some(b) = dc.get("bakeTimeInMinutes") {
        ecs.insert("bake_time_minutes".into(), b.clone());
    }
    if let Some(l) = dc.get("linearConfiguration").filter(|v| v.is_object()) {
        ecs.insert(
            "linear".into(),
            rename(
                l,
                &[
                    ("stepPercent", "step_percent"),
                    ("stepBakeTimeInMinutes", "step_bake_time_minutes"),
                ],
            ),
        );
    }
    if let Some(c) = dc.get("canaryConfiguration").filter(|v| v.is_object()) {
        ecs.insert(
            "canary".into(),
            rename(
                c,
                &[
                    ("canaryPercent", "canary_percent"),
                    ("canaryBakeTimeInMinutes", "canary_bake_time_minutes"),
                ],
            ),
        );
    }
    ecs.insert("target_groups".into(), json!(names));
    let production = adv["productionListenerRule"].as_str().unwrap_or_default();
    ecs.insert(
        "production_listener".into(),
        listener_json(&rule_ref(aws, production).await?),
    );
    if let Some(t) = adv["testListenerRule"].as_str() {
        ecs.insert(
            "test_listener".into(),
            listener_json(&rule_ref(aws, t).await?),
        );
    }
    ecs.insert("infrastructure_role".into(), adv["roleArn"].clone());
    let hooks: Vec<Value> = dc["lifecycleHooks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(hook)
        .collect();
    if !hooks.is_empty() {
        ecs.insert("hooks".into(), Value::Array(hooks));
    }
    if let Some(a) = dc.get("alarms").filter(|v| v.is_object()) {
        ecs.insert(
            "alarms".into(),
            json!({"names": a["alarmNames"].as_array().cloned().unwrap_or_default(),
                   "rollback": a["rollback"].as_bool().unwrap_or(false),
                   "enabled": a["enable"].as_bool().unwrap_or(false)}),
        );
    }
    let block = Value::Object(ecs);
    // What is written must be what the `ecs:` block reads.
    serde_json::from_value::<EcsSection>(block.clone()).map_err(|e| Error::Conflict {
        message: format!(
            "service {service}'s ECS-native settings cannot be written as an `ecs:` block: {e}"
        ),
        hint: None,
    })?;
    let order = [
        "strategy",
        "bake_time_minutes",
        "linear",
        "canary",
        "target_groups",
        "production_listener",
        "test_listener",
        "infrastructure_role",
        "hooks",
        "alarms",
    ];
    let lines = order
        .iter()
        .filter_map(|k| {
            block
                .get(*k)
                .map(|v| format!("  {k}: {}", super::config::flow(v)))
        })
        .collect();
    let [a, b] = <[String; 2]>::try_from(names).unwrap_or_default();
    Ok(Block {
        lines,
        target_groups: [a, b],
    })
}

fn rename(v: &Value, keys: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (from, to) in keys {
        if let Some(x) = v.get(*from) {
            m.insert((*to).into(), x.clone());
        }
    }
    Value::Object(m)
}

/// A lifecycle hook as the `ecs:` block's `hooks:` entry.
fn hook(h: &Value) -> Value {
    let mut m = Map::new();
    m.insert("stages".into(), h["lifecycleStages"].clone());
    if h["targetType"].as_str() == Some("PAUSE") {
        m.insert("pause".into(), json!(true));
    }
    for (from, to) in [
        ("hookTargetArn", "function"),
        ("roleArn", "role"),
        ("hookDetails", "details"),
    ] {
        if let Some(x) = h.get(from).filter(|x| !x.is_null()) {
            m.insert(to.into(), x.clone());
        }
    }
    if let Some(t) = h.get("timeoutConfiguration") {
        if let Some(x) = t.get("timeoutInMinutes") {
            m.insert("timeout_minutes".into(), x.clone());
        }
        if let Some(x) = t.get("action") {
            m.insert("timeout_action".into(), x.clone());
        }
    }
    Value::Object(m)
}

fn listener_json(r: &ListenerRef) -> Value {
    serde_json::to_value(r).expect("a listener reference serialises")
}

/// A listener rule as the config names it: its listener by load balancer and port when it is the
/// listener's default rule (or an NLB's listener, which ECS names instead of a rule), else its ARN.
async fn rule_ref(aws: &Clients, arn: &str) -> Result<ListenerRef, Error> {
    if arn.contains(":listener/") {
        return network::by_port(aws, arn).await;
    }
    let out = aws
        .elbv2
        .describe_rules()
        .rule_arns(arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeRules", e))?;
    let is_default = out.rules().first().and_then(|r| r.is_default()) == Some(true);
    match listener_of_rule(arn) {
        Some(listener) if is_default => network::by_port(aws, &listener).await,
        _ => Ok(ListenerRef::Arn(arn.to_string())),
    }
}

/// `…:listener-rule/app/LB/ID/LISTENER/RULE` → `…:listener/app/LB/ID/LISTENER`.
fn listener_of_rule(rule: &str) -> Option<String> {
    let (head, rest) = rule.split_once(":listener-rule/")?;
    let (path, _rule) = rest.rsplit_once('/')?;
    Some(format!("{head}:listener/{path}"))
}

async fn target_group_names(aws: &Clients, arns: &[&str]) -> Result<Vec<String>, Error> {
    let out = aws
        .elbv2
        .describe_target_groups()
        .set_target_group_arns(Some(arns.iter().map(|a| a.to_string()).collect()))
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeTargetGroups", e))?;
    Ok(arns
        .iter()
        .map(|arn| {
            out.target_groups()
                .iter()
                .find(|t| t.target_group_arn() == Some(*arn))
                .and_then(|t| t.target_group_name())
                .map_or_else(|| arn.to_string(), str::to_string)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_arn_names_its_listener() {
        assert_eq!(
            listener_of_rule(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/abc/def/123"
            )
            .as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/abc/def")
        );
    }

    #[test]
    fn hooks_in_the_blocks_words() {
        let h = hook(
            &json!({"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"}}),
        );
        assert_eq!(
            h,
            json!({"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 60, "timeout_action": "ROLLBACK"})
        );
    }
}
