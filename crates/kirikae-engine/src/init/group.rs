//! The CodeDeploy side of a CODE_DEPLOY service: the deployment group that deploys it (CodeDeploy has
//! no lookup by service, so the default names kirikae and the console use are tried first, then every
//! ECS group is read), and the AppSpec of the group's last successful deployment, which holds the
//! service's inputs exactly as they were written (platform version, network configuration, capacity
//! providers, hooks).

use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupError;
use aws_sdk_codedeploy::types::{DeploymentGroupInfo, RevisionLocation, RevisionLocationType};
use serde_json::Value;

use crate::aws::failed;
use crate::connection::Clients;
use crate::error::Error;
use crate::plan::Plan;

/// A deployment group found for the service.
#[derive(Debug, Clone)]
pub struct Found {
    pub application: String,
    pub info: DeploymentGroupInfo,
}

/// The group whose ECS service is `cluster/service`, if any.
pub async fn find(aws: &Clients, cluster: &str, service: &str) -> Result<Option<Found>, Error> {
    let (app, group) = (
        Plan::default_application(cluster, service),
        Plan::default_deployment_group(cluster, service),
    );
    if let Some(info) = get(aws, &app, &group).await?
        && deploys(&info, cluster, service)
    {
        return Ok(Some(Found {
            application: app,
            info,
        }));
    }
    let mut token = None;
    loop {
        let page = aws
            .codedeploy
            .list_applications()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failed("codedeploy:ListApplications", e))?;
        for app in page.applications() {
            if let Some(info) = in_application(aws, app, cluster, service).await? {
                return Ok(Some(Found {
                    application: app.clone(),
                    info,
                }));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(None);
        }
    }
}

async fn get(aws: &Clients, app: &str, group: &str) -> Result<Option<DeploymentGroupInfo>, Error> {
    match aws
        .codedeploy
        .get_deployment_group()
        .application_name(app)
        .deployment_group_name(group)
        .send()
        .await
    {
        Ok(o) => Ok(o.deployment_group_info().cloned()),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(
                    GetDeploymentGroupError::ApplicationDoesNotExistException(_)
                        | GetDeploymentGroupError::DeploymentGroupDoesNotExistException(_)
                )
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(failed("codedeploy:GetDeploymentGroup", e)),
    }
}

async fn in_application(
    aws: &Clients,
    app: &str,
    cluster: &str,
    service: &str,
) -> Result<Option<DeploymentGroupInfo>, Error> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .codedeploy
            .list_deployment_groups()
            .application_name(app)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failed("codedeploy:ListDeploymentGroups", e))?;
        names.extend(page.deployment_groups().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // BatchGetDeploymentGroups takes at most 100 names.
    for chunk in names.chunks(100) {
        let out = aws
            .codedeploy
            .batch_get_deployment_groups()
            .application_name(app)
            .set_deployment_group_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| failed("codedeploy:BatchGetDeploymentGroups", e))?;
        if let Some(info) = out
            .deployment_groups_info()
            .iter()
            .find(|g| deploys(g, cluster, service))
        {
            return Ok(Some(info.clone()));
        }
    }
    Ok(None)
}

/// Whether a group deploys `cluster/service` (names may be stored as ARNs).
fn deploys(info: &DeploymentGroupInfo, cluster: &str, service: &str) -> bool {
    let last = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    info.ecs_services().iter().any(|s| {
        s.cluster_name().map(last).as_deref() == Some(cluster)
            && s.service_name().map(last).as_deref() == Some(service)
    })
}

/// The AppSpec of the group's last successful deployment, parsed; `Ok(None)` when there is none, `Err`
/// saying why it could not be read.
pub async fn last_appspec(aws: &Clients, found: &Found) -> Result<Option<(String, Value)>, String> {
    let Some(id) = found
        .info
        .last_successful_deployment()
        .and_then(|d| d.deployment_id())
    else {
        return Ok(None);
    };
    let cd = &aws.codedeploy;
    let out = cd
        .batch_get_deployments()
        .deployment_ids(id)
        .send()
        .await
        .map_err(|e| failed("codedeploy:BatchGetDeployments", e).to_string())?;
    let Some(revision) = out
        .deployments_info()
        .first()
        .and_then(|d| d.revision())
        .cloned()
    else {
        return Err(format!("deployment {id} has no revision"));
    };
    if !matches!(
        revision.revision_type(),
        Some(RevisionLocationType::AppSpecContent | RevisionLocationType::String)
    ) {
        return Err(format!(
            "deployment {id}'s AppSpec is stored elsewhere ({})",
            revision.revision_type().map(|t| t.as_str()).unwrap_or("?")
        ));
    }
    let inline = |r: &RevisionLocation| {
        r.app_spec_content()
            .and_then(|c| c.content())
            .or_else(|| r.string().and_then(|s| s.content()))
            .map(str::to_string)
    };
    let content = match inline(&revision) {
        Some(c) => c,
        // AWS may answer an inline revision by its hash only; the registered revision has the content.
        None => cd
            .get_application_revision()
            .application_name(&found.application)
            .revision(revision)
            .send()
            .await
            .map_err(|e| failed("codedeploy:GetApplicationRevision", e).to_string())?
            .revision()
            .and_then(inline)
            .ok_or_else(|| format!("deployment {id}'s AppSpec has no content"))?,
    };
    let doc = serde_json::from_str::<Value>(&content)
        .or_else(|_| serde_yaml_ng::from_str::<Value>(&content))
        .map_err(|e| format!("deployment {id}'s AppSpec is neither JSON nor YAML: {e}"))?;
    Ok(Some((id.to_string(), doc)))
}
