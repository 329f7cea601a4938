//! Deployment configurations: AWS's predefined ones (`CodeDeployDefault.*`), custom ones from
//! `CreateDeploymentConfig`, and the production traffic-shift schedule an ECS config implies.

use serde_json::{Value, json};

use super::types::{TimeBasedCanary, TimeBasedLinear, TrafficRoutingConfig};
use super::{err, ids, member, opt_str};
use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Clone, Debug)]
pub struct DeploymentConfig {
    pub id: String,
    pub name: String,
    pub compute_platform: String,
    pub routing: Option<TrafficRoutingConfig>,
    pub minimum_healthy_hosts: Option<Value>,
    pub zonal_config: Option<Value>,
    pub create_time: f64,
}

/// The ECS configuration used when neither the group nor the deployment names one (the console's
/// default; the API default for ECS groups is not documented).
pub const DEFAULT_ECS: &str = "CodeDeployDefault.ECSAllAtOnce";

/// The predefined configurations. ECS and Lambda ones follow from their names; the Server ones'
/// `minimumHealthyHosts` values are the documented meanings, their exact encoding is not published.
fn predefined() -> Vec<DeploymentConfig> {
    let mut all = Vec::new();
    let mut add = |name: &str,
                   platform: &str,
                   routing: Option<TrafficRoutingConfig>,
                   hosts: Option<Value>| {
        all.push(DeploymentConfig {
            // Stable per name, like AWS's fixed ids for its defaults.
            id: stable_uuid(name),
            name: format!("CodeDeployDefault.{name}"),
            compute_platform: platform.into(),
            routing,
            minimum_healthy_hosts: hosts,
            zonal_config: None,
            // The predefined configs predate every sandbox; 2014-11-12, CodeDeploy's launch.
            create_time: 1_415_750_400.0,
        });
    };
    add(
        "OneAtATime",
        "Server",
        None,
        Some(json!({"type": "HOST_COUNT", "value": 1})),
    );
    add(
        "HalfAtATime",
        "Server",
        None,
        Some(json!({"type": "FLEET_PERCENT", "value": 50})),
    );
    add(
        "AllAtOnce",
        "Server",
        None,
        Some(json!({"type": "HOST_COUNT", "value": 0})),
    );
    add("LambdaAllAtOnce", "Lambda", Some(all_at_once()), None);
    for m in [5, 10, 15, 30] {
        add(
            &format!("LambdaCanary10Percent{m}Minutes"),
            "Lambda",
            Some(canary(10, m)),
            None,
        );
    }
    for (m, unit) in [
        (1, "Minute"),
        (2, "Minutes"),
        (3, "Minutes"),
        (10, "Minutes"),
    ] {
        add(
            &format!("LambdaLinear10PercentEvery{m}{unit}"),
            "Lambda",
            Some(linear(10, m)),
            None,
        );
    }
    add("ECSAllAtOnce", "ECS", Some(all_at_once()), None);
    add(
        "ECSLinear10PercentEvery1Minutes",
        "ECS",
        Some(linear(10, 1)),
        None,
    );
    add(
        "ECSLinear10PercentEvery3Minutes",
        "ECS",
        Some(linear(10, 3)),
        None,
    );
    add(
        "ECSCanary10Percent5Minutes",
        "ECS",
        Some(canary(10, 5)),
        None,
    );
    add(
        "ECSCanary10Percent15Minutes",
        "ECS",
        Some(canary(10, 15)),
        None,
    );
    all
}

fn all_at_once() -> TrafficRoutingConfig {
    TrafficRoutingConfig {
        kind: Some("AllAtOnce".into()),
        ..Default::default()
    }
}

fn canary(percentage: i64, interval: i64) -> TrafficRoutingConfig {
    TrafficRoutingConfig {
        kind: Some("TimeBasedCanary".into()),
        time_based_canary: Some(TimeBasedCanary {
            canary_percentage: Some(percentage),
            canary_interval: Some(interval),
        }),
        ..Default::default()
    }
}

fn linear(percentage: i64, interval: i64) -> TrafficRoutingConfig {
    TrafficRoutingConfig {
        kind: Some("TimeBasedLinear".into()),
        time_based_linear: Some(TimeBasedLinear {
            linear_percentage: Some(percentage),
            linear_interval: Some(interval),
        }),
        ..Default::default()
    }
}

fn stable_uuid(name: &str) -> String {
    // FNV-1a over the name, twice with different seeds, laid out as a UUID.
    let h = |seed: u64| {
        name.bytes()
            .fold(seed, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    };
    let (a, b) = (h(0xcbf29ce484222325), h(0x84222325cbf29ce4));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// A configuration by name, predefined or custom.
pub fn find(cx: &Ctx, name: &str) -> Option<DeploymentConfig> {
    predefined()
        .into_iter()
        .find(|c| c.name == name)
        .or_else(|| cx.region.codedeploy.configs.get(name).cloned())
}

pub fn not_found(name: &str) -> ApiError {
    err(
        "DeploymentConfigDoesNotExistException",
        format!("No deployment configuration found for name: {name}"),
    )
}

/// The configuration an ECS group or deployment may use, or AWS's exception.
pub fn ecs_config(cx: &Ctx, name: &str) -> Result<DeploymentConfig, ApiError> {
    let config = find(cx, name).ok_or_else(|| not_found(name))?;
    if config.compute_platform != "ECS" {
        return Err(err(
            "InvalidDeploymentConfigNameException",
            format!(
                "Deployment configuration {name} has compute platform {}, but the deployment group's compute platform is ECS",
                config.compute_platform
            ),
        ));
    }
    Ok(config)
}

impl DeploymentConfig {
    fn info(&self) -> Value {
        let mut v = json!({
            "deploymentConfigId": self.id,
            "deploymentConfigName": self.name,
            "createTime": self.create_time,
            "computePlatform": self.compute_platform,
        });
        if let Some(r) = &self.routing {
            v["trafficRoutingConfig"] = serde_json::to_value(r).expect("serializable");
        }
        if let Some(h) = &self.minimum_healthy_hosts {
            v["minimumHealthyHosts"] = h.clone();
        }
        if let Some(z) = &self.zonal_config {
            v["zonalConfig"] = z.clone();
        }
        v
    }
}

fn config_name(input: &Value) -> Result<&str, ApiError> {
    opt_str(input, "deploymentConfigName").ok_or_else(|| {
        err(
            "DeploymentConfigNameRequiredException",
            "The deployment configuration name was not specified.",
        )
    })
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = config_name(input)?;
    let platform = opt_str(input, "computePlatform").unwrap_or("Server");
    if name.starts_with("CodeDeployDefault.") {
        // AWS reserves the prefix for its own configurations.
        return Err(if find(cx, name).is_some() {
            err(
                "DeploymentConfigAlreadyExistsException",
                "A deployment configuration with the specified name with the IAM user or AWS account already exists.",
            )
        } else {
            err(
                "InvalidDeploymentConfigNameException",
                format!(
                    "The deployment configuration name {name} is invalid: the CodeDeployDefault. prefix is reserved"
                ),
            )
        });
    }
    if find(cx, name).is_some() {
        return Err(err(
            "DeploymentConfigAlreadyExistsException",
            "A deployment configuration with the specified name with the IAM user or AWS account already exists.",
        ));
    }
    let routing: Option<TrafficRoutingConfig> = member(input, "trafficRoutingConfig")?;
    let hosts = input
        .get("minimumHealthyHosts")
        .filter(|v| !v.is_null())
        .cloned();
    let zonal = input.get("zonalConfig").filter(|v| !v.is_null()).cloned();
    let routing = match platform {
        "ECS" => {
            if hosts.is_some() {
                return Err(err(
                    "InvalidMinimumHealthyHostValueException",
                    "minimumHealthyHosts is not supported for the ECS compute platform",
                ));
            }
            if zonal.is_some() {
                return Err(err(
                    "InvalidZonalDeploymentConfigurationException",
                    "zonalConfig is only supported for the Server compute platform",
                ));
            }
            let routing = routing.unwrap_or_else(all_at_once);
            schedule_checked(&routing)?;
            Some(routing)
        }
        "Lambda" => {
            let routing = routing.unwrap_or_else(all_at_once);
            schedule_checked(&routing)?;
            Some(routing)
        }
        _ => {
            if routing.is_some() {
                return Err(err(
                    "InvalidTrafficRoutingConfigurationException",
                    "trafficRoutingConfig is not supported for the Server compute platform",
                ));
            }
            if hosts.is_none() {
                return Err(err(
                    "InvalidMinimumHealthyHostValueException",
                    "The minimum healthy instance value was not specified.",
                ));
            }
            None
        }
    };
    let config = DeploymentConfig {
        id: ids::uuid(),
        name: name.to_string(),
        compute_platform: platform.to_string(),
        routing,
        minimum_healthy_hosts: hosts,
        zonal_config: zonal,
        create_time: cx.now,
    };
    let id = config.id.clone();
    cx.region
        .codedeploy
        .configs
        .insert(name.to_string(), config);
    Ok(json!({ "deploymentConfigId": id }))
}

pub fn get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = config_name(input)?;
    let config = find(cx, name).ok_or_else(|| not_found(name))?;
    Ok(json!({ "deploymentConfigInfo": config.info() }))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let names: Vec<String> = predefined()
        .into_iter()
        .map(|c| c.name)
        .chain(cx.region.codedeploy.configs.keys().cloned())
        .collect();
    let (page, next) = ids::page(&names, ids::next_token(input))?;
    let mut out = json!({ "deploymentConfigsList": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub fn delete(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = config_name(input)?;
    if predefined().iter().any(|c| c.name == name) {
        return Err(err(
            "InvalidOperationException",
            "The default deployment configurations cannot be deleted.",
        ));
    }
    let state = &mut cx.region.codedeploy;
    if state
        .groups
        .iter()
        .any(|g| g.deployment_config_name == name)
    {
        return Err(err(
            "DeploymentConfigInUseException",
            "The deployment configuration is still in use.",
        ));
    }
    state.configs.remove(name);
    Ok(json!({}))
}

// ---- The traffic-shift schedule. -------------------------------------------------------------------

/// One production-listener change during `AllowTraffic`: the replacement's weight (percent), then how
/// long (AWS minutes) to hold it before the next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShiftStep {
    pub replacement_percent: u32,
    pub hold_minutes: u32,
}

fn invalid_routing(message: impl Into<String>) -> ApiError {
    err("InvalidTrafficRoutingConfigurationException", message)
}

/// The steps of a traffic-routing config, or AWS's exception when it is not a valid one.
/// AllAtOnce: 100 at once. Canary(p, n): p, hold n minutes, 100. Linear(p, n): p, 2p, … every n
/// minutes, the last step capped at 100 with no hold after it.
pub fn schedule_checked(routing: &TrafficRoutingConfig) -> Result<Vec<ShiftStep>, ApiError> {
    let minutes = |v: Option<i64>, what: &str| match v {
        Some(m) if (1..=2880).contains(&m) => Ok(m as u32),
        _ => Err(invalid_routing(format!(
            "{what} must be between 1 and 2880 minutes"
        ))),
    };
    match routing.kind.as_deref().unwrap_or("AllAtOnce") {
        "AllAtOnce" => Ok(vec![ShiftStep {
            replacement_percent: 100,
            hold_minutes: 0,
        }]),
        "TimeBasedCanary" => {
            let c = routing.time_based_canary.as_ref().ok_or_else(|| {
                invalid_routing(
                    "timeBasedCanary must be specified for a TimeBasedCanary configuration",
                )
            })?;
            let p = match c.canary_percentage {
                Some(p) if (1..=99).contains(&p) => p as u32,
                _ => return Err(invalid_routing("canaryPercentage must be between 1 and 99")),
            };
            let n = minutes(c.canary_interval, "canaryInterval")?;
            Ok(vec![
                ShiftStep {
                    replacement_percent: p,
                    hold_minutes: n,
                },
                ShiftStep {
                    replacement_percent: 100,
                    hold_minutes: 0,
                },
            ])
        }
        "TimeBasedLinear" => {
            let l = routing.time_based_linear.as_ref().ok_or_else(|| {
                invalid_routing(
                    "timeBasedLinear must be specified for a TimeBasedLinear configuration",
                )
            })?;
            let p = match l.linear_percentage {
                Some(p) if (1..=100).contains(&p) => p as u32,
                _ => {
                    return Err(invalid_routing(
                        "linearPercentage must be between 1 and 100",
                    ));
                }
            };
            let n = minutes(l.linear_interval, "linearInterval")?;
            let mut steps = Vec::new();
            let mut w = 0;
            while w < 100 {
                w = (w + p).min(100);
                steps.push(ShiftStep {
                    replacement_percent: w,
                    hold_minutes: if w < 100 { n } else { 0 },
                });
            }
            Ok(steps)
        }
        other => Err(invalid_routing(format!(
            "Unknown traffic routing type {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(r: TrafficRoutingConfig) -> Vec<(u32, u32)> {
        schedule_checked(&r)
            .unwrap()
            .iter()
            .map(|s| (s.replacement_percent, s.hold_minutes))
            .collect()
    }

    #[test]
    fn all_at_once_is_one_step() {
        assert_eq!(steps(all_at_once()), vec![(100, 0)]);
    }

    #[test]
    fn canary_holds_then_finishes() {
        assert_eq!(steps(canary(10, 5)), vec![(10, 5), (100, 0)]);
    }

    #[test]
    fn linear_steps_up_and_caps_at_100() {
        assert_eq!(
            steps(linear(10, 1)),
            vec![
                (10, 1),
                (20, 1),
                (30, 1),
                (40, 1),
                (50, 1),
                (60, 1),
                (70, 1),
                (80, 1),
                (90, 1),
                (100, 0)
            ]
        );
        assert_eq!(
            steps(linear(30, 3)),
            vec![(30, 3), (60, 3), (90, 3), (100, 0)]
        );
    }

    #[test]
    fn invalid_configs_are_rejected() {
        assert!(schedule_checked(&canary(0, 5)).is_err());
        assert!(schedule_checked(&canary(100, 5)).is_err());
        assert!(schedule_checked(&linear(10, 0)).is_err());
        let no_body = TrafficRoutingConfig {
            kind: Some("TimeBasedCanary".into()),
            ..Default::default()
        };
        assert_eq!(
            schedule_checked(&no_body).unwrap_err().code,
            "InvalidTrafficRoutingConfigurationException"
        );
    }

    #[test]
    fn predefined_ecs_configs_exist_with_their_schedules() {
        let all = predefined();
        let get = |n: &str| {
            all.iter()
                .find(|c| c.name == n)
                .unwrap()
                .routing
                .clone()
                .unwrap()
        };
        assert_eq!(
            steps(get("CodeDeployDefault.ECSCanary10Percent15Minutes")),
            vec![(10, 15), (100, 0)]
        );
        assert_eq!(
            steps(get("CodeDeployDefault.ECSLinear10PercentEvery3Minutes"))[0],
            (10, 3)
        );
        assert_eq!(steps(get("CodeDeployDefault.ECSAllAtOnce")), vec![(100, 0)]);
        assert_ne!(stable_uuid("a"), stable_uuid("b"));
    }
}
