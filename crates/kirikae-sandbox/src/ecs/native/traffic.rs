//! What ECS does to the load balancer during a Blue/Green-family deployment, as calls to ELBv2's own
//! operations (`DescribeRules`, `ModifyRule`), which the infrastructure role allows: check that the
//! rules forward to the target group pair, and move their weights. One `ModifyRule` runs under the
//! world lock, so the proxy switches between two requests, never during one.

use serde_json::{Value, json};

use super::config::Traffic;
use crate::elbv2::{self, weights};
use crate::world::Ctx;

/// Whether a rule (a listener's rule or its default rule) exists.
pub fn rule_exists(elbv2: &elbv2::Elbv2State, arn: &str) -> bool {
    elbv2.rule_exists(arn)
}

/// AWS's reason when the rules do not forward to both groups (migration guide, quoted in reports).
pub const INVALID_NETWORKING: &str = "Service deployment rolled back because of invalid networking configuration. Both targetGroup and alternateTargetGroup must be associated with the productionListenerRule or testListenerRule.";

/// A rule's actions, as `DescribeRules` shows them.
fn actions(cx: &mut Ctx, rule: &str) -> Result<Vec<Value>, String> {
    let out = elbv2::handle(cx, "DescribeRules", &json!({ "RuleArns": [rule] }))
        .map_err(|e| format!("DescribeRules on {rule} failed: {}: {}", e.code, e.message))?;
    Ok(out["Rules"][0]["Actions"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Both groups of the pair must be behind the production rule or the test rule (weight 0 counts).
pub fn check_networking(cx: &mut Ctx, t: &Traffic) -> Result<(), String> {
    let mut rules = vec![actions(cx, &t.production_rule)?];
    if let Some(test) = &t.test_rule {
        rules.push(actions(cx, test)?);
    }
    let behind = |tg: &str| rules.iter().any(|a| weights::forwards_to(a, tg));
    if behind(&t.target_group) && behind(&t.alternate_target_group) {
        Ok(())
    } else {
        Err(INVALID_NETWORKING.to_string())
    }
}

/// ALB weights (integers 0–999) for `green_percent` of the traffic: whole percents as `p / 100 - p`,
/// tenths as `10p / 1000 - 10p` (capped at 999, the largest weight ALB accepts).
pub fn weight_pair(green_percent: f64) -> (u32, u32) {
    let p = green_percent.clamp(0.0, 100.0);
    if p.fract() == 0.0 {
        (p as u32, 100 - p as u32)
    } else {
        let g = (p * 10.0).round() as u32;
        (g, (1000 - g).min(999))
    }
}

/// Give `green` `green_percent` of a rule's traffic, the rest to `blue`.
pub fn shift(
    cx: &mut Ctx,
    rule: &str,
    green: &str,
    blue: &str,
    green_percent: f64,
) -> Result<(), String> {
    let current = actions(cx, rule)?;
    let (g, b) = weight_pair(green_percent);
    let Some(new) = weights::reweight(&current, (green, g), (blue, b)) else {
        return Err(INVALID_NETWORKING.to_string());
    };
    if new == current {
        return Ok(());
    }
    elbv2::handle(
        cx,
        "ModifyRule",
        &json!({ "RuleArn": rule, "Actions": new }),
    )
    .map(drop)
    .map_err(|e| format!("ModifyRule on {rule} failed: {}: {}", e.code, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_whole_percents_or_tenths() {
        assert_eq!(weight_pair(0.0), (0, 100));
        assert_eq!(weight_pair(100.0), (100, 0));
        assert_eq!(weight_pair(10.0), (10, 90));
        assert_eq!(weight_pair(12.5), (125, 875));
        assert_eq!(weight_pair(0.1), (1, 999));
    }
}
