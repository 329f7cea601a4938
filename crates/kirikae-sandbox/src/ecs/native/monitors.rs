//! What rolls a deployment back without anyone asking: the deployment circuit breaker (green's failed
//! tasks against ECS's threshold) and CloudWatch deployment alarms, read through CloudWatch's own
//! DescribeAlarms. Watched from the start of a deployment to the end of its bake.

use super::deployment::ServiceDeployment;
use super::lifecycle::{Place, service};
use crate::ecs::scheduler::circuit_breaker_threshold;
use crate::world::Ctx;

/// Why a deployment must roll back now, if it must: the circuit breaker tripped on green's tasks, or a
/// deployment alarm is in ALARM (with `rollback`). Triggered alarms are recorded either way.
pub fn rollback_reason(cx: &mut Ctx, at: &Place, d: &mut ServiceDeployment) -> Option<String> {
    if let Some(rollback) = d.plan.circuit_breaker {
        let failed = service(cx, at)
            .and_then(|s| s.sets.iter().find(|s| s.id == d.target.set_id))
            .map_or(0, |s| s.failed_tasks);
        d.failed_tasks = failed;
        let threshold = service(cx, at).map_or(3, |s| circuit_breaker_threshold(s.desired_count));
        if failed >= threshold && rollback {
            return Some(format!(
                "Service deployment rolled back because the circuit breaker threshold was exceeded: {failed} tasks failed to start or failed their health checks."
            ));
        }
    }
    if !d.plan.alarms.is_empty() {
        let firing = firing_alarms(cx, &d.plan.alarms.clone());
        for name in &firing {
            if !d.triggered_alarms.contains(name) {
                d.triggered_alarms.push(name.clone());
            }
        }
        if !firing.is_empty() && d.plan.alarm_rollback {
            return Some(alarm_reason(&firing));
        }
    }
    None
}

/// The alarms among `names` in ALARM now (CloudWatch's DescribeAlarms, as ECS calls it).
pub fn firing_alarms(cx: &mut Ctx, names: &[String]) -> Vec<String> {
    let input = serde_json::json!({ "AlarmNames": names });
    let Ok(out) = crate::cloudwatch::handle(cx, "DescribeAlarms", &input) else {
        return Vec::new();
    };
    ["MetricAlarms", "CompositeAlarms"]
        .iter()
        .flat_map(|k| out[*k].as_array().cloned().unwrap_or_default())
        .filter(|a| a["StateValue"] == "ALARM")
        .filter_map(|a| a["AlarmName"].as_str().map(str::to_string))
        .collect()
}

pub fn alarm_reason(firing: &[String]) -> String {
    format!(
        "Service deployment rolled back because the following alarms were triggered: {}.",
        firing.join(", ")
    )
}
