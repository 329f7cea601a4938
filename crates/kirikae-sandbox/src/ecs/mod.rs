//! Amazon ECS (awsJson 1.1): clusters, task definitions, services (ECS and CODE_DEPLOY controllers),
//! task sets and tasks.

use serde_json::Value;

use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Default)]
pub struct EcsState {}

pub fn handle(_cx: &mut Ctx, op: &str, _input: &Value) -> Result<Value, ApiError> {
    Err(ApiError::new(
        "UnknownOperationException",
        format!("ecs:{op} is not implemented in the kirikae sandbox"),
    ))
}

pub fn reconcile(_cx: &mut Ctx) {}

pub fn on_container_exit(_cx: &mut Ctx, _task_arn: &str, _container: &str, _exit_code: Option<i32>) {}
