//! The service, read-only: setup never changes it, it says where it stands against the config's
//! controller. A service that does not exist yet is created by `kirikae deploy`; one on the ECS rolling
//! update gets the way to Blue/Green stated plainly: AWS lets `UpdateService` move a service from
//! rolling to ECS-native Blue/Green (what `kirikae deploy` does with an `ecs:` block), but not to
//! CODE_DEPLOY, which needs a new service.

use aws_sdk_ecs::operation::describe_services::DescribeServicesError;

use crate::aws::failed;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};

/// The service a config names.
#[derive(Debug, Clone)]
pub struct Named<'a> {
    pub config_path: &'a std::path::Path,
    pub cluster: &'a str,
    pub service: &'a str,
    /// Whether the config has an `ecs:` block (ECS-native Blue/Green) rather than `codedeploy:`.
    pub native: bool,
}

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

pub async fn standing(plan: &Named<'_>, aws: &Clients) -> Result<Standing, Error> {
    let out =
        match aws
            .ecs
            .describe_services()
            .cluster(plan.cluster)
            .services(plan.service)
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
                plan.config_path,
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

/// What to say about it.
pub fn statement(plan: &Named<'_>, s: &Standing, production_group: &str) -> String {
    let target = format!("{}/{}", plan.cluster, plan.service);
    let config = plan.config_path.display();
    match (s, plan.native) {
        (Standing::Missing, false) => format!(
            "service {target} does not exist yet: `kirikae deploy` creates it with the CODE_DEPLOY controller behind {production_group}"
        ),
        (Standing::Missing, true) => format!(
            "service {target} does not exist yet: `kirikae deploy` creates it with the ECS controller and the ecs: block's strategy behind {production_group}"
        ),
        (Standing::CodeDeploy, false) => {
            format!("service {target} runs with the CODE_DEPLOY controller")
        }
        (Standing::Ecs { strategy }, true) if strategy != "ROLLING" => {
            format!("service {target} deploys with ECS-native Blue/Green (strategy {strategy})")
        }
        (Standing::Ecs { .. }, true) => format!(
            "service {target} runs with the ECS rolling update: AWS allows the move to ECS-native Blue/Green in place, and `kirikae deploy` makes it (UpdateService with the ecs: block's strategy)"
        ),
        (Standing::Ecs { strategy }, false) if strategy == "ROLLING" => format!(
            "service {target} runs with the ECS rolling update. To CodeDeploy Blue/Green: a service's controller \
             cannot change to CODE_DEPLOY, so it takes a new service — set `service:` in {config} to a new name, \
             `kirikae deploy` creates it behind {production_group} next to {}, then delete the old one (aws ecs \
             delete-service --cluster {} --service {} --force). To ECS-native Blue/Green instead: AWS allows it \
             in place with UpdateService — write an `ecs:` block instead of `codedeploy:` (kirikae setup then \
             creates the infrastructure role and the weighted production rule, kirikae deploy moves the service)",
            plan.service, plan.cluster, plan.service
        ),
        (Standing::Ecs { strategy }, false) => format!(
            "service {target} deploys with ECS-native Blue/Green (strategy {strategy}), but {config} has a `codedeploy:` \
             block: CodeDeploy needs a service with the CODE_DEPLOY controller (a new name), or write an `ecs:` block \
             (`kirikae init` writes one from the service)"
        ),
        (Standing::CodeDeploy, true) => format!(
            "service {target} runs with the CODE_DEPLOY controller, but {config} has an `ecs:` block: `kirikae deploy` \
             refuses the mismatch; AWS's migration guide moves such a service with UpdateService once CodeDeploy's \
             deployments are off: kirikae migrate -c on the config with the `codedeploy:` block makes that move"
        ),
        (Standing::Other(kind), _) => format!(
            "service {target} runs with the {kind} deployment controller, which another tool drives: set `service:` to a new name"
        ),
    }
}
