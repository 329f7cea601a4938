//! Registered targets: RegisterTargets, DeregisterTargets (draining), DescribeTargetHealth.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::health::{self, HealthTrack};
use super::target_groups::TargetGroup;
use super::{Elbv2State, TargetState, errors, params};
use crate::addr::AddressPool;
use crate::protocol::ApiError;

pub struct Target {
    pub id: String,
    pub port: u16,
    pub ip: IpAddr,
    pub availability_zone: Option<String>,
    pub health: HealthTrack,
    pub draining: Option<Drain>,
    /// Epoch seconds when the next health check is due.
    pub next_check: f64,
    pub probing: bool,
    /// Changes whenever the target's health starts over, so a late probe result cannot land on it.
    pub generation: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct Drain {
    pub since: f64,
    /// The deregistration delay when draining began (AWS seconds).
    pub delay: f64,
}

fn fresh_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Target {
    fn new(id: &str, ip: IpAddr, port: u16, availability_zone: Option<String>, now: f64) -> Target {
        Target {
            id: id.to_string(),
            port,
            ip,
            availability_zone,
            health: HealthTrack::default(),
            draining: None,
            // Checked promptly after registration, not one interval later.
            next_check: now,
            probing: false,
            generation: fresh_generation(),
        }
    }

    /// Health starts over (registered again, or its group stopped being used by a load balancer).
    pub fn start_over(&mut self, now: f64) {
        self.health = HealthTrack::default();
        self.draining = None;
        self.next_check = now;
        self.probing = false;
        self.generation = fresh_generation();
    }

    pub fn report(&self, tg: &TargetGroup, in_use: bool) -> health::Report {
        health::report(&health::Facts {
            draining: self.draining.is_some(),
            in_use,
            health_check_enabled: tg.settings.health_check.enabled,
            verdict: self.health.verdict,
        })
    }

    pub fn is(&self, id: &str, port: u16) -> bool {
        self.id == id && self.port == port
    }
}

impl TargetState {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Initial => "initial",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::Unused => "unused",
            TargetState::Draining => "draining",
            TargetState::Unavailable => "unavailable",
        }
    }
}

/// The sandbox has no EC2 instances: a target is reached at its Id, which must be an IP address.
fn target_ip(id: &str) -> Result<IpAddr, ApiError> {
    id.parse().map_err(|_| {
        ApiError::new(
            "InvalidTargetException",
            format!("The IP address '{id}' is not a valid IPv4 address (the kirikae sandbox reaches targets by IP)"),
        )
    })
}

/// The port a target description means: its own, else the group's.
fn port_of(tg: &TargetGroup, target: &Value) -> Result<u16, ApiError> {
    params::i64_opt(target, "Port")
        .map(|p| p as u16)
        .or(tg.settings.port)
        .ok_or_else(|| errors::validation("A port must be specified for each target"))
}

pub fn register(
    st: &mut Elbv2State,
    tg_arn: &str,
    id: &str,
    port: Option<u16>,
    az: Option<String>,
    now: f64,
) -> Result<(), ApiError> {
    let tg = st
        .target_groups
        .get_mut(tg_arn)
        .ok_or_else(|| errors::target_group_not_found(tg_arn))?;
    let invalid = |why: String| ApiError::new("InvalidTargetException", why);
    if matches!(tg.settings.target_type.as_str(), "lambda" | "alb") {
        return Err(invalid(format!(
            "The kirikae sandbox cannot run '{}' targets; register ip targets",
            tg.settings.target_type
        )));
    }
    let ip = target_ip(id)?;
    let port = port
        .or(tg.settings.port)
        .ok_or_else(|| errors::validation("A port must be specified for each target"))?;
    match tg.targets.iter_mut().find(|t| t.is(id, port)) {
        // Registering a draining target again takes it back, with fresh health checks.
        Some(t) if t.draining.is_some() => t.start_over(now),
        Some(_) => {}
        None => tg.targets.push(Target::new(id, ip, port, az, now)),
    }
    Ok(())
}

/// Start draining a target (or drop it at once if no load balancer uses its group: nothing to drain).
/// An unknown target is not an error, as on AWS.
pub fn deregister(st: &mut Elbv2State, tg_arn: &str, id: &str, port: u16, now: f64) {
    let in_use = !st.load_balancers_using(tg_arn).is_empty();
    let Some(tg) = st.target_groups.get_mut(tg_arn) else {
        return;
    };
    let delay = tg.deregistration_delay();
    let Some(i) = tg.targets.iter().position(|t| t.is(id, port)) else {
        return;
    };
    if !in_use {
        tg.targets.remove(i);
    } else if tg.targets[i].draining.is_none() {
        tg.targets[i].draining = Some(Drain { since: now, delay });
        tg.targets[i].probing = false;
    }
}

/// Where an API caller's `ip` target may be: in the sandbox's own loopback block (where its tasks are;
/// the sandbox's "VPC"), and not a load balancer's own address. So health checks and listeners only
/// ever connect to the sandbox's tasks, never to the host's network (127.0.0.1, the metadata service,
/// private or public addresses). AWS refuses publicly routable `ip` targets and, without an explicit
/// Availability Zone, addresses outside the target group's VPC.
fn check_reachable(
    st: &Elbv2State,
    addrs: &AddressPool,
    id: &str,
    ip: IpAddr,
) -> Result<(), ApiError> {
    if !addrs.contains(ip) {
        return Err(ApiError::new(
            "InvalidTargetException",
            format!(
                "The IP address '{id}' is not in the target group's VPC: the kirikae sandbox reaches only its own tasks' addresses, in 127.{}.0.0/16, so health checks and listeners never connect to the host's network",
                addrs.block()
            ),
        ));
    }
    if let Some(lb) = st
        .load_balancers
        .values()
        .find(|lb| IpAddr::V4(lb.ip) == ip)
    {
        return Err(ApiError::new(
            "InvalidTargetException",
            format!(
                "The IP address '{id}' is the address of load balancer '{}': a load balancer cannot be an ip target",
                lb.name
            ),
        ));
    }
    Ok(())
}

pub fn register_targets(
    st: &mut Elbv2State,
    addrs: &AddressPool,
    input: &Value,
    now: f64,
) -> Result<Value, ApiError> {
    let tg_arn = params::str_req(input, "TargetGroupArn")?;
    let tg = st
        .target_groups
        .get(tg_arn)
        .ok_or_else(|| errors::target_group_not_found(tg_arn))?;
    let list = input
        .get("Targets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut wanted = Vec::new();
    for t in &list {
        wanted.push((
            params::str_req(t, "Id")?.to_string(),
            port_of(tg, t)?,
            params::str_opt(t, "AvailabilityZone"),
        ));
    }
    for (id, _, _) in &wanted {
        check_reachable(st, addrs, id, target_ip(id)?)?;
    }
    for (id, port, az) in wanted {
        register(st, tg_arn, &id, Some(port), az.map(str::to_string), now)?;
    }
    Ok(json!({}))
}

pub fn deregister_targets(st: &mut Elbv2State, input: &Value, now: f64) -> Result<Value, ApiError> {
    let tg_arn = params::str_req(input, "TargetGroupArn")?;
    let tg = st
        .target_groups
        .get(tg_arn)
        .ok_or_else(|| errors::target_group_not_found(tg_arn))?;
    let mut wanted = Vec::new();
    for t in input
        .get("Targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        wanted.push((params::str_req(t, "Id")?.to_string(), port_of(tg, t)?));
    }
    for (id, port) in wanted {
        deregister(st, tg_arn, &id, port, now);
    }
    Ok(json!({}))
}

pub fn describe_target_health(st: &Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let tg_arn = params::str_req(input, "TargetGroupArn")?;
    let tg = st
        .target_groups
        .get(tg_arn)
        .ok_or_else(|| errors::target_group_not_found(tg_arn))?;
    let in_use = !st.load_balancers_using(tg_arn).is_empty();
    let hc_port = |port: u16| match tg.settings.health_check.port.as_str() {
        "traffic-port" => port.to_string(),
        p => p.to_string(),
    };
    let describe = |t: &Target| {
        let r = t.report(tg, in_use);
        let mut target = json!({"Id": t.id, "Port": t.port});
        if let Some(az) = &t.availability_zone {
            target["AvailabilityZone"] = json!(az);
        }
        json!({"Target": target, "HealthCheckPort": hc_port(t.port), "TargetHealth": health_json(&r)})
    };
    let mut out = Vec::new();
    match input.get("Targets").and_then(Value::as_array) {
        Some(asked) if !asked.is_empty() => {
            for a in asked {
                let id = params::str_req(a, "Id")?;
                let port = params::i64_opt(a, "Port").map(|p| p as u16);
                let found: Vec<&Target> = tg
                    .targets
                    .iter()
                    .filter(|t| t.id == id && port.is_none_or(|p| t.port == p))
                    .collect();
                if found.is_empty() {
                    let port = port.or(tg.settings.port).unwrap_or(0);
                    out.push(json!({
                        "Target": {"Id": id, "Port": port},
                        "HealthCheckPort": hc_port(port),
                        "TargetHealth": {"State": "unused", "Reason": "Target.NotRegistered",
                                         "Description": "Target is not registered to the target group"},
                    }));
                }
                out.extend(found.into_iter().map(describe));
            }
        }
        _ => out.extend(tg.targets.iter().map(describe)),
    }
    Ok(json!({"TargetHealthDescriptions": out}))
}

fn health_json(r: &health::Report) -> Value {
    let mut h = json!({"State": r.state.as_str()});
    if let Some(reason) = r.reason {
        h["Reason"] = json!(reason);
    }
    if let Some(d) = &r.description {
        h["Description"] = json!(d);
    }
    h
}
