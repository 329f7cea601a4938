//! Target groups: their settings (with AWS's defaults), health-check configuration and attributes.
//! Targets and their health live in `targets`.

use serde_json::{Value, json};

use super::attributes::Attributes;
use super::health::Matcher;
use super::targets::Target;
use super::{Elbv2State, arns, errors, params, tags};
use crate::protocol::ApiError;
use crate::world::RegionKey;

/// Everything a `CreateTargetGroup` sets. Two creates with the same name and equal settings are the
/// same request (AWS answers the existing group); different settings are a duplicate name.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub protocol: Option<String>,
    pub protocol_version: Option<String>,
    pub port: Option<u16>,
    pub vpc_id: Option<String>,
    pub target_type: String,
    pub ip_address_type: String,
    pub health_check: HealthCheck,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    pub enabled: bool,
    pub protocol: Option<String>,
    /// `traffic-port` or a port number.
    pub port: String,
    pub path: Option<String>,
    pub interval: i64,
    pub timeout: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    pub matcher: Option<String>,
}

pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub settings: Settings,
    pub attributes: Attributes,
    pub targets: Vec<Target>,
    /// Round-robin cursor of the proxy.
    pub next_target: usize,
    pub seq: u64,
}

impl TargetGroup {
    pub fn to_json(&self, load_balancer_arns: Vec<String>) -> Value {
        let s = &self.settings;
        let hc = &s.health_check;
        let mut out = json!({
            "TargetGroupArn": self.arn,
            "TargetGroupName": self.name,
            "HealthCheckEnabled": hc.enabled,
            "HealthCheckIntervalSeconds": hc.interval,
            "HealthCheckTimeoutSeconds": hc.timeout,
            "HealthyThresholdCount": hc.healthy_threshold,
            "UnhealthyThresholdCount": hc.unhealthy_threshold,
            "HealthCheckPath": hc.path,
            "LoadBalancerArns": load_balancer_arns,
            "TargetType": s.target_type,
            "IpAddressType": s.ip_address_type,
        });
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                out[k] = v;
            }
        };
        put("Protocol", json!(s.protocol));
        put("Port", json!(s.port));
        put("VpcId", json!(s.vpc_id));
        put("ProtocolVersion", json!(s.protocol_version));
        put("HealthCheckProtocol", json!(hc.protocol));
        if s.target_type != "lambda" {
            put("HealthCheckPort", json!(hc.port));
        }
        put(
            "Matcher",
            hc.matcher
                .as_ref()
                .map_or(Value::Null, |m| json!({"HttpCode": m})),
        );
        out
    }

    /// `deregistration_delay.timeout_seconds` in AWS seconds.
    pub fn deregistration_delay(&self) -> f64 {
        self.attributes
            .number(super::attributes::DEREGISTRATION_DELAY)
    }
}

/// Settings from a create call, with AWS's defaults filled in.
fn settings_from(input: &Value) -> Result<Settings, ApiError> {
    let target_type = params::str_opt(input, "TargetType")
        .unwrap_or("instance")
        .to_string();
    let lambda = target_type == "lambda";
    let protocol = params::str_opt(input, "Protocol").map(str::to_string);
    let port = params::i64_opt(input, "Port").map(|p| p as u16);
    let vpc_id = params::str_opt(input, "VpcId").map(str::to_string);
    if lambda {
        if protocol.is_some() || port.is_some() || vpc_id.is_some() {
            return Err(errors::validation(
                "Protocol, port and VPC ID cannot be specified for a lambda target group",
            ));
        }
    } else {
        match protocol.as_deref() {
            None => return Err(errors::validation("A protocol must be specified")),
            Some("HTTP") => {}
            Some(p) => {
                return Err(errors::invalid_configuration(format!(
                    "Target group protocol '{p}' is not supported by the kirikae sandbox: it emulates HTTP target groups"
                )));
            }
        }
        if port.is_none() {
            return Err(errors::validation("A port must be specified"));
        }
    }
    // The sandbox has no VPCs: any VPC ID is accepted, and none is not an error.
    let health_check = HealthCheck {
        enabled: params::bool_opt(input, "HealthCheckEnabled").unwrap_or(!lambda),
        protocol: params::str_opt(input, "HealthCheckProtocol")
            .map(str::to_string)
            .or_else(|| protocol.clone()),
        port: params::str_opt(input, "HealthCheckPort")
            .unwrap_or("traffic-port")
            .to_string(),
        path: Some(
            params::str_opt(input, "HealthCheckPath")
                .unwrap_or("/")
                .to_string(),
        ),
        interval: params::i64_opt(input, "HealthCheckIntervalSeconds").unwrap_or(if lambda {
            35
        } else {
            30
        }),
        timeout: params::i64_opt(input, "HealthCheckTimeoutSeconds").unwrap_or(if lambda {
            30
        } else {
            5
        }),
        healthy_threshold: params::i64_opt(input, "HealthyThresholdCount").unwrap_or(5),
        unhealthy_threshold: params::i64_opt(input, "UnhealthyThresholdCount").unwrap_or(2),
        matcher: Some(
            input
                .pointer("/Matcher/HttpCode")
                .and_then(Value::as_str)
                .unwrap_or("200")
                .to_string(),
        ),
    };
    check_health_check(&health_check, &target_type)?;
    Ok(Settings {
        protocol_version: (!lambda).then(|| {
            params::str_opt(input, "ProtocolVersion")
                .unwrap_or("HTTP1")
                .to_string()
        }),
        protocol,
        port,
        vpc_id,
        target_type,
        ip_address_type: params::str_opt(input, "IpAddressType")
            .unwrap_or("ipv4")
            .to_string(),
        health_check,
    })
}

fn check_health_check(hc: &HealthCheck, target_type: &str) -> Result<(), ApiError> {
    // Only lambda target groups may switch health checks off.
    if !hc.enabled && target_type != "lambda" {
        return Err(errors::validation(format!(
            "Health checks cannot be disabled for target groups with target type '{target_type}'"
        )));
    }
    if let Some(p) = hc.protocol.as_deref()
        && p != "HTTP"
    {
        return Err(errors::invalid_configuration(format!(
            "Health check protocol '{p}' is not supported by the kirikae sandbox: it checks targets over HTTP"
        )));
    }
    if hc.port != "traffic-port" && !hc.port.parse::<u16>().is_ok_and(|p| p > 0) {
        return Err(errors::validation(format!(
            "Health check port '{}' must be 'traffic-port' or a port from 1 to 65535",
            hc.port
        )));
    }
    if hc.timeout >= hc.interval {
        return Err(errors::validation(
            "Health check interval must be greater than the timeout.",
        ));
    }
    if let Some(m) = &hc.matcher
        && Matcher::parse(m).is_none()
    {
        return Err(errors::validation(format!(
            "Health check matcher HTTP code '{m}' must be a code, a list of codes or a range of codes from 200 to 499"
        )));
    }
    if let Some(path) = &hc.path
        && !path.starts_with('/')
    {
        return Err(errors::validation(
            "Health check path must begin with a '/' character",
        ));
    }
    Ok(())
}

pub fn create(st: &mut Elbv2State, key: &RegionKey, input: &Value) -> Result<Value, ApiError> {
    let name = params::str_req(input, "Name")?;
    errors::check_name("Target group", name)?;
    let settings = settings_from(input)?;
    let new_tags = tags::from_input(input)?;
    if let Some(existing) = st.target_groups.values().find(|tg| tg.name == name) {
        if existing.settings == settings {
            return Ok(
                json!({"TargetGroups": [existing.to_json(st.load_balancers_using(&existing.arn))]}),
            );
        }
        return Err(ApiError::new(
            "DuplicateTargetGroupNameException",
            format!(
                "A target group with the same name '{name}' exists, but with different settings"
            ),
        ));
    }
    let tg = TargetGroup {
        arn: arns::target_group(key, name),
        name: name.to_string(),
        attributes: Attributes::target_group(&settings.target_type),
        settings,
        targets: Vec::new(),
        next_target: 0,
        seq: st.next_seq(),
    };
    st.tags.add(&tg.arn, new_tags)?;
    let out = json!({"TargetGroups": [tg.to_json(Vec::new())]});
    st.target_groups.insert(tg.arn.clone(), tg);
    Ok(out)
}

pub fn describe(st: &Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let chosen: Vec<&TargetGroup> = if let Some(arns) = params::strings(input, "TargetGroupArns") {
        // Any unknown name or ARN fails the whole call.
        let found: Option<Vec<&TargetGroup>> =
            arns.iter().map(|a| st.target_groups.get(a)).collect();
        found.ok_or_else(errors::target_groups_not_found)?
    } else if let Some(names) = params::strings(input, "Names") {
        let found: Option<Vec<&TargetGroup>> = names
            .iter()
            .map(|n| st.target_groups.values().find(|tg| tg.name == *n))
            .collect();
        found.ok_or_else(errors::target_groups_not_found)?
    } else if let Some(lb_arn) = params::str_opt(input, "LoadBalancerArn") {
        if !st.load_balancers.contains_key(lb_arn) {
            return Err(errors::load_balancer_not_found(lb_arn));
        }
        let mut used: Vec<&TargetGroup> = st
            .target_groups
            .values()
            .filter(|tg| st.load_balancers_using(&tg.arn).iter().any(|a| a == lb_arn))
            .collect();
        used.sort_by_key(|tg| tg.seq);
        used
    } else {
        let mut all: Vec<&TargetGroup> = st.target_groups.values().collect();
        all.sort_by_key(|tg| tg.seq);
        all
    };
    let items = chosen
        .iter()
        .map(|tg| tg.to_json(st.load_balancers_using(&tg.arn)))
        .collect();
    let (page, next) = params::page(items, input)?;
    let mut out = json!({"TargetGroups": page});
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}

pub fn modify(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "TargetGroupArn")?;
    let lbs = st.load_balancers_using(arn);
    let tg = st
        .target_groups
        .get_mut(arn)
        .ok_or_else(|| errors::target_group_not_found(arn))?;
    let mut hc = tg.settings.health_check.clone();
    if let Some(v) = params::bool_opt(input, "HealthCheckEnabled") {
        hc.enabled = v;
    }
    if let Some(v) = params::str_opt(input, "HealthCheckProtocol") {
        hc.protocol = Some(v.to_string());
    }
    if let Some(v) = params::str_opt(input, "HealthCheckPort") {
        hc.port = v.to_string();
    }
    if let Some(v) = params::str_opt(input, "HealthCheckPath") {
        hc.path = Some(v.to_string());
    }
    if let Some(v) = params::i64_opt(input, "HealthCheckIntervalSeconds") {
        hc.interval = v;
    }
    if let Some(v) = params::i64_opt(input, "HealthCheckTimeoutSeconds") {
        hc.timeout = v;
    }
    if let Some(v) = params::i64_opt(input, "HealthyThresholdCount") {
        hc.healthy_threshold = v;
    }
    if let Some(v) = params::i64_opt(input, "UnhealthyThresholdCount") {
        hc.unhealthy_threshold = v;
    }
    if let Some(v) = input.pointer("/Matcher/HttpCode").and_then(Value::as_str) {
        hc.matcher = Some(v.to_string());
    }
    check_health_check(&hc, &tg.settings.target_type)?;
    tg.settings.health_check = hc;
    Ok(json!({"TargetGroups": [tg.to_json(lbs)]}))
}

/// Deleting an unknown group succeeds (the model lists no not-found error); one a listener or rule
/// forwards to cannot be deleted.
pub fn delete(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "TargetGroupArn")?;
    if !st.target_groups.contains_key(arn) {
        return Ok(json!({}));
    }
    if !st.load_balancers_using(arn).is_empty() {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!("Target group '{arn}' is currently in use by a listener or a rule"),
        ));
    }
    st.target_groups.remove(arn);
    st.tags.forget(arn);
    Ok(json!({}))
}

pub fn describe_attributes(st: &Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "TargetGroupArn")?;
    let tg = st
        .target_groups
        .get(arn)
        .ok_or_else(|| errors::target_group_not_found(arn))?;
    Ok(json!({"Attributes": tg.attributes.to_json()}))
}

pub fn modify_attributes(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "TargetGroupArn")?;
    let tg = st
        .target_groups
        .get_mut(arn)
        .ok_or_else(|| errors::target_group_not_found(arn))?;
    tg.attributes.modify(input)?;
    Ok(json!({"Attributes": tg.attributes.to_json()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_aws_defaults() {
        let s =
            settings_from(&json!({"Name": "t", "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1"}))
                .unwrap();
        assert_eq!(s.target_type, "instance");
        assert_eq!(s.protocol_version.as_deref(), Some("HTTP1"));
        let hc = &s.health_check;
        assert!(hc.enabled);
        assert_eq!(
            (
                hc.interval,
                hc.timeout,
                hc.healthy_threshold,
                hc.unhealthy_threshold
            ),
            (30, 5, 5, 2)
        );
        assert_eq!(
            (hc.port.as_str(), hc.path.as_deref(), hc.matcher.as_deref()),
            ("traffic-port", Some("/"), Some("200"))
        );
        assert_eq!(hc.protocol.as_deref(), Some("HTTP"));
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let base = json!({"Name": "t", "Protocol": "HTTP", "Port": 80});
        let with = |k: &str, v: Value| {
            let mut i = base.clone();
            i[k] = v;
            settings_from(&i).map(|_| ())
        };
        assert!(with("HealthCheckTimeoutSeconds", json!(30)).is_err());
        assert!(with("HealthCheckPort", json!("http")).is_err());
        assert!(with("Matcher", json!({"HttpCode": "999"})).is_err());
        assert!(with("Protocol", json!("TCP")).is_err());
        assert!(with("HealthCheckEnabled", json!(false)).is_err());
        assert!(settings_from(&json!({"Name": "t", "Port": 80})).is_err());
        assert!(settings_from(&json!({"Name": "t", "TargetType": "lambda"})).is_ok());
    }
}
