//! Elastic Load Balancing v2 (awsQuery): load balancers, target groups, listeners, rules, targets and
//! their health.

use serde_json::Value;

use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Default)]
pub struct Elbv2State {}

pub fn handle(_cx: &mut Ctx, op: &str, _input: &Value) -> Result<Value, ApiError> {
    Err(ApiError::new(
        "InvalidAction",
        format!("elasticloadbalancing:{op} is not implemented in the kirikae sandbox"),
    ))
}

pub fn reconcile(_cx: &mut Ctx) {}

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
    pub fn target_group(&self, _arn: &str) -> Option<TargetGroupInfo> {
        None
    }

    /// Register `ip:port` (ECS registers each awsvpc task's ENI address).
    pub fn register_target(&mut self, tg_arn: &str, _ip: &str, _port: u16, _now: f64) -> Result<(), ApiError> {
        Err(ApiError::new("TargetGroupNotFoundException", format!("Target groups '{tg_arn}' not found")))
    }

    /// Start draining `ip:port`; it leaves the group after the deregistration delay.
    pub fn deregister_target(&mut self, _tg_arn: &str, _ip: &str, _port: u16, _now: f64) {}

    /// Current health of a registered target; `None` when it is not (or no longer) registered.
    pub fn target_state(&self, _tg_arn: &str, _ip: &str, _port: u16) -> Option<TargetState> {
        None
    }
}
