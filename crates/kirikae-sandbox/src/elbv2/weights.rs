//! Weighted forwards over a target group pair, on actions as the API shows them (`DescribeRules`,
//! `DescribeListeners`) and takes them (`ModifyRule`, `ModifyListener`): what the Blue/Green
//! deployments of CodeDeploy and of ECS itself rewrite to move traffic between blue and green.

use serde_json::{Value, json};

use super::Elbv2State;

impl Elbv2State {
    /// Whether a rule exists: a listener's rule, or a listener's default rule.
    pub fn rule_exists(&self, arn: &str) -> bool {
        self.rules.contains_key(arn) || self.listeners.values().any(|l| l.default_rule_arn == arn)
    }
}

/// The target groups a forward action names (one `TargetGroupArn`, or the `ForwardConfig` list).
fn forwarded(action: &Value) -> impl Iterator<Item = &str> {
    let single = action.get("TargetGroupArn").and_then(Value::as_str);
    let weighted = action
        .pointer("/ForwardConfig/TargetGroups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("TargetGroupArn").and_then(Value::as_str));
    single.into_iter().chain(weighted)
}

fn is_forward(action: &Value) -> bool {
    action.get("Type").and_then(Value::as_str) == Some("forward")
}

/// Whether the actions forward to `target_group` (weight 0 included: the group is still behind it).
pub fn forwards_to(actions: &[Value], target_group: &str) -> bool {
    actions
        .iter()
        .filter(|a| is_forward(a))
        .any(|a| forwarded(a).any(|t| t == target_group))
}

/// The weight the actions' forward gives `target_group` (a plain forward to it is `Some(1)`).
pub fn weight_of(actions: &[Value], target_group: &str) -> Option<u64> {
    let action = actions
        .iter()
        .filter(|a| is_forward(a))
        .find(|a| forwarded(a).any(|t| t == target_group))?;
    match action
        .pointer("/ForwardConfig/TargetGroups")
        .and_then(Value::as_array)
    {
        Some(groups) => groups
            .iter()
            .find(|g| g.get("TargetGroupArn").and_then(Value::as_str) == Some(target_group))
            .map(|g| g.get("Weight").and_then(Value::as_u64).unwrap_or(1)),
        None => Some(1),
    }
}

/// The actions with every forward to either group of the pair replaced by one weighted forward over
/// both (a group at weight 0 stays in it, as both CodeDeploy and ECS leave it). `None` when no action
/// forwards to the pair.
pub fn reweight(
    actions: &[Value],
    (green, green_weight): (&str, u32),
    (blue, blue_weight): (&str, u32),
) -> Option<Vec<Value>> {
    let mut touched = false;
    let out = actions
        .iter()
        .map(|a| {
            if !is_forward(a) || !forwarded(a).any(|t| t == green || t == blue) {
                return a.clone();
            }
            touched = true;
            let stickiness = a
                .pointer("/ForwardConfig/TargetGroupStickinessConfig")
                .cloned()
                .unwrap_or_else(|| json!({ "Enabled": false }));
            let mut new = json!({
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        { "TargetGroupArn": green, "Weight": green_weight },
                        { "TargetGroupArn": blue, "Weight": blue_weight },
                    ],
                    "TargetGroupStickinessConfig": stickiness,
                }
            });
            if let Some(order) = a.get("Order") {
                new["Order"] = order.clone();
            }
            new
        })
        .collect();
    touched.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reweights_a_plain_forward_into_a_weighted_pair() {
        let actions = vec![json!({"Type": "forward", "TargetGroupArn": "b", "Order": 1})];
        let out = reweight(&actions, ("g", 10), ("b", 90)).unwrap();
        assert_eq!(weight_of(&out, "g"), Some(10));
        assert_eq!(weight_of(&out, "b"), Some(90));
        assert_eq!(out[0]["Order"], 1);
        assert!(forwards_to(&out, "g"));
        assert_eq!(reweight(&actions, ("x", 1), ("y", 0)), None);
    }
}
