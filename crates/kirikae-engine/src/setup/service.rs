//! The service, read-only: setup never changes it, it says where it stands. A service that does not
//! exist yet is created by `kirikae deploy`; a CODE_DEPLOY one is ready; one on the ECS rolling update
//! gets the way to Blue/Green stated plainly: AWS lets `UpdateService` move a service from rolling to
//! ECS-native Blue/Green, but not to CODE_DEPLOY, which needs a new service.

use aws_sdk_ecs::operation::describe_services::DescribeServicesError;

use crate::aws::failed;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::plan::Plan;

/// Where the service stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Missing,
    CodeDeploy,
    /// The ECS controller: `ROLLING`, or an ECS-native strategy.
    Ecs {
        strategy: String,
    },
    Other(String),
}

pub async fn standing(plan: &Plan, aws: &Clients) -> Result<Standing, Error> {
    let out =
        match aws
            .ecs
            .describe_services()
            .cluster(&plan.cluster)
            .services(&plan.service)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DescribeServicesError::ClusterNotFoundException(_))
                ) =>
            {
                return Err(ConfigError::in_file(
                &plan.config_path,
                format!("ECS cluster `{}` does not exist in {}", plan.cluster, aws.region),
            )
            .field("cluster")
            .hint("kirikae deploys into an existing cluster: create it first, or check the region")
            .into());
            }
            Err(e) => return Err(failed("ecs:DescribeServices", e)),
        };
    let Some(svc) = out
        .services()
        .first()
        .filter(|s| s.status() == Some("ACTIVE"))
    else {
        return Ok(Standing::Missing);
    };
    let kind = svc
        .deployment_controller()
        .map(|c| c.r#type().as_str())
        .unwrap_or("ECS");
    Ok(match kind {
        "CODE_DEPLOY" => Standing::CodeDeploy,
        "ECS" => Standing::Ecs {
            strategy: svc
                .deployment_configuration()
                .and_then(|d| d.strategy())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "ROLLING".into()),
        },
        other => Standing::Other(other.to_string()),
    })
}

/// What to say about it: `(ready, text)`.
pub fn statement(plan: &Plan, s: &Standing, production_group: &str) -> (bool, String) {
    let target = format!("{}/{}", plan.cluster, plan.service);
    match s {
        Standing::Missing => (
            true,
            format!(
                "service {target} does not exist yet: `kirikae deploy` creates it with the CODE_DEPLOY controller behind {production_group}"
            ),
        ),
        Standing::CodeDeploy => (
            true,
            format!("service {target} runs with the CODE_DEPLOY controller"),
        ),
        Standing::Ecs { strategy } if strategy == "ROLLING" => (
            false,
            format!(
                "service {target} runs with the ECS rolling update. To CodeDeploy Blue/Green (what kirikae deploys): \
                 a service's controller cannot change to CODE_DEPLOY, so it takes a new service — set `service:` in \
                 {} to a new name, `kirikae deploy` creates it behind {production_group} next to {}, then delete the \
                 old one (aws ecs delete-service --cluster {} --service {} --force). To ECS-native Blue/Green: AWS \
                 allows it in place with UpdateService (deploymentConfiguration.strategy BLUE_GREEN), but setting \
                 that up (the infrastructure role, the weighted production rule) is not implemented yet in kirikae",
                plan.config_path.display(),
                plan.service,
                plan.cluster,
                plan.service
            ),
        ),
        Standing::Ecs { strategy } => (
            false,
            format!(
                "service {target} deploys with ECS-native Blue/Green (strategy {strategy}); kirikae deploys through \
                 CodeDeploy, which needs a new service with the CODE_DEPLOY controller: set `service:` to a new name \
                 (setup for ECS-native is not implemented yet)"
            ),
        ),
        Standing::Other(kind) => (
            false,
            format!(
                "service {target} runs with the {kind} deployment controller; kirikae deploys a service with the \
                 CODE_DEPLOY controller: set `service:` to a new name"
            ),
        ),
    }
}
