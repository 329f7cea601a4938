//! Load balancer and target group attributes: AWS's keys, defaults and value rules. Unknown keys and bad
//! values are rejected before anything changes, so a Modify call applies all of its attributes or none.

use serde_json::{Value, json};

use super::{errors, params};
use crate::protocol::ApiError;

/// What values an attribute accepts.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Bool,
    Int(i64, i64),
    /// An integer in range, or `off`.
    IntOrOff(i64, i64),
    OneOf(&'static [&'static str]),
    Text,
}

type Spec = (&'static str, &'static str, Rule);

/// Application Load Balancer attributes and their defaults.
const LOAD_BALANCER: &[Spec] = &[
    ("access_logs.s3.enabled", "false", Rule::Bool),
    ("access_logs.s3.bucket", "", Rule::Text),
    ("access_logs.s3.prefix", "", Rule::Text),
    ("client_keep_alive.seconds", "3600", Rule::Int(60, 604_800)),
    ("connection_logs.s3.enabled", "false", Rule::Bool),
    ("connection_logs.s3.bucket", "", Rule::Text),
    ("connection_logs.s3.prefix", "", Rule::Text),
    ("deletion_protection.enabled", "false", Rule::Bool),
    ("health_check_logs.s3.enabled", "false", Rule::Bool),
    ("health_check_logs.s3.bucket", "", Rule::Text),
    ("health_check_logs.s3.prefix", "", Rule::Text),
    ("idle_timeout.timeout_seconds", "60", Rule::Int(1, 4000)),
    ("ipv6.deny_all_igw_traffic", "false", Rule::Bool),
    (
        "load_balancing.cross_zone.enabled",
        "true",
        Rule::OneOf(&["true"]),
    ),
    (
        "routing.http.desync_mitigation_mode",
        "defensive",
        Rule::OneOf(&["monitor", "defensive", "strictest"]),
    ),
    (
        "routing.http.drop_invalid_header_fields.enabled",
        "false",
        Rule::Bool,
    ),
    (
        "routing.http.preserve_host_header.enabled",
        "false",
        Rule::Bool,
    ),
    (
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
        "false",
        Rule::Bool,
    ),
    ("routing.http.xff_client_port.enabled", "false", Rule::Bool),
    (
        "routing.http.xff_header_processing.mode",
        "append",
        Rule::OneOf(&["append", "preserve", "remove"]),
    ),
    ("routing.http2.enabled", "true", Rule::Bool),
    ("waf.fail_open.enabled", "false", Rule::Bool),
    ("zonal_shift.config.enabled", "false", Rule::Bool),
];

/// Target group attributes (instance and ip targets behind an Application Load Balancer).
const TARGET_GROUP: &[Spec] = &[
    (
        "deregistration_delay.timeout_seconds",
        "300",
        Rule::Int(0, 3600),
    ),
    ("stickiness.enabled", "false", Rule::Bool),
    (
        "stickiness.type",
        "lb_cookie",
        Rule::OneOf(&["lb_cookie", "app_cookie"]),
    ),
    (
        "stickiness.lb_cookie.duration_seconds",
        "86400",
        Rule::Int(1, 604_800),
    ),
    ("stickiness.app_cookie.cookie_name", "", Rule::Text),
    (
        "stickiness.app_cookie.duration_seconds",
        "86400",
        Rule::Int(1, 604_800),
    ),
    ("slow_start.duration_seconds", "0", Rule::Int(0, 900)),
    (
        "load_balancing.algorithm.type",
        "round_robin",
        Rule::OneOf(&[
            "round_robin",
            "least_outstanding_requests",
            "weighted_random",
        ]),
    ),
    (
        "load_balancing.algorithm.anomaly_mitigation",
        "off",
        Rule::OneOf(&["on", "off"]),
    ),
    (
        "load_balancing.cross_zone.enabled",
        "use_load_balancer_configuration",
        Rule::OneOf(&["true", "false", "use_load_balancer_configuration"]),
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.count",
        "1",
        Rule::IntOrOff(1, 1000),
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.percentage",
        "off",
        Rule::IntOrOff(1, 100),
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
        "1",
        Rule::Int(1, 1000),
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
        "off",
        Rule::IntOrOff(1, 100),
    ),
];

/// Lambda target groups have only this one.
const LAMBDA_TARGET_GROUP: &[Spec] = &[("lambda.multi_value_headers.enabled", "false", Rule::Bool)];

pub const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
pub const DELETION_PROTECTION: &str = "deletion_protection.enabled";

/// One resource's attributes, in AWS's key order.
#[derive(Clone, Debug)]
pub struct Attributes {
    specs: &'static [Spec],
    values: Vec<String>,
}

impl Attributes {
    pub fn load_balancer() -> Attributes {
        Attributes::defaults(LOAD_BALANCER)
    }

    pub fn target_group(target_type: &str) -> Attributes {
        Attributes::defaults(if target_type == "lambda" {
            LAMBDA_TARGET_GROUP
        } else {
            TARGET_GROUP
        })
    }

    fn defaults(specs: &'static [Spec]) -> Attributes {
        Attributes {
            specs,
            values: specs.iter().map(|(_, v, _)| v.to_string()).collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.specs
            .iter()
            .position(|(k, _, _)| *k == key)
            .map(|i| self.values[i].as_str())
    }

    /// `get` for a numeric attribute, falling back to its default.
    pub fn number(&self, key: &str) -> f64 {
        self.get(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
    }

    /// Set a value the caller knows is valid (e.g. a default that depends on the scheme).
    pub fn set_known(&mut self, key: &str, value: &str) {
        if let Some(i) = self.specs.iter().position(|(k, _, _)| *k == key) {
            self.values[i] = value.to_string();
        }
    }

    /// Apply `Attributes: [{Key, Value}]` from a Modify call: all of them, or none if any is invalid.
    pub fn modify(&mut self, input: &Value) -> Result<(), ApiError> {
        let mut changed = self.values.clone();
        for attr in input
            .get("Attributes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = params::str_opt(attr, "Key").unwrap_or_default();
            let value = params::str_opt(attr, "Value").unwrap_or_default();
            let Some(i) = self.specs.iter().position(|(k, _, _)| *k == key) else {
                return Err(errors::validation(format!(
                    "Attribute key '{key}' is not recognized"
                )));
            };
            check(key, value, self.specs[i].2)?;
            changed[i] = value.to_string();
        }
        self.values = changed;
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        Value::Array(
            self.specs
                .iter()
                .zip(&self.values)
                .map(|((k, _, _), v)| json!({"Key": k, "Value": v}))
                .collect(),
        )
    }
}

fn check(key: &str, value: &str, rule: Rule) -> Result<(), ApiError> {
    let int_in = |lo: i64, hi: i64| value.parse::<i64>().is_ok_and(|n| (lo..=hi).contains(&n));
    let ok = match rule {
        Rule::Bool => value == "true" || value == "false",
        Rule::Int(lo, hi) => int_in(lo, hi),
        Rule::IntOrOff(lo, hi) => value == "off" || int_in(lo, hi),
        Rule::OneOf(allowed) => allowed.contains(&value),
        Rule::Text => true,
    };
    if ok {
        return Ok(());
    }
    let expected = match rule {
        Rule::Bool => "'true' or 'false'".to_string(),
        Rule::Int(lo, hi) => format!("an integer from {lo} to {hi}"),
        Rule::IntOrOff(lo, hi) => format!("'off' or an integer from {lo} to {hi}"),
        Rule::OneOf(allowed) => allowed
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(", "),
        Rule::Text => String::new(),
    };
    Err(errors::invalid_configuration(format!(
        "Attribute '{key}' value '{value}' is not valid: it must be {expected}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_group_defaults_are_aws_defaults() {
        let a = Attributes::target_group("ip");
        assert_eq!(a.get(DEREGISTRATION_DELAY), Some("300"));
        assert_eq!(a.get("stickiness.enabled"), Some("false"));
        assert_eq!(a.get("load_balancing.algorithm.type"), Some("round_robin"));
        assert_eq!(a.number(DEREGISTRATION_DELAY), 300.0);
        assert_eq!(
            Attributes::target_group("lambda").get(DEREGISTRATION_DELAY),
            None
        );
        let lb = Attributes::load_balancer();
        assert_eq!(lb.get("idle_timeout.timeout_seconds"), Some("60"));
        assert_eq!(lb.get(DELETION_PROTECTION), Some("false"));
    }

    #[test]
    fn modify_is_all_or_nothing() {
        let mut a = Attributes::target_group("ip");
        let good = json!({"Attributes": [{"Key": DEREGISTRATION_DELAY, "Value": "5"}]});
        a.modify(&good).unwrap();
        assert_eq!(a.get(DEREGISTRATION_DELAY), Some("5"));
        let half_bad = json!({"Attributes": [
            {"Key": DEREGISTRATION_DELAY, "Value": "10"},
            {"Key": "stickiness.enabled", "Value": "maybe"}
        ]});
        assert_eq!(
            a.modify(&half_bad).unwrap_err().code,
            "InvalidConfigurationRequestException"
        );
        assert_eq!(a.get(DEREGISTRATION_DELAY), Some("5"));
        let out_of_range = json!({"Attributes": [{"Key": DEREGISTRATION_DELAY, "Value": "3601"}]});
        assert!(a.modify(&out_of_range).is_err());
        let unknown = json!({"Attributes": [{"Key": "nope", "Value": "1"}]});
        assert_eq!(a.modify(&unknown).unwrap_err().code, "ValidationError");
    }
}
