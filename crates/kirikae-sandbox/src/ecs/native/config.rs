//! A Blue/Green-family service's deployment settings, read from its `deploymentConfiguration` and
//! `loadBalancers[].advancedConfiguration` and checked as AWS checks them before CreateService or
//! UpdateService changes anything. The result, [`Plan`], is what a service deployment runs with (a
//! snapshot: a later UpdateService does not change a deployment in progress).
//!
//! Sources: the ECS API model (DeploymentConfiguration, LinearConfiguration, CanaryConfiguration,
//! DeploymentLifecycleHook, AdvancedConfiguration member docs) and the developer guide pages on
//! blue/green, linear, canary deployments and lifecycle hooks. Where AWS's words are not published the
//! message is the sandbox's, under the exception AWS uses for invalid parameters.

use serde_json::Value;

use crate::ecs::errors;
use crate::ecs::spec::LoadBalancer;
use crate::elbv2::Elbv2State;
use crate::iam::IamState;
use crate::iam::sts::{self, Refusal};
use crate::protocol::ApiError;

/// The principal ECS assumes infrastructure and hook roles as.
pub const ECS_PRINCIPAL: &str = "ecs.amazonaws.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A rolling update (the scheduler replaces tasks); recorded as a service deployment.
    Rolling,
    BlueGreen,
    Linear,
    Canary,
}

impl Strategy {
    /// The Blue/Green-family strategy a `deploymentConfiguration` names; `None` for ROLLING (or none).
    pub fn of(deployment_configuration: &Value) -> Option<Strategy> {
        match deployment_configuration["strategy"].as_str() {
            Some("BLUE_GREEN") => Some(Strategy::BlueGreen),
            Some("LINEAR") => Some(Strategy::Linear),
            Some("CANARY") => Some(Strategy::Canary),
            _ => None,
        }
    }
}

/// `DeploymentLifecycleHookStage`, in lifecycle order.
pub const HOOK_STAGES: [&str; 8] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// Where a hook runs.
#[derive(Clone, Debug, PartialEq)]
pub enum HookTarget {
    /// A Lambda function (ARN), which the sandbox maps to a local command or URL.
    Lambda(String),
    /// Wait for ContinueServiceDeployment.
    Pause,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutAction {
    Rollback,
    Continue,
}

impl TimeoutAction {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutAction::Rollback => "ROLLBACK",
            TimeoutAction::Continue => "CONTINUE",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    pub target: HookTarget,
    pub stages: Vec<String>,
    /// `hookDetails`, passed to every invocation of a Lambda hook.
    pub details: Value,
    pub timeout_minutes: f64,
    pub timeout_action: TimeoutAction,
}

/// One production traffic step: green's share after it, and how long to hold it before the next one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShiftStep {
    pub percent: f64,
    pub hold_minutes: f64,
}

/// The load balancer side of a Blue/Green service: the target group pair, the rules ECS rewrites, and
/// the role it does so with.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    pub target_group: String,
    pub alternate_target_group: String,
    pub production_rule: String,
    pub test_rule: Option<String>,
    pub role_arn: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub strategy: Strategy,
    pub bake_minutes: f64,
    pub steps: Vec<ShiftStep>,
    pub hooks: Vec<Hook>,
    /// `None` for a service without a load balancer ("headless": tasks replaced, no traffic moved).
    pub traffic: Option<Traffic>,
    /// CloudWatch alarms watched from the start to the end of the bake, and whether one in ALARM
    /// rolls the deployment back.
    pub alarms: Vec<String>,
    pub alarm_rollback: bool,
    /// The deployment circuit breaker, and whether it rolls back.
    pub circuit_breaker: Option<bool>,
}

impl Plan {
    /// What a rolling update's service deployment watches: the circuit breaker and alarms of `dc`.
    pub fn rolling(dc: &Value) -> Plan {
        Plan {
            strategy: Strategy::Rolling,
            bake_minutes: 0.0,
            steps: Vec::new(),
            hooks: Vec::new(),
            traffic: None,
            alarms: alarm_names(dc),
            alarm_rollback: dc["alarms"]["rollback"] == true,
            circuit_breaker: (dc["deploymentCircuitBreaker"]["enable"] == true)
                .then(|| dc["deploymentCircuitBreaker"]["rollback"] == true),
        }
    }

    pub fn hooks_at<'a>(&'a self, stage: &'a str) -> impl Iterator<Item = (usize, &'a Hook)> + 'a {
        self.hooks
            .iter()
            .enumerate()
            .filter(move |(_, h)| h.stages.iter().any(|s| s == stage))
    }
}

/// Whether a service with this deployment configuration runs Blue/Green-family deployments.
pub fn is_blue_green(deployment_configuration: &Value) -> bool {
    Strategy::of(deployment_configuration).is_some()
}

/// AWS's checks on a Blue/Green-family service's settings, and the plan its deployments run with.
/// `None` for a ROLLING service (whose checks are elsewhere).
pub fn check(
    dc: &Value,
    load_balancers: &[LoadBalancer],
    elbv2: &Elbv2State,
    iam: &IamState,
) -> Result<Option<Plan>, ApiError> {
    let Some(strategy) = Strategy::of(dc) else {
        if dc.get("linearConfiguration").is_some_and(|v| !v.is_null()) {
            return Err(errors::invalid(
                "linearConfiguration is only valid when the deployment strategy is LINEAR.",
            ));
        }
        if dc.get("canaryConfiguration").is_some_and(|v| !v.is_null()) {
            return Err(errors::invalid(
                "canaryConfiguration is only valid when the deployment strategy is CANARY.",
            ));
        }
        // AWS runs PAUSE hooks on rolling updates too (May 2026); the sandbox does not, and says so
        // rather than ignore them.
        if dc["lifecycleHooks"]
            .as_array()
            .is_some_and(|hooks| !hooks.is_empty())
        {
            return Err(ApiError::new(
                "UnsupportedFeatureException",
                "Lifecycle hooks on rolling updates are not implemented in the kirikae sandbox; it runs them for the BLUE_GREEN, LINEAR and CANARY strategies.",
            ));
        }
        return Ok(None);
    };
    if strategy != Strategy::Linear && !dc["linearConfiguration"].is_null() {
        return Err(errors::invalid(
            "linearConfiguration is only valid when the deployment strategy is LINEAR.",
        ));
    }
    if strategy != Strategy::Canary && !dc["canaryConfiguration"].is_null() {
        return Err(errors::invalid(
            "canaryConfiguration is only valid when the deployment strategy is CANARY.",
        ));
    }
    // Model: "You must provide this parameter when you use the BLUE_GREEN deployment strategy."
    let bake = match dc["bakeTimeInMinutes"].as_f64() {
        Some(b) => b,
        None if strategy == Strategy::BlueGreen => {
            return Err(errors::invalid(
                "bakeTimeInMinutes must be provided when the deployment strategy is BLUE_GREEN.",
            ));
        }
        None => 0.0,
    };
    minutes("bakeTimeInMinutes", bake, 1440.0)?;
    let steps = shift_steps(strategy, dc)?;
    let hooks = hooks(&dc["lifecycleHooks"], iam)?;
    let traffic = traffic(load_balancers, elbv2, iam)?;
    let alarms = alarm_names(dc);
    Ok(Some(Plan {
        strategy,
        bake_minutes: bake,
        steps,
        hooks,
        traffic,
        alarm_rollback: dc["alarms"]["rollback"] == true,
        alarms,
        circuit_breaker: (dc["deploymentCircuitBreaker"]["enable"] == true)
            .then(|| dc["deploymentCircuitBreaker"]["rollback"] == true),
    }))
}

/// The alarms a deployment watches (when `alarms.enable`).
fn alarm_names(dc: &Value) -> Vec<String> {
    if dc["alarms"]["enable"] != true {
        return Vec::new();
    }
    dc["alarms"]["alarmNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

fn minutes(member: &str, value: f64, max: f64) -> Result<(), ApiError> {
    if !(0.0..=max).contains(&value) || value.fract() != 0.0 {
        return Err(errors::invalid(format!(
            "{member} must be a whole number of minutes from 0 to {max}."
        )));
    }
    Ok(())
}

/// Whether `value` is a multiple of 0.1 (as the model requires of the percentages).
fn tenths(value: f64) -> bool {
    ((value * 10.0) - (value * 10.0).round()).abs() < 1e-6
}

/// The production traffic steps of each strategy (model: LinearConfiguration, CanaryConfiguration).
pub fn shift_steps(strategy: Strategy, dc: &Value) -> Result<Vec<ShiftStep>, ApiError> {
    match strategy {
        Strategy::Rolling => Ok(Vec::new()),
        Strategy::BlueGreen => Ok(vec![ShiftStep {
            percent: 100.0,
            hold_minutes: 0.0,
        }]),
        Strategy::Linear => {
            let c = &dc["linearConfiguration"];
            let step = c["stepPercent"].as_f64().unwrap_or(10.0);
            let bake = c["stepBakeTimeInMinutes"].as_f64().unwrap_or(6.0);
            if !(3.0..=100.0).contains(&step) || !tenths(step) {
                return Err(errors::invalid(
                    "linearConfiguration.stepPercent must be a multiple of 0.1 from 3.0 to 100.0.",
                ));
            }
            minutes("linearConfiguration.stepBakeTimeInMinutes", bake, 1440.0)?;
            let mut steps = Vec::new();
            let mut done = 0.0;
            while done < 100.0 - 1e-9 {
                done = ((done + step) * 10.0).round() / 10.0;
                let percent = done.min(100.0);
                // "This bake time is not applied after reaching 100 percent traffic."
                let hold = if percent < 100.0 { bake } else { 0.0 };
                steps.push(ShiftStep {
                    percent,
                    hold_minutes: hold,
                });
            }
            Ok(steps)
        }
        Strategy::Canary => {
            let c = &dc["canaryConfiguration"];
            let percent = c["canaryPercent"].as_f64().unwrap_or(5.0);
            let bake = c["canaryBakeTimeInMinutes"].as_f64().unwrap_or(10.0);
            if !(0.1..=100.0).contains(&percent) || !tenths(percent) {
                return Err(errors::invalid(
                    "canaryConfiguration.canaryPercent must be a multiple of 0.1 from 0.1 to 100.0.",
                ));
            }
            minutes("canaryConfiguration.canaryBakeTimeInMinutes", bake, 1440.0)?;
            let mut steps = vec![ShiftStep {
                percent,
                hold_minutes: bake,
            }];
            if percent < 100.0 {
                steps.push(ShiftStep {
                    percent: 100.0,
                    hold_minutes: 0.0,
                });
            } else {
                steps[0].hold_minutes = 0.0;
            }
            Ok(steps)
        }
    }
}

fn hooks(list: &Value, iam: &IamState) -> Result<Vec<Hook>, ApiError> {
    let mut out = Vec::new();
    for h in list.as_array().into_iter().flatten() {
        let pause = h["targetType"].as_str() == Some("PAUSE");
        let stages: Vec<String> = h["lifecycleStages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        if stages.is_empty() {
            return Err(errors::invalid(
                "A lifecycle hook must name at least one lifecycle stage.",
            ));
        }
        let target = if pause {
            // Model (DeploymentLifecycleHook.lifecycleStages): PAUSE is not supported at the two
            // traffic-shift stages.
            if let Some(s) = stages
                .iter()
                .find(|s| *s == "TEST_TRAFFIC_SHIFT" || *s == "PRODUCTION_TRAFFIC_SHIFT")
            {
                return Err(errors::invalid(format!(
                    "PAUSE lifecycle hooks are not supported at the {s} lifecycle stage."
                )));
            }
            HookTarget::Pause
        } else {
            let Some(arn) = h["hookTargetArn"].as_str() else {
                return Err(errors::invalid(
                    "hookTargetArn must be provided for an AWS_LAMBDA lifecycle hook.",
                ));
            };
            if !arn.starts_with("arn:") || !arn.contains(":lambda:") {
                return Err(errors::invalid(format!(
                    "hookTargetArn {arn} is not a Lambda function ARN."
                )));
            }
            let Some(role) = h["roleArn"].as_str() else {
                return Err(errors::invalid(
                    "roleArn must be provided for an AWS_LAMBDA lifecycle hook: Amazon ECS invokes the function with it.",
                ));
            };
            assume(iam, role, "lifecycle hook roleArn")?;
            HookTarget::Lambda(arn.to_string())
        };
        let timeout = &h["timeoutConfiguration"];
        let timeout_minutes = timeout["timeoutInMinutes"].as_f64().unwrap_or(1440.0);
        let action = match timeout["action"].as_str() {
            Some("CONTINUE") => TimeoutAction::Continue,
            _ => TimeoutAction::Rollback,
        };
        out.push(Hook {
            target,
            stages,
            details: h.get("hookDetails").cloned().unwrap_or(Value::Null),
            timeout_minutes,
            timeout_action: action,
        });
    }
    Ok(out)
}

/// ECS assuming a role the service names (infrastructure role, hook role): it must be a role of the
/// account that trusts `ecs.amazonaws.com`.
fn assume(iam: &IamState, role_arn: &str, what: &str) -> Result<(), ApiError> {
    let why = match sts::assume_role(iam, role_arn, ECS_PRINCIPAL) {
        Ok(_) => return Ok(()),
        Err(Refusal::Malformed) => format!("{role_arn} is not a valid IAM role ARN"),
        Err(Refusal::OtherAccount { account }) => {
            format!("the role is in account {account}, not the service's")
        }
        Err(Refusal::NoSuchRole { name }) => format!("no role named {name} exists"),
        Err(Refusal::NotTrusted { name }) => format!(
            "the trust policy of role {name} does not allow {ECS_PRINCIPAL} to sts:AssumeRole"
        ),
    };
    Err(errors::invalid(format!(
        "Unable to assume the {what} {role_arn}: {why}."
    )))
}

fn traffic(
    load_balancers: &[LoadBalancer],
    elbv2: &Elbv2State,
    iam: &IamState,
) -> Result<Option<Traffic>, ApiError> {
    let Some(lb) = load_balancers.first() else {
        return Ok(None);
    };
    if load_balancers.len() > 1 {
        return Err(errors::invalid(
            "The kirikae sandbox runs blue/green deployments of services with one load balancer target group.",
        ));
    }
    let Some(adv) = lb.advanced_configuration.as_ref().filter(|v| !v.is_null()) else {
        return Err(errors::invalid(
            "advancedConfiguration must be specified for a load balancer of a service that uses the blue/green, linear or canary deployment strategy.",
        ));
    };
    let target_group = lb.target_group_arn.clone().unwrap_or_default();
    let field = |k: &str| adv[k].as_str().map(str::to_string);
    let Some(alternate) = field("alternateTargetGroupArn") else {
        return Err(errors::invalid(
            "advancedConfiguration.alternateTargetGroupArn must be specified.",
        ));
    };
    if alternate == target_group {
        return Err(errors::invalid(
            "advancedConfiguration.alternateTargetGroupArn must be different from targetGroupArn.",
        ));
    }
    let Some(alt) = elbv2.target_group(&alternate) else {
        return Err(errors::invalid(format!(
            "Unable to validate the specified alternateTargetGroupArn: target group {alternate} does not exist."
        )));
    };
    if let Some(primary) = elbv2.target_group(&target_group)
        && primary.target_type != alt.target_type
    {
        return Err(errors::invalid(format!(
            "The alternate target group {alternate} has target type {}, but the target group {target_group} has target type {}.",
            alt.target_type, primary.target_type
        )));
    }
    let Some(production_rule) = field("productionListenerRule") else {
        return Err(errors::invalid(
            "advancedConfiguration.productionListenerRule must be specified.",
        ));
    };
    let test_rule = field("testListenerRule");
    for rule in std::iter::once(&production_rule).chain(test_rule.as_ref()) {
        if !super::traffic::rule_exists(elbv2, rule) {
            return Err(errors::invalid(format!(
                "Unable to validate the listener rule {rule}: it does not exist."
            )));
        }
    }
    let Some(role_arn) = field("roleArn") else {
        return Err(errors::invalid(
            "advancedConfiguration.roleArn must be specified: Amazon ECS manages the load balancer with it.",
        ));
    };
    assume(iam, &role_arn, "advancedConfiguration roleArn")?;
    Ok(Some(Traffic {
        target_group,
        alternate_target_group: alternate,
        production_rule,
        test_rule,
        role_arn,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn percents(strategy: Strategy, dc: Value) -> Vec<(f64, f64)> {
        shift_steps(strategy, &dc)
            .unwrap()
            .iter()
            .map(|s| (s.percent, s.hold_minutes))
            .collect()
    }

    #[test]
    fn linear_steps_end_at_100_without_a_last_bake() {
        let dc = json!({"linearConfiguration": {"stepPercent": 30.0, "stepBakeTimeInMinutes": 2}});
        assert_eq!(
            percents(Strategy::Linear, dc),
            vec![(30.0, 2.0), (60.0, 2.0), (90.0, 2.0), (100.0, 0.0)]
        );
        assert_eq!(percents(Strategy::Linear, json!({})).len(), 10);
    }

    #[test]
    fn canary_is_one_step_then_all() {
        let dc =
            json!({"canaryConfiguration": {"canaryPercent": 12.5, "canaryBakeTimeInMinutes": 3}});
        assert_eq!(
            percents(Strategy::Canary, dc),
            vec![(12.5, 3.0), (100.0, 0.0)]
        );
        assert_eq!(
            percents(Strategy::Canary, json!({})),
            vec![(5.0, 10.0), (100.0, 0.0)]
        );
    }

    #[test]
    fn percentages_outside_the_model_are_refused() {
        for dc in [
            json!({"linearConfiguration": {"stepPercent": 2.0}}),
            json!({"linearConfiguration": {"stepPercent": 10.05}}),
            json!({"linearConfiguration": {"stepBakeTimeInMinutes": 1441}}),
        ] {
            assert!(shift_steps(Strategy::Linear, &dc).is_err(), "{dc}");
        }
        assert!(
            shift_steps(
                Strategy::Canary,
                &json!({"canaryConfiguration": {"canaryPercent": 0.0}})
            )
            .is_err()
        );
    }
}
