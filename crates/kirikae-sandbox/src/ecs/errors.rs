//! ECS's exceptions, with the messages AWS answers them with (where known).

use crate::protocol::ApiError;

pub fn cluster_not_found() -> ApiError {
    ApiError::new("ClusterNotFoundException", "Cluster not found.")
}

pub fn cluster_inactive() -> ApiError {
    ApiError::new(
        "ClusterNotFoundException",
        "The referenced cluster was inactive.",
    )
}

pub fn service_not_found() -> ApiError {
    ApiError::new("ServiceNotFoundException", "Service not found.")
}

pub fn service_not_active() -> ApiError {
    ApiError::new("ServiceNotActiveException", "Service was not ACTIVE.")
}

pub fn task_set_not_found(id: &str) -> ApiError {
    ApiError::new(
        "TaskSetNotFoundException",
        format!("The specified task set {id} does not exist."),
    )
}

pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterException", message)
}

pub fn client(message: impl Into<String>) -> ApiError {
    ApiError::new("ClientException", message)
}

pub fn resource_not_found() -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        "The specified resource could not be found.",
    )
}
