//! The `ecs:` block of `kirikae.yml`: a service whose Blue/Green deployments ECS runs itself (deployment
//! controller `ECS`, strategy `BLUE_GREEN` / `LINEAR` / `CANARY`), beside the `codedeploy:` block of a
//! CODE_DEPLOY service. A config has exactly one of them: the controller is never guessed.
//!
//! ```yaml
//! ecs:
//!   strategy: BLUE_GREEN                  # or LINEAR / CANARY
//!   bake_time_minutes: 2                  # blue runs beside green this long after the switch
//!   linear: {step_percent: 10, step_bake_time_minutes: 6}      # LINEAR only
//!   canary: {canary_percent: 5, canary_bake_time_minutes: 10}  # CANARY only
//!   target_groups: [web-blue, web-green]  # names or ARNs: the service's group, then the alternate
//!   production_listener: {load_balancer: demo, port: 80}       # its default rule; or a listener / rule ARN
//!   test_listener: {load_balancer: demo, port: 8080}           # optional
//!   infrastructure_role: arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers
//!   hooks:
//!     - {stages: [POST_TEST_TRAFFIC_SHIFT], function: arn:aws:lambda:…:function:smoke, role: arn:…}
//!     - {stages: [PRE_PRODUCTION_TRAFFIC_SHIFT], pause: true, timeout_minutes: 60}
//!   alarms: {names: [web-5xx], rollback: true}
//! ```
//!
//! Each key maps to one member of AWS's `deploymentConfiguration` / `loadBalancers[].advancedConfiguration`
//! (see [`crate::native`]); the bounds checked here are the ECS model's.

use serde::{Deserialize, Serialize};

use crate::config::ListenerRef;

/// The production traffic strategy (model: `DeploymentStrategy`; ROLLING is not a Blue/Green one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Strategy {
    #[default]
    BlueGreen,
    Linear,
    Canary,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Linear => "LINEAR",
            Strategy::Canary => "CANARY",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EcsSection {
    #[serde(default)]
    pub strategy: Strategy,
    /// `bakeTimeInMinutes` (AWS requires it for BLUE_GREEN; kirikae always sends it).
    #[serde(default = "default_bake")]
    pub bake_time_minutes: u32,
    pub linear: Option<Linear>,
    pub canary: Option<Canary>,
    /// The service's target group, then the alternate one (names or ARNs).
    pub target_groups: Vec<String>,
    pub production_listener: ListenerRef,
    pub test_listener: Option<ListenerRef>,
    /// `advancedConfiguration.roleArn`: the role ECS manages the load balancer with.
    pub infrastructure_role: String,
    #[serde(default)]
    pub hooks: Vec<Hook>,
    pub alarms: Option<EcsAlarms>,
}

/// The seed script's termination wait: blue is kept for two minutes after the switch, a fast way back.
fn default_bake() -> u32 {
    2
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    /// Model: multiples of 0.1 from 3.0 to 100.0; default 10.
    #[serde(default = "ten")]
    pub step_percent: f64,
    /// Model: 0 to 1440; default 6.
    #[serde(default = "six")]
    pub step_bake_time_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// Model: multiples of 0.1 from 0.1 to 100.0; default 5.
    #[serde(default = "five")]
    pub canary_percent: f64,
    /// Model: 0 to 1440; default 10.
    #[serde(default = "ten_minutes")]
    pub canary_bake_time_minutes: u32,
}

fn ten() -> f64 {
    10.0
}
fn six() -> u32 {
    6
}
fn five() -> f64 {
    5.0
}
fn ten_minutes() -> u32 {
    10
}

/// A lifecycle hook: a Lambda function ECS invokes at its stages, or (`pause: true`) a pause until
/// someone continues the deployment (`kirikae promote`) or rolls it back.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// `DeploymentLifecycleHookStage` names.
    pub stages: Vec<String>,
    /// The Lambda function's ARN (not for a pause).
    pub function: Option<String>,
    /// The role ECS invokes the function with (not for a pause).
    pub role: Option<String>,
    #[serde(default)]
    pub pause: bool,
    /// Model: 1 to 20160 (14 days); AWS's default 1440.
    pub timeout_minutes: Option<u32>,
    /// What ECS does when the hook times out: ROLLBACK (AWS's default) or CONTINUE.
    pub timeout_action: Option<HookAction>,
    /// `hookDetails`: passed to the function on each invocation (not for a pause).
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookAction {
    Rollback,
    Continue,
}

impl HookAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HookAction::Rollback => "ROLLBACK",
            HookAction::Continue => "CONTINUE",
        }
    }
}

/// `deploymentConfiguration.alarms`: CloudWatch alarms that fail the deployment (and roll it back).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EcsAlarms {
    pub names: Vec<String>,
    #[serde(default = "yes")]
    pub rollback: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The stages a hook may run at (model: `DeploymentLifecycleHookStage`).
pub const HOOK_STAGES: &[&str] = &[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// The stages a service deployment goes through, in order. `PRE_PRODUCTION_TRAFFIC_SHIFT` is missing from
/// the model's `ServiceDeploymentLifecycleStage` enum although its documentation lists it; it is kept
/// here in its place so `--wait-until` can name it.
pub const DEPLOYMENT_STAGES: &[&str] = &[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// The position of a stage in [`DEPLOYMENT_STAGES`] (`None` for a stage AWS added later).
pub fn stage_order(stage: &str) -> Option<usize> {
    DEPLOYMENT_STAGES.iter().position(|s| *s == stage)
}

/// The keys of the `ecs:` block, for "did you mean" hints.
pub const KEYS: &[&str] = &[
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

/// A problem with one field of the block: `(field, message, hint)`.
pub type Problem = (String, String, Option<String>);

/// The model's bounds and the rules between fields, checked without AWS.
pub fn check(ecs: &EcsSection) -> Result<(), Problem> {
    let p = |f: &str, m: String, h: Option<&str>| Err((f.to_string(), m, h.map(str::to_string)));
    if ecs.bake_time_minutes > 1440 {
        return p(
            "ecs.bake_time_minutes",
            format!("is {}; ECS allows 0 to 1440 minutes", ecs.bake_time_minutes),
            None,
        );
    }
    match (ecs.strategy, &ecs.linear, &ecs.canary) {
        (Strategy::Linear, _, Some(_)) | (Strategy::BlueGreen, _, Some(_)) => {
            return p(
                "ecs.canary",
                format!(
                    "is only valid with strategy CANARY (this block says {})",
                    ecs.strategy.as_str()
                ),
                Some("remove it, or set `strategy: CANARY`"),
            );
        }
        (Strategy::Canary, Some(_), _) | (Strategy::BlueGreen, Some(_), _) => {
            return p(
                "ecs.linear",
                format!(
                    "is only valid with strategy LINEAR (this block says {})",
                    ecs.strategy.as_str()
                ),
                Some("remove it, or set `strategy: LINEAR`"),
            );
        }
        _ => {}
    }
    if let Some(l) = &ecs.linear {
        if !(3.0..=100.0).contains(&l.step_percent) || !tenths(l.step_percent) {
            return p(
                "ecs.linear.step_percent",
                format!(
                    "is {}; ECS allows multiples of 0.1 from 3.0 to 100.0",
                    l.step_percent
                ),
                None,
            );
        }
        if l.step_bake_time_minutes > 1440 {
            return p(
                "ecs.linear.step_bake_time_minutes",
                format!(
                    "is {}; ECS allows 0 to 1440 minutes",
                    l.step_bake_time_minutes
                ),
                None,
            );
        }
    }
    if let Some(c) = &ecs.canary {
        if !(0.1..=100.0).contains(&c.canary_percent) || !tenths(c.canary_percent) {
            return p(
                "ecs.canary.canary_percent",
                format!(
                    "is {}; ECS allows multiples of 0.1 from 0.1 to 100.0",
                    c.canary_percent
                ),
                None,
            );
        }
        if c.canary_bake_time_minutes > 1440 {
            return p(
                "ecs.canary.canary_bake_time_minutes",
                format!(
                    "is {}; ECS allows 0 to 1440 minutes",
                    c.canary_bake_time_minutes
                ),
                None,
            );
        }
    }
    if ecs.target_groups.len() != 2 {
        return p(
            "ecs.target_groups",
            format!(
                "names {} target group(s); a Blue/Green service needs exactly two: its own, then the alternate one",
                ecs.target_groups.len()
            ),
            None,
        );
    }
    if ecs.target_groups[0] == ecs.target_groups[1] {
        return p(
            "ecs.target_groups",
            "names the same target group twice; the alternate group must be another one".into(),
            None,
        );
    }
    if !is_role_arn(&ecs.infrastructure_role) {
        return p(
            "ecs.infrastructure_role",
            format!("`{}` is not an IAM role ARN", ecs.infrastructure_role),
            Some(
                "the ARN of a role ECS may assume, with the managed policy AmazonECSInfrastructureRolePolicyForLoadBalancers",
            ),
        );
    }
    for (i, h) in ecs.hooks.iter().enumerate() {
        check_hook(i, h)?;
    }
    if let Some(a) = &ecs.alarms
        && a.enabled
        && a.names.is_empty()
    {
        return p(
            "ecs.alarms.names",
            "is empty; name at least one CloudWatch alarm, or remove `alarms`".into(),
            None,
        );
    }
    Ok(())
}

fn check_hook(i: usize, h: &Hook) -> Result<(), Problem> {
    let f = |k: &str| format!("ecs.hooks[{i}].{k}");
    let p = |k: &str, m: String, hint: Option<&str>| Err((f(k), m, hint.map(str::to_string)));
    if h.stages.is_empty() {
        return p("stages", "is empty; name at least one stage".into(), None);
    }
    for s in &h.stages {
        if !HOOK_STAGES.contains(&s.as_str()) {
            let hint = crate::suggest::closest(s, HOOK_STAGES.iter().copied())
                .map(|b| format!("did you mean `{b}`?"))
                .unwrap_or_else(|| format!("one of {}", HOOK_STAGES.join(", ")));
            return p(
                "stages",
                format!("`{s}` is not a stage a hook can run at"),
                Some(&hint),
            );
        }
        // Model (DeploymentLifecycleHook.lifecycleStages): no PAUSE at the two traffic-shift stages.
        if h.pause && (s == "TEST_TRAFFIC_SHIFT" || s == "PRODUCTION_TRAFFIC_SHIFT") {
            return p(
                "stages",
                format!("ECS does not pause at {s}"),
                Some(
                    "pause at POST_TEST_TRAFFIC_SHIFT or PRE_PRODUCTION_TRAFFIC_SHIFT: between test and production traffic",
                ),
            );
        }
    }
    if h.pause {
        for (k, set) in [
            ("function", h.function.is_some()),
            ("role", h.role.is_some()),
            ("details", h.details.is_some()),
        ] {
            if set {
                return p(
                    k,
                    "is for a Lambda hook; a pause waits for kirikae promote (or a rollback)"
                        .into(),
                    None,
                );
            }
        }
    } else {
        match &h.function {
            Some(a) if a.starts_with("arn:") && a.contains(":lambda:") => {}
            Some(a) => {
                return p(
                    "function",
                    format!("`{a}` is not a Lambda function ARN"),
                    Some(
                        "ECS takes the function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                    ),
                );
            }
            None => {
                return p(
                    "function",
                    "is missing: a hook is a Lambda function (its ARN), or `pause: true`".into(),
                    None,
                );
            }
        }
        match &h.role {
            Some(r) if is_role_arn(r) => {}
            Some(r) => return p("role", format!("`{r}` is not an IAM role ARN"), None),
            None => {
                return p(
                    "role",
                    "is missing: ECS invokes the function with this role".into(),
                    None,
                );
            }
        }
    }
    if let Some(t) = h.timeout_minutes
        && !(1..=20160).contains(&t)
    {
        return p(
            "timeout_minutes",
            format!("is {t}; ECS allows 1 to 20160 minutes (14 days)"),
            None,
        );
    }
    Ok(())
}

fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len()
}

/// Whether `value` is a multiple of 0.1 (as the model requires of the percentages).
fn tenths(value: f64) -> bool {
    ((value * 10.0) - (value * 10.0).round()).abs() < 1e-6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(yaml: &str) -> EcsSection {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    const BASE: &str = "target_groups: [a, b]\nproduction_listener: arn:l\ninfrastructure_role: arn:aws:iam::1:role/infra\n";

    #[test]
    fn defaults_are_blue_green_with_a_two_minute_bake() {
        let s = section(BASE);
        assert_eq!(s.strategy, Strategy::BlueGreen);
        assert_eq!(s.bake_time_minutes, 2);
        assert_eq!(check(&s), Ok(()));
    }

    #[test]
    fn strategy_settings_must_match_the_strategy() {
        let s = section(&format!("{BASE}linear: {{step_percent: 20}}\n"));
        assert_eq!(check(&s).unwrap_err().0, "ecs.linear");
        let s = section(&format!(
            "{BASE}strategy: LINEAR\nlinear: {{step_percent: 2.5}}\n"
        ));
        assert_eq!(check(&s).unwrap_err().0, "ecs.linear.step_percent");
        let s = section(&format!(
            "{BASE}strategy: CANARY\ncanary: {{canary_percent: 0.25}}\n"
        ));
        assert_eq!(check(&s).unwrap_err().0, "ecs.canary.canary_percent");
    }

    #[test]
    fn hooks_follow_the_model() {
        let s = section(&format!(
            "{BASE}hooks: [{{stages: [PRODUCTION_TRAFFIC_SHIFT], pause: true}}]\n"
        ));
        assert_eq!(check(&s).unwrap_err().0, "ecs.hooks[0].stages");
        let s = section(&format!(
            "{BASE}hooks: [{{stages: [POST_TEST_TRAFIC_SHIFT], pause: true}}]\n"
        ));
        let (_, _, hint) = check(&s).unwrap_err();
        assert_eq!(
            hint.as_deref(),
            Some("did you mean `POST_TEST_TRAFFIC_SHIFT`?")
        );
        let s = section(&format!(
            "{BASE}hooks: [{{stages: [POST_SCALE_UP], function: smoke}}]\n"
        ));
        assert_eq!(check(&s).unwrap_err().0, "ecs.hooks[0].function");
    }

    #[test]
    fn stages_are_ordered_including_the_one_the_enum_lacks() {
        assert!(stage_order("PRE_PRODUCTION_TRAFFIC_SHIFT") < stage_order("BAKE_TIME"));
        assert_eq!(stage_order("NEW_STAGE"), None);
    }
}
