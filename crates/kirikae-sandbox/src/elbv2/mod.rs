//! Elastic Load Balancing v2 (awsQuery): load balancers, target groups, listeners, rules, targets and
//! their health. Listeners are real HTTP reverse proxies (`proxy`) on their load balancer's own
//! loopback address; targets are health-checked for real (`probes`) on the sandbox clock.
//!
//! Module map: `load_balancers`, `target_groups`, `listeners`, `rules`, `targets` hold the resources
//! and their API; `actions` and `conditions` are what listeners and rules are made of; `health` is
//! the target health state machine; `routing` decides where a request goes; `attributes`, `tags`,
//! `arns`, `errors`, `params` are shared plumbing.

mod actions;
mod arns;
mod attributes;
mod conditions;
mod errors;
mod health;
mod listeners;
mod load_balancers;
mod params;
mod probes;
mod proxy;
mod routing;
mod rules;
mod tags;
mod target_groups;
mod targets;
pub mod weights;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Default)]
pub struct Elbv2State {
    load_balancers: BTreeMap<String, load_balancers::LoadBalancer>,
    target_groups: BTreeMap<String, target_groups::TargetGroup>,
    listeners: BTreeMap<String, listeners::Listener>,
    /// Non-default rules; a listener's default rule is its default actions.
    rules: BTreeMap<String, rules::Rule>,
    tags: tags::Tags,
    /// Creation order, which describe calls list resources in.
    seq: u64,
}

pub fn handle(cx: &mut Ctx, op: &str, input: &Value) -> Result<Value, ApiError> {
    let now = cx.now;
    let key = &cx.region.key;
    let st = &mut cx.region.elbv2;
    match op {
        "CreateLoadBalancer" => load_balancers::create(cx, input),
        "DescribeLoadBalancers" => load_balancers::describe(st, key, input),
        "DeleteLoadBalancer" => load_balancers::delete(st, input),
        "DescribeLoadBalancerAttributes" => load_balancers::describe_attributes(st, input),
        "ModifyLoadBalancerAttributes" => load_balancers::modify_attributes(st, input),
        "SetSubnets" => load_balancers::set_subnets(st, key, input),
        "SetSecurityGroups" => load_balancers::set_security_groups(st, input),
        "SetIpAddressType" => load_balancers::set_ip_address_type(st, input),
        "CreateTargetGroup" => target_groups::create(st, key, input),
        "DescribeTargetGroups" => target_groups::describe(st, input),
        "ModifyTargetGroup" => target_groups::modify(st, input),
        "DeleteTargetGroup" => target_groups::delete(st, input),
        "DescribeTargetGroupAttributes" => target_groups::describe_attributes(st, input),
        "ModifyTargetGroupAttributes" => target_groups::modify_attributes(st, input),
        "CreateListener" => listeners::create(cx, input),
        "DescribeListeners" => listeners::describe(st, input),
        "ModifyListener" => listeners::modify(cx, input),
        "DeleteListener" => listeners::delete(st, input),
        "CreateRule" => rules::create(st, input),
        "DescribeRules" => rules::describe(st, input),
        "ModifyRule" => rules::modify(st, input),
        "DeleteRule" => rules::delete(st, input),
        "SetRulePriorities" => rules::set_priorities(st, input),
        "RegisterTargets" => targets::register_targets(st, &cx.shared.addrs, input, now),
        "DeregisterTargets" => targets::deregister_targets(st, input, now),
        "DescribeTargetHealth" => targets::describe_target_health(st, input),
        "AddTags" => tags::add_tags(st, input),
        "RemoveTags" => tags::remove_tags(st, input),
        "DescribeTags" => tags::describe_tags(st, input),
        "DescribeAccountLimits" => Ok(account_limits()),
        _ => Err(ApiError::new(
            "InvalidAction",
            format!("elasticloadbalancing:{op} is not implemented in the kirikae sandbox"),
        )),
    }
}

/// Health checks, drain expiry: see `probes`.
pub fn reconcile(cx: &mut Ctx) {
    probes::reconcile(cx);
}

fn account_limits() -> Value {
    let limits = [
        ("application-load-balancers", "50"),
        ("target-groups", "3000"),
        ("targets-per-application-load-balancer", "1000"),
        ("listeners-per-application-load-balancer", "50"),
        ("rules-per-application-load-balancer", "100"),
        ("target-groups-per-action-on-application-load-balancer", "5"),
        ("target-groups-per-application-load-balancer", "100"),
    ];
    json!({"Limits": limits.iter().map(|(n, m)| json!({"Name": n, "Max": m})).collect::<Vec<_>>()})
}

impl Elbv2State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// For every target group some listener or rule forwards to: the load balancers that do.
    fn usage(&self) -> BTreeMap<String, Vec<String>> {
        let mut usage: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        let forwards = self
            .listeners
            .values()
            .map(|l| (l.lb_arn.as_str(), l.default_actions.as_slice()))
            .chain(self.rules.values().filter_map(|r| {
                self.listeners
                    .get(&r.listener_arn)
                    .map(|l| (l.lb_arn.as_str(), r.actions.as_slice()))
            }));
        for (lb, acts) in forwards {
            for tg in actions::target_groups(acts) {
                usage.entry(tg.to_string()).or_default().insert(lb);
            }
        }
        usage
            .into_iter()
            .map(|(tg, lbs)| (tg, lbs.into_iter().map(str::to_string).collect()))
            .collect()
    }

    /// The load balancers whose listeners or rules forward to a target group (`LoadBalancerArns`).
    fn load_balancers_using(&self, tg_arn: &str) -> Vec<String> {
        self.usage().remove(tg_arn).unwrap_or_default()
    }

    /// An ALB target group serves one load balancer only.
    fn check_association(&self, lb_arn: &str, acts: &[actions::Action]) -> Result<(), ApiError> {
        let usage = self.usage();
        for tg in actions::target_groups(acts) {
            if usage
                .get(tg)
                .is_some_and(|lbs| lbs.iter().any(|l| l != lb_arn))
            {
                return Err(ApiError::new(
                    "TargetGroupAssociationLimitException",
                    format!(
                        "The following target groups cannot be associated with more than one load balancer: {tg}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Remove a listener with its rules and tags, and close its port.
    fn remove_listener(&mut self, arn: &str) {
        if let Some(l) = self.listeners.remove(arn) {
            l.stop.cancel();
            self.tags.forget(arn);
            let rules: Vec<String> = self
                .rules
                .values()
                .filter(|r| r.listener_arn == arn)
                .map(|r| r.arn.clone())
                .collect();
            for r in rules {
                self.rules.remove(&r);
                self.tags.forget(&r);
            }
        }
    }

    /// Whether a taggable resource exists, as the not-found error of its kind.
    fn check_resource(&self, arn: &str) -> Result<(), ApiError> {
        let found = match arns::kind(arn) {
            arns::Kind::LoadBalancer => self.load_balancers.contains_key(arn),
            arns::Kind::TargetGroup => self.target_groups.contains_key(arn),
            arns::Kind::Listener => self.listeners.contains_key(arn),
            arns::Kind::Rule => {
                self.rules.contains_key(arn)
                    || self.listeners.values().any(|l| l.default_rule_arn == arn)
            }
            arns::Kind::Other => false,
        };
        if found {
            return Ok(());
        }
        Err(match arns::kind(arn) {
            arns::Kind::TargetGroup => errors::target_group_not_found(arn),
            arns::Kind::Listener => errors::listeners_not_found(),
            arns::Kind::Rule => errors::rules_not_found(),
            _ => errors::load_balancer_not_found(arn),
        })
    }
}

// ---- What ECS's scheduler uses, as ECS calls ELB in AWS. -------------------------------------------

/// A target's health state, as `DescribeTargetHealth` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    Unused,
    Draining,
    Unavailable,
}

/// What ECS needs to know about a target group.
#[derive(Clone, Debug)]
pub struct TargetGroupInfo {
    pub arn: String,
    pub name: String,
    /// `ip`, `instance`, `lambda` or `alb`.
    pub target_type: String,
    pub port: Option<u16>,
    /// Load balancers whose listeners or rules forward to it.
    pub load_balancer_arns: Vec<String>,
    /// `deregistration_delay.timeout_seconds` (AWS seconds; default 300).
    pub deregistration_delay: f64,
}

impl Elbv2State {
    /// The target group with this ARN, if it exists.
    pub fn target_group(&self, arn: &str) -> Option<TargetGroupInfo> {
        let tg = self.target_groups.get(arn)?;
        Some(TargetGroupInfo {
            arn: tg.arn.clone(),
            name: tg.name.clone(),
            target_type: tg.settings.target_type.clone(),
            port: tg.settings.port,
            load_balancer_arns: self.load_balancers_using(arn),
            deregistration_delay: tg.deregistration_delay(),
        })
    }

    /// Register `ip:port` (ECS registers each awsvpc task's ENI address).
    pub fn register_target(
        &mut self,
        tg_arn: &str,
        ip: &str,
        port: u16,
        now: f64,
    ) -> Result<(), ApiError> {
        targets::register(self, tg_arn, ip, Some(port), None, now)
    }

    /// Start draining `ip:port`; it leaves the group after the deregistration delay.
    pub fn deregister_target(&mut self, tg_arn: &str, ip: &str, port: u16, now: f64) {
        targets::deregister(self, tg_arn, ip, port, now);
    }

    /// Current health of a registered target; `None` when it is not (or no longer) registered.
    pub fn target_state(&self, tg_arn: &str, ip: &str, port: u16) -> Option<TargetState> {
        let tg = self.target_groups.get(tg_arn)?;
        let t = tg.targets.iter().find(|t| t.is(ip, port))?;
        let in_use = !self.load_balancers_using(tg_arn).is_empty();
        Some(t.report(tg, in_use).state)
    }
}
