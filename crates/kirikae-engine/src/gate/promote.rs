//! The gate's checks when `kirikae promote -c FILE` continues a deployment held in Ready (the two-job CI
//! pattern: `deploy --no-wait`, then `promote`): the same checks `deploy` runs at Ready, against the test
//! listener of the deployment group, with green's images from its task set (read-only:
//! GetDeploymentGroup, DescribeListeners, DescribeLoadBalancers, DescribeServices,
//! DescribeTaskDefinition).

use std::path::PathBuf;

use crate::aws::failed;
use crate::connection::Clients;
use crate::error::Error;
use crate::outcome::Image;
use crate::plan::Plan;
use crate::policy::Policy;
use crate::progress::Observer;

use super::{GateReport, Guard, deployment_env, run_checks, url};

/// Runs the plan's gate checks on deployment `id`, waiting in Ready; `Ok(None)`: the config's gate has
/// no checks (or there is no gate). An error means the checks could not be set up (nothing changed).
pub async fn checks(
    plan: &Plan,
    aws: &Clients,
    id: &str,
    observer: &dyn Observer,
) -> Result<Option<GateReport>, Error> {
    let Some(gate) = plan.gate.as_ref().filter(|g| g.has_checks()) else {
        return Ok(None);
    };
    let listener = test_listener(plan, aws).await?;
    let test_url = url::resolve(plan, listener.as_deref(), aws).await?;
    let images = green_images(plan, aws).await?;
    let guard = Guard {
        gate: Some(gate),
        test_url,
        deployment_env: deployment_env(&plan.cluster, &plan.service, &images),
        dir: plan
            .config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from),
        auto_promote_after: None,
        policy: Policy::default(),
        promote: String::new(),
    };
    Ok(Some(run_checks(gate, &guard, id, observer).await))
}

/// The test listener the deployment group routes test traffic through.
async fn test_listener(plan: &Plan, aws: &Clients) -> Result<Option<String>, Error> {
    let out = aws
        .codedeploy
        .get_deployment_group()
        .application_name(&plan.application)
        .deployment_group_name(&plan.deployment_group)
        .send()
        .await
        .map_err(|e| failed("codedeploy:GetDeploymentGroup", e))?;
    Ok(out
        .deployment_group_info()
        .and_then(|g| g.load_balancer_info())
        .and_then(|l| l.target_group_pair_info_list().first())
        .and_then(|p| p.test_traffic_route())
        .and_then(|r| r.listener_arns().first())
        .cloned())
}

/// The images of green: the service's task set that is not PRIMARY (the replacement, while in Ready).
async fn green_images(plan: &Plan, aws: &Clients) -> Result<Vec<Image>, Error> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(&plan.cluster)
        .services(&plan.service)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServices", e))?;
    let Some(td) = out
        .services()
        .first()
        .and_then(|s| s.task_sets().iter().find(|t| t.status() != Some("PRIMARY")))
        .and_then(|t| t.task_definition())
    else {
        return Ok(Vec::new());
    };
    crate::task_images::of(aws, td).await
}
