//! `kirikae history`: a deployment group's deployments, newest first, read-only — each with its status,
//! the task definition and images it deployed (from its AppSpec revision, GetApplicationRevision, and
//! the task definition), who started it and from where (the [`crate::audit`] record kirikae writes into
//! every deployment it creates), when it ran, and its rollback.
//!
//! Calls: ListDeployments (every page), BatchGetDeployments (25 at a time), then for the deployments
//! shown, one GetApplicationRevision per distinct revision and one DescribeTaskDefinition per distinct
//! task definition. CodeDeploy does not document the order ListDeployments answers in, so every
//! deployment of the group is read and sorted by creation time.
//!
//! On the ECS controller ([`list_native`]) the same entries come from the service's deployments:
//! ListServiceDeployments (every page), DescribeServiceDeployments and DescribeServiceRevisions (20 at
//! a time), DescribeTaskDefinition for images a revision does not list, and who started each from the
//! records on the service (ListTagsForResource, [`crate::audit::ServiceTag`]).

use std::collections::HashMap;

use aws_sdk_codedeploy::operation::list_deployments::ListDeploymentsError;
use aws_sdk_codedeploy::types::{DeploymentCreator, DeploymentInfo, RevisionLocation};
use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsError;
use aws_sdk_ecs::types::{ServiceDeployment, ServiceDeploymentBrief, ServiceRevision};
use serde::Serialize;

use crate::audit::Record;
use crate::aws::failed;
use crate::connection::Clients;
use crate::error::Error;
use crate::outcome::Image;

/// Who started a deployment that carries no kirikae record.
pub const NOT_KIRIKAE: &str = "unknown (not started by kirikae)";
/// Who started a rollback deployment.
pub const BY_CODEDEPLOY: &str = "CodeDeploy (automatic rollback)";

/// One deployment of the group.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub deployment_id: String,
    /// CodeDeploy's status (`Succeeded`, `Failed`, `Stopped`, `InProgress`, `Ready`, …).
    pub status: String,
    /// What CodeDeploy says started it: `user` (an API call, e.g. kirikae), `codeDeployRollback`, ….
    pub creator: Option<String>,
    /// Epoch seconds.
    pub created_at: Option<f64>,
    pub completed_at: Option<f64>,
    /// From creation to completion (or to now while it runs).
    pub duration_seconds: Option<f64>,
    pub task_definition_arn: Option<String>,
    /// `family:revision`.
    pub task_definition: Option<String>,
    pub images: Vec<Image>,
    /// Whether kirikae created it (its description carries kirikae's record).
    pub started_by_kirikae: bool,
    /// The kirikae run that created it.
    pub run_id: Option<String>,
    /// Who, said for a person (the IAM caller, and the CI's user), or [`NOT_KIRIKAE`].
    pub who: String,
    /// From where, said for a person (`repo@commit run-url`, or `user@host`).
    pub from: String,
    /// The record as kirikae wrote it (caller ARN, kirikae version, CI context).
    pub audit: Option<Record>,
    /// The kirikae version that started it (the record's, on either controller).
    pub kirikae_version: Option<String>,
    pub rollback: Option<Rollback>,
    /// CodeDeploy's error, when it failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    /// The deployment that rolled this one back.
    pub rolled_back_by: Option<String>,
    /// The deployment this one rolls back.
    pub rolls_back: Option<String>,
    pub message: Option<String>,
}

/// The group's deployments, newest first, at most `limit`. A group (or application) that does not
/// exist has none.
pub async fn list(
    aws: &Clients,
    application: &str,
    group: &str,
    limit: usize,
) -> Result<Vec<Entry>, Error> {
    let ids = ids(aws, application, group).await?;
    let mut infos = Vec::new();
    for chunk in ids.chunks(25) {
        let got = aws
            .codedeploy
            .batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| failed("codedeploy:BatchGetDeployments", e))?;
        infos.extend(got.deployments_info().iter().cloned());
    }
    let created = |d: &DeploymentInfo| d.create_time().map_or(0.0, |t| t.as_secs_f64());
    infos.sort_by(|a, b| created(b).total_cmp(&created(a)));
    infos.truncate(limit);
    let mut revisions = Revisions::default();
    let mut entries = Vec::new();
    for info in &infos {
        let mut entry = entry(info, crate::progress::now_epoch());
        if let Some(rev) = info.revision() {
            entry.task_definition_arn = revisions.task_definition(aws, application, rev).await;
        }
        if let Some(arn) = &entry.task_definition_arn {
            entry.task_definition = Some(crate::deploy::short_arn(arn).to_string());
            entry.images = revisions.images(aws, arn).await;
        }
        entries.push(entry);
    }
    Ok(entries)
}

async fn ids(aws: &Clients, application: &str, group: &str) -> Result<Vec<String>, Error> {
    let mut pages = aws
        .codedeploy
        .list_deployments()
        .application_name(application)
        .deployment_group_name(group)
        .into_paginator()
        .send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => ids.extend(p.deployments().iter().cloned()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(
                        ListDeploymentsError::ApplicationDoesNotExistException(_)
                            | ListDeploymentsError::DeploymentGroupDoesNotExistException(_)
                    )
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(failed("codedeploy:ListDeployments", e)),
        }
    }
    Ok(ids)
}

/// What one deployment says of itself (the task definition and images are looked up after).
fn entry(d: &DeploymentInfo, now: f64) -> Entry {
    let by_codedeploy = is_rollback(d);
    let description = d.description().unwrap_or_default();
    let started_by = StartedBy::of(d);
    let created_at = d.create_time().map(|t| t.as_secs_f64());
    let completed_at = d.complete_time().map(|t| t.as_secs_f64());
    let status = d
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let running = crate::operate::active_statuses()
        .iter()
        .any(|s| s.as_str() == status);
    let duration_seconds = match (created_at, completed_at) {
        (Some(c), Some(e)) => Some((e - c).max(0.0)),
        (Some(c), None) if running => Some((now - c).max(0.0)),
        _ => None,
    };
    let rollback = d.rollback_info().and_then(|r| {
        let r = Rollback {
            rolled_back_by: r.rollback_deployment_id().map(str::to_string),
            rolls_back: r.rollback_triggering_deployment_id().map(str::to_string),
            message: r.rollback_message().map(str::to_string),
        };
        (r.rolled_back_by.is_some() || r.rolls_back.is_some() || r.message.is_some()).then_some(r)
    });
    Entry {
        deployment_id: d.deployment_id().unwrap_or_default().to_string(),
        status,
        creator: d.creator().map(|c| c.as_str().to_string()),
        created_at,
        completed_at,
        duration_seconds,
        task_definition_arn: None,
        task_definition: None,
        images: Vec::new(),
        started_by_kirikae: started_by.audit.is_some(),
        run_id: run_id(description).filter(|_| !by_codedeploy),
        who: started_by.who,
        from: started_by.from,
        kirikae_version: started_by.audit.as_ref().map(|a| a.version.clone()),
        audit: started_by.audit,
        rollback,
        error: d
            .error_information()
            .and_then(|e| e.message())
            .map(str::to_string),
    }
}

/// The ECS-native service's deployments, newest first, at most `limit`, in the same entries. A
/// service that does not exist has none.
pub async fn list_native(
    aws: &Clients,
    cluster: &str,
    service: &str,
    limit: usize,
) -> Result<Vec<Entry>, Error> {
    let mut briefs = Vec::new();
    let mut token = None;
    loop {
        let out = match aws
            .ecs
            .list_service_deployments()
            .cluster(cluster)
            .service(service)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(
                        ListServiceDeploymentsError::ServiceNotFoundException(_)
                            | ListServiceDeploymentsError::ClusterNotFoundException(_)
                    )
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(failed("ecs:ListServiceDeployments", e)),
        };
        briefs.extend(out.service_deployments().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let created = |d: &ServiceDeploymentBrief| d.created_at().map_or(0.0, |t| t.as_secs_f64());
    briefs.sort_by(|a, b| created(b).total_cmp(&created(a)));
    briefs.truncate(limit);
    let arns: Vec<String> = briefs
        .iter()
        .filter_map(|b| b.service_deployment_arn().map(str::to_string))
        .collect();
    let mut deployments = Vec::new();
    for chunk in arns.chunks(20) {
        let out = aws
            .ecs
            .describe_service_deployments()
            .set_service_deployment_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| failed("ecs:DescribeServiceDeployments", e))?;
        deployments.extend(out.service_deployments().iter().cloned());
    }
    deployments.sort_by(|a, b| {
        let at = |d: &ServiceDeployment| d.created_at().map_or(0.0, |t| t.as_secs_f64());
        at(b).total_cmp(&at(a))
    });
    let revision_arns: Vec<String> = deployments
        .iter()
        .filter_map(|d| d.target_service_revision()?.arn().map(str::to_string))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut revisions: HashMap<String, ServiceRevision> = HashMap::new();
    for chunk in revision_arns.chunks(20) {
        let out = aws
            .ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| failed("ecs:DescribeServiceRevisions", e))?;
        for r in out.service_revisions() {
            if let Some(arn) = r.service_revision_arn() {
                revisions.insert(arn.to_string(), r.clone());
            }
        }
    }
    // Who started each, from the records on the service (best effort: history shows what it can).
    let tags = match deployments.first().and_then(|d| d.service_arn()) {
        Some(service_arn) => crate::audit::service_tags(aws, service_arn)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("who started the service deployments cannot be read: {e}");
                Vec::new()
            }),
        None => Vec::new(),
    };
    let mut images = Revisions::default();
    let now = crate::progress::now_epoch();
    let mut entries = Vec::new();
    for d in &deployments {
        let revision = d
            .target_service_revision()
            .and_then(|r| r.arn())
            .and_then(|arn| revisions.get(arn));
        let arn = d.service_deployment_arn().unwrap_or_default();
        let tag = tags
            .iter()
            .find(|t| t.deployment_id == crate::audit::deployment_id(arn));
        let mut entry = native_entry(d, revision, tag, now);
        if entry.images.is_empty()
            && let Some(td) = &entry.task_definition_arn
        {
            entry.images = images.images(aws, td).await;
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// What one service deployment (with its target revision and its record) says of itself.
fn native_entry(
    d: &ServiceDeployment,
    revision: Option<&ServiceRevision>,
    tag: Option<&crate::audit::ServiceTag>,
    now: f64,
) -> Entry {
    let secs = |t: Option<&aws_sdk_ecs::primitives::DateTime>| t.map(|t| t.as_secs_f64());
    let status = d
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let ongoing = d
        .status()
        .is_some_and(|s| crate::native::preflight::ONGOING.contains(s));
    let created_at = secs(d.created_at());
    let completed_at = secs(d.finished_at()).or(secs(d.stopped_at()));
    let began = secs(d.started_at()).or(created_at);
    let duration_seconds = match (began, completed_at) {
        (Some(b), Some(e)) => Some((e - b).max(0.0)),
        (Some(b), None) if ongoing => Some((now - b).max(0.0)),
        _ => None,
    };
    let task_definition_arn = revision
        .and_then(|r| r.task_definition())
        .map(str::to_string);
    let images = revision
        .map(|r| {
            r.container_images()
                .iter()
                .map(|c| Image {
                    container: c.container_name().unwrap_or_default().to_string(),
                    image: c.image().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let rollback = d.rollback().map(|r| Rollback {
        rolled_back_by: None,
        rolls_back: None,
        message: Some(match (r.reason(), r.service_revision_arn()) {
            (Some(why), Some(to)) => format!("{why} (back to revision {})", deployment_id(to)),
            (Some(why), None) => why.to_string(),
            (None, Some(to)) => format!("back to revision {}", deployment_id(to)),
            (None, None) => "rolled back".to_string(),
        }),
    });
    let started_by = crate::native::prepare::started_by(tag);
    let failed = status.contains("ROLLBACK") || status == "STOPPED";
    Entry {
        deployment_id: d.service_deployment_arn().unwrap_or_default().to_string(),
        status,
        creator: None,
        created_at,
        completed_at,
        duration_seconds,
        task_definition: task_definition_arn
            .as_deref()
            .map(|a| crate::deploy::short_arn(a).to_string()),
        task_definition_arn,
        images,
        started_by_kirikae: tag.is_some(),
        run_id: tag.map(|t| t.run_id.clone()),
        who: started_by.who,
        from: started_by.from,
        audit: None,
        kirikae_version: tag.map(|t| t.version.clone()),
        rollback,
        error: d.status_reason().filter(|_| failed).map(str::to_string),
    }
}

fn deployment_id(arn: &str) -> &str {
    crate::audit::deployment_id(arn)
}

/// Who started a deployment and from where, as its record says.
#[derive(Debug, Clone)]
pub struct StartedBy {
    /// kirikae's record, when kirikae started it.
    pub audit: Option<Record>,
    /// Said for a person: the caller, [`BY_CODEDEPLOY`] or [`NOT_KIRIKAE`].
    pub who: String,
    pub from: String,
}

impl StartedBy {
    pub fn of(d: &DeploymentInfo) -> StartedBy {
        // A rollback deployment is CodeDeploy's own, even when it carries the description (and so
        // the record) of the deployment it rolls back.
        let audit = d
            .description()
            .and_then(Record::parse)
            .filter(|_| !is_rollback(d));
        let (who, from) = match &audit {
            Some(a) => (a.who(), a.from_where()),
            None if is_rollback(d) => (BY_CODEDEPLOY.to_string(), "CodeDeploy".to_string()),
            None => (NOT_KIRIKAE.to_string(), "unknown".to_string()),
        };
        StartedBy { audit, who, from }
    }
}

/// A deployment CodeDeploy created to roll another back.
pub fn is_rollback(d: &DeploymentInfo) -> bool {
    d.creator() == Some(&DeploymentCreator::CodeDeployRollback)
}

/// The run id of `[kirikae run <id>]` in a description.
fn run_id(description: &str) -> Option<String> {
    let start = description.find("[kirikae run ")? + "[kirikae run ".len();
    let len = description[start..].find(']')?;
    Some(description[start..start + len].to_string())
}

/// Revisions and task definitions already read, so each is asked once.
#[derive(Default)]
struct Revisions {
    task_definitions: HashMap<String, Option<String>>,
    images: HashMap<String, Vec<Image>>,
}

impl Revisions {
    /// The task definition a revision's AppSpec names (GetApplicationRevision, as CodeDeploy keeps
    /// every revision a deployment used). None when it cannot be read: history shows what it can.
    async fn task_definition(
        &mut self,
        aws: &Clients,
        application: &str,
        rev: &RevisionLocation,
    ) -> Option<String> {
        let key = format!("{rev:?}");
        if let Some(found) = self.task_definitions.get(&key) {
            return found.clone();
        }
        let found = match aws
            .codedeploy
            .get_application_revision()
            .application_name(application)
            .revision(rev.clone())
            .send()
            .await
        {
            Ok(out) => out
                .revision()
                .and_then(|r| r.app_spec_content())
                .and_then(|c| c.content())
                .and_then(appspec_task_definition),
            Err(e) => {
                tracing::warn!(
                    "{}",
                    failed("codedeploy:GetApplicationRevision", e).to_string()
                );
                None
            }
        };
        self.task_definitions.insert(key, found.clone());
        found
    }

    /// The images of a task definition (DescribeTaskDefinition); none when it cannot be read.
    async fn images(&mut self, aws: &Clients, arn: &str) -> Vec<Image> {
        if let Some(found) = self.images.get(arn) {
            return found.clone();
        }
        let found = crate::task_images::of(aws, arn).await.unwrap_or_else(|e| {
            tracing::warn!("{e}");
            Vec::new()
        });
        self.images.insert(arn.to_string(), found.clone());
        found
    }
}

/// `Resources[0].TargetService.Properties.TaskDefinition` of an AppSpec (YAML or JSON).
fn appspec_task_definition(content: &str) -> Option<String> {
    let doc: serde_json::Value = serde_yaml_ng::from_str(content).ok()?;
    doc.get("Resources")?.as_array()?.iter().find_map(|r| {
        r.pointer("/TargetService/Properties/TaskDefinition")?
            .as_str()
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codedeploy::primitives::DateTime;
    use aws_sdk_codedeploy::types::{DeploymentStatus, RollbackInfo};

    #[test]
    fn the_task_definition_is_read_from_a_yaml_or_json_appspec() {
        let yaml = "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: arn:aws:ecs:us-east-1:1:task-definition/web:7\n";
        assert_eq!(
            appspec_task_definition(yaml).as_deref(),
            Some("arn:aws:ecs:us-east-1:1:task-definition/web:7")
        );
        let json = r#"{"version":0.0,"Resources":[{"TargetService":{"Properties":{"TaskDefinition":"td:2"}}}]}"#;
        assert_eq!(appspec_task_definition(json).as_deref(), Some("td:2"));
        assert_eq!(appspec_task_definition("not: [an appspec"), None);
    }

    #[test]
    fn a_deployment_without_a_record_was_not_started_by_kirikae() {
        let d = DeploymentInfo::builder()
            .deployment_id("d-1")
            .status(DeploymentStatus::Stopped)
            .create_time(DateTime::from_secs(100))
            .complete_time(DateTime::from_secs(160))
            .description("by hand")
            .rollback_info(
                RollbackInfo::builder()
                    .rollback_deployment_id("d-2")
                    .build(),
            )
            .build();
        let e = entry(&d, 1000.0);
        assert!(!e.started_by_kirikae);
        assert_eq!(e.who, NOT_KIRIKAE);
        assert_eq!(e.duration_seconds, Some(60.0));
        assert_eq!(
            e.rollback.and_then(|r| r.rolled_back_by).as_deref(),
            Some("d-2")
        );
        let mut audit = Record::from_env(|_| None);
        audit.by = Some("arn:aws:iam::1:root".into());
        let d = DeploymentInfo::builder()
            .status(DeploymentStatus::InProgress)
            .create_time(DateTime::from_secs(100))
            .description(format!(
                "kirikae deploy: web=x [kirikae run r-1] {}",
                audit.marker()
            ))
            .build();
        let e = entry(&d, 130.0);
        assert!(e.started_by_kirikae);
        assert_eq!(e.run_id.as_deref(), Some("r-1"));
        assert_eq!(e.who, "arn:aws:iam::1:root");
        assert_eq!(
            e.duration_seconds,
            Some(30.0),
            "a running one has run so far"
        );
    }
}
