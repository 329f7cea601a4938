//! Amazon ECS (awsJson 1.1): clusters, task definitions, services (ECS, CODE_DEPLOY and EXTERNAL
//! deployment controllers), task sets, tasks and tags, with a scheduler that runs real task processes
//! and registers them with ELBv2 target groups.
//!
//! Layout: one module per resource (`clusters`, `task_definitions`, `services`, `task_sets`, `tasks`,
//! `tags`: state, JSON views, operations), `spec` for what tasks are launched with and AWS's checks on
//! it, `arns` for ARNs and ids, `io` for reading inputs and paging, and `scheduler` for everything that
//! happens between API calls (task lifecycle, scaling, rolling deployments, ELB health, stability).

mod arns;
mod clusters;
mod errors;
mod io;
pub mod native;
mod scheduler;
mod services;
mod spec;
mod tags;
mod task_definitions;
mod task_sets;
mod tasks;

pub use scheduler::on_container_exit;

use serde_json::Value;

use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Default)]
pub struct EcsState {
    clusters: clusters::Clusters,
    task_definitions: task_definitions::TaskDefinitions,
}

/// Who calls: a client, or CodeDeploy driving a CODE_DEPLOY service's task sets with its service role.
/// AWS lets clients manage task sets of EXTERNAL services only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Client,
    CodeDeploy,
}

/// Everything ECS does between API calls: the scheduler (tasks, health, scaling), then the
/// Blue/Green-family service deployments' lifecycles.
pub fn reconcile(cx: &mut Ctx) {
    scheduler::reconcile(cx);
    native::reconcile(cx);
}

/// A client's call.
pub fn handle(cx: &mut Ctx, op: &str, input: &Value) -> Result<Value, ApiError> {
    handle_as(cx, op, input, Caller::Client)
}

/// CodeDeploy's call (the sandbox's own CodeDeploy, acting on a deployment).
pub fn handle_as_codedeploy(cx: &mut Ctx, op: &str, input: &Value) -> Result<Value, ApiError> {
    handle_as(cx, op, input, Caller::CodeDeploy)
}

fn handle_as(cx: &mut Ctx, op: &str, input: &Value, caller: Caller) -> Result<Value, ApiError> {
    arns::check_home(&cx.region.key, input)?;
    match op {
        "CreateCluster" => clusters::create(cx, input),
        "DescribeClusters" => clusters::describe(cx, input),
        "ListClusters" => clusters::list(cx, input),
        "DeleteCluster" => clusters::delete(cx, input),
        "RegisterTaskDefinition" => task_definitions::register::register(cx, input),
        "DescribeTaskDefinition" => task_definitions::api::describe(cx, input),
        "ListTaskDefinitions" => task_definitions::api::list(cx, input),
        "ListTaskDefinitionFamilies" => task_definitions::api::list_families(cx, input),
        "DeregisterTaskDefinition" => task_definitions::api::deregister(cx, input),
        "DeleteTaskDefinitions" => task_definitions::api::delete(cx, input),
        "CreateService" => services::create(cx, input),
        "DescribeServices" => services::describe(cx, input),
        "ListServices" => services::list(cx, input),
        "UpdateService" => services::update(cx, input),
        "DeleteService" => services::delete(cx, input),
        "CreateTaskSet" => task_sets::api::create(cx, input, caller),
        "DescribeTaskSets" => task_sets::api::describe(cx, input, caller),
        "UpdateTaskSet" => task_sets::api::update(cx, input, caller),
        "UpdateServicePrimaryTaskSet" => task_sets::api::update_primary(cx, input, caller),
        "DeleteTaskSet" => task_sets::api::delete(cx, input, caller),
        "ListTasks" => tasks::api::list(cx, input),
        "DescribeTasks" => tasks::api::describe(cx, input),
        "StopTask" => tasks::api::stop(cx, input),
        "RunTask" => tasks::api::run(cx, input),
        "ListServiceDeployments" => native::api::list(cx, input),
        "DescribeServiceDeployments" => native::api::describe(cx, input),
        "DescribeServiceRevisions" => native::api::describe_revisions(cx, input),
        "StopServiceDeployment" => native::api::stop(cx, input),
        "ContinueServiceDeployment" => native::api::continue_(cx, input),
        "TagResource" => tags::tag_resource(cx, input),
        "UntagResource" => tags::untag_resource(cx, input),
        "ListTagsForResource" => tags::list_tags_for_resource(cx, input),
        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!("ecs:{op} is not implemented in the kirikae sandbox"),
        )),
    }
}
