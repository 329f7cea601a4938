//! Amazon CloudWatch alarms (awsJson 1.0 query-compatible, RPC v2 CBOR, legacy awsQuery): what CodeDeploy
//! watches during a deployment, and what tests flip with `SetAlarmState`.

use serde_json::Value;

use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Default)]
pub struct CloudWatchState {}

pub fn handle(_cx: &mut Ctx, op: &str, _input: &Value) -> Result<Value, ApiError> {
    Err(ApiError::new(
        "InvalidAction",
        format!("monitoring:{op} is not implemented in the kirikae sandbox yet: not implemented"),
    ))
}
