//! Listeners: each one really listens on its load balancer's address and port (bound synchronously,
//! so a bind error answers the API call) and proxies requests by its rules and default actions.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::actions::{self, Action};
use super::{Elbv2State, arns, errors, params, proxy, tags};
use crate::protocol::ApiError;
use crate::world::Ctx;

pub struct Listener {
    pub arn: String,
    pub lb_arn: String,
    pub port: u16,
    pub protocol: String,
    pub default_actions: Vec<Action>,
    /// The listener's default rule, which `DescribeRules` reports with priority `default`.
    pub default_rule_arn: String,
    /// Cancelling it stops the proxy and frees the port.
    pub stop: CancellationToken,
    pub seq: u64,
}

impl Listener {
    pub fn to_json(&self) -> Value {
        json!({
            "ListenerArn": self.arn,
            "LoadBalancerArn": self.lb_arn,
            "Port": self.port,
            "Protocol": self.protocol,
            "DefaultActions": actions::to_json(&self.default_actions),
        })
    }
}

/// Only plain HTTP is served: the sandbox has no TLS.
fn check_protocol(protocol: &str) -> Result<(), ApiError> {
    match protocol {
        "HTTP" => Ok(()),
        "HTTPS" => Err(errors::invalid_configuration(
            "HTTPS listeners are not supported by the kirikae sandbox (it serves no TLS); use HTTP",
        )),
        other => Err(errors::validation(format!(
            "Listener protocol '{other}' must be one of 'HTTPS, HTTP'"
        ))),
    }
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let lb_arn = params::str_req(input, "LoadBalancerArn")?;
    let key = cx.region.key.clone();
    let st = &mut cx.region.elbv2;
    let lb = st
        .load_balancers
        .get(lb_arn)
        .ok_or_else(|| errors::load_balancer_not_found(lb_arn))?;
    let ip = lb.ip;
    let protocol = params::str_opt(input, "Protocol")
        .unwrap_or("HTTP")
        .to_string();
    check_protocol(&protocol)?;
    let port = params::i64_opt(input, "Port")
        .ok_or_else(|| errors::validation("A listener port must be specified"))?
        as u16;
    let default_actions = actions::parse(input.get("DefaultActions"), |a| {
        st.target_groups.contains_key(a)
    })?;
    let new_tags = tags::from_input(input)?;
    if let Some(existing) = st
        .listeners
        .values()
        .find(|l| l.lb_arn == lb_arn && l.port == port)
    {
        // Idempotent: the same listener again answers the existing one.
        if existing.protocol == protocol && existing.default_actions == default_actions {
            return Ok(json!({"Listeners": [existing.to_json()]}));
        }
        return Err(ApiError::new(
            "DuplicateListenerException",
            format!("A listener already exists on this port for this load balancer '{lb_arn}'"),
        ));
    }
    st.check_association(lb_arn, &default_actions)?;
    let arn = arns::listener(lb_arn);
    let stop = proxy::start(cx.shared, key, arn.clone(), ip, port)?;
    let st = &mut cx.region.elbv2;
    let listener = Listener {
        default_rule_arn: arns::rule(&arn),
        arn,
        lb_arn: lb_arn.to_string(),
        port,
        protocol,
        default_actions,
        stop,
        seq: st.next_seq(),
    };
    st.tags.add(&listener.arn, new_tags)?;
    let out = json!({"Listeners": [listener.to_json()]});
    st.listeners.insert(listener.arn.clone(), listener);
    Ok(out)
}

pub fn describe(st: &Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let chosen: Vec<&Listener> = if let Some(arns) = params::strings(input, "ListenerArns") {
        let found: Option<Vec<&Listener>> = arns.iter().map(|a| st.listeners.get(a)).collect();
        found.ok_or_else(errors::listeners_not_found)?
    } else if let Some(lb_arn) = params::str_opt(input, "LoadBalancerArn") {
        if !st.load_balancers.contains_key(lb_arn) {
            return Err(errors::load_balancer_not_found(lb_arn));
        }
        let mut of_lb: Vec<&Listener> = st
            .listeners
            .values()
            .filter(|l| l.lb_arn == lb_arn)
            .collect();
        of_lb.sort_by_key(|l| l.seq);
        of_lb
    } else {
        return Err(errors::validation(
            "You must specify either listener ARNs or a load balancer ARN",
        ));
    };
    let (page, next) = params::page(chosen.iter().map(|l| l.to_json()).collect(), input)?;
    let mut out = json!({"Listeners": page});
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}

/// Replaces what is given. New default actions take effect atomically: the proxy reads them per
/// request under the world lock, so the very next request routes by them (CodeDeploy shifts traffic
/// this way).
pub fn modify(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "ListenerArn")?;
    let key = cx.region.key.clone();
    let st = &mut cx.region.elbv2;
    let listener = st
        .listeners
        .get(arn)
        .ok_or_else(errors::listeners_not_found)?;
    let lb_arn = listener.lb_arn.clone();
    let old_port = listener.port;
    if let Some(p) = params::str_opt(input, "Protocol") {
        check_protocol(p)?;
    }
    let default_actions = match input.get("DefaultActions") {
        Some(list) => {
            let parsed = actions::parse(Some(list), |a| st.target_groups.contains_key(a))?;
            st.check_association(&lb_arn, &parsed)?;
            Some(parsed)
        }
        None => None,
    };
    let new_port = params::i64_opt(input, "Port")
        .map(|p| p as u16)
        .filter(|p| *p != old_port);
    let mut new_stop = None;
    if let Some(port) = new_port {
        if st
            .listeners
            .values()
            .any(|l| l.lb_arn == lb_arn && l.port == port)
        {
            return Err(ApiError::new(
                "DuplicateListenerException",
                format!("A listener already exists on this port for this load balancer '{lb_arn}'"),
            ));
        }
        let ip = st
            .load_balancers
            .get(&lb_arn)
            .map(|lb| lb.ip)
            .ok_or_else(|| errors::load_balancer_not_found(&lb_arn))?;
        // Bind the new port before letting go of the old one, so a failure changes nothing.
        new_stop = Some(proxy::start(cx.shared, key, arn.to_string(), ip, port)?);
    }
    let listener = cx
        .region
        .elbv2
        .listeners
        .get_mut(arn)
        .ok_or_else(errors::listeners_not_found)?;
    if let (Some(port), Some(stop)) = (new_port, new_stop) {
        listener.stop.cancel();
        listener.stop = stop;
        listener.port = port;
    }
    if let Some(actions) = default_actions {
        listener.default_actions = actions;
    }
    Ok(json!({"Listeners": [listener.to_json()]}))
}

pub fn delete(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "ListenerArn")?;
    if !st.listeners.contains_key(arn) {
        return Err(errors::listeners_not_found());
    }
    st.remove_listener(arn);
    Ok(json!({}))
}
