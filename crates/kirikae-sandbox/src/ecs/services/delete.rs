//! DeleteService: the service goes DRAINING with desired count 0; the scheduler stops its tasks and
//! retires it as INACTIVE once none is left.

use serde_json::{Value, json};

use super::ServiceStatus;
use crate::ecs::{arns, errors, io};
use crate::protocol::ApiError;
use crate::world::Ctx;

pub fn delete(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let (_, name) = arns::service_name(input["service"].as_str().unwrap_or_default());
    let force = input.get("force").and_then(Value::as_bool).unwrap_or(false);
    let cluster = cx.region.ecs.clusters.active_mut(io::cluster_ref(input))?;
    let service = cluster
        .services
        .get_mut(&name)
        .ok_or_else(errors::service_not_found)?;
    if !service.is_active() {
        return Err(errors::service_not_active());
    }
    if service.desired_count > 0 && !force {
        return Err(errors::invalid(
            "The service cannot be stopped while it is scaled above 0.",
        ));
    }
    // A service deployment in progress ends with the service (the sandbox's words: AWS's are not
    // published).
    service.history.stop_in_progress(
        "Service deployment stopped because the service was deleted.",
        cx.now,
    );
    service.status = ServiceStatus::Draining;
    service.desired_count = 0;
    service.steady = false;
    Ok(json!({ "service": service.to_json(&cluster.tasks, true) }))
}
