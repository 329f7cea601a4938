//! `kirikae rollback` after a deployment has finished: which task definition ran before the one the
//! service runs now, found from the deployment group's history. Read-only; the rollback itself is a new
//! Blue/Green deployment of that revision, with every check `deploy` makes.
//!
//! The service's primary task set names what runs now (`DescribeServices.taskDefinition`). The newest
//! successful deployment of that task definition is the one to undo; the newest successful deployment
//! before it of another task definition is what ran before. Failed and stopped deployments never served
//! production for good (CodeDeploy rolled them back or left blue serving), so they are skipped.

use serde::Serialize;

use crate::aws::failed;
use crate::connection::Clients;
use crate::error::Error;
use crate::history::{self, Entry};
use crate::operate::Group;

/// What a rollback of the finished deployment would deploy.
#[derive(Debug, Clone, Serialize)]
pub struct Previous {
    /// The task definition the service runs now.
    pub current: String,
    /// The successful deployment that brought `current`, if the group's history has it.
    pub undoes: Option<Entry>,
    /// The successful deployment before it, of another task definition: what to deploy again.
    pub target: Entry,
    /// The target's task definition ARN.
    pub task_definition_arn: String,
}

impl Previous {
    /// `family:revision` of the target.
    pub fn revision(&self) -> Option<(String, i32)> {
        let short = crate::deploy::short_arn(&self.task_definition_arn);
        let (family, revision) = short.rsplit_once(':')?;
        Some((family.to_string(), revision.parse().ok()?))
    }
}

/// Finds what ran before the service's current task definition; an `Error::Conflict` that says why
/// when the history does not tell.
pub async fn find(aws: &Clients, group: &Group) -> Result<Previous, Error> {
    let current = running_task_definition(aws, group).await?;
    let mut entries =
        history::list(aws, &group.application, &group.deployment_group, usize::MAX).await?;
    let deployed: Vec<Deployed> = entries.iter().map(Deployed::of).collect();
    let (undoes, target) = choose(&current, &deployed, &group.deployment_group)?;
    let undoes = undoes.map(|i| entries[i].clone());
    let target = entries.swap_remove(target);
    let task_definition_arn = target.task_definition_arn.clone().unwrap_or_default();
    Ok(Previous {
        current,
        undoes,
        target,
        task_definition_arn,
    })
}

/// What the choice looks at in one deployment.
struct Deployed<'a> {
    id: &'a str,
    succeeded: bool,
    task_definition_arn: Option<&'a str>,
}

impl<'a> Deployed<'a> {
    fn of(e: &'a Entry) -> Self {
        Deployed {
            id: &e.deployment_id,
            succeeded: e.status == "Succeeded",
            task_definition_arn: e.task_definition_arn.as_deref(),
        }
    }
}

/// Over the group's deployments newest first: the index of the deployment that brought `current` and
/// of the one to deploy again (pure, unit-tested).
fn choose(
    current: &str,
    deployed: &[Deployed],
    group: &str,
) -> Result<(Option<usize>, usize), Error> {
    let mut older = deployed
        .iter()
        .enumerate()
        .filter(|(_, d)| d.succeeded && d.task_definition_arn.is_some());
    let Some((undoes, undone)) = older
        .by_ref()
        .find(|(_, d)| d.task_definition_arn == Some(current))
    else {
        return Err(Error::Conflict {
            message: format!(
                "the service runs {} and no successful deployment of it is in {group}'s history: there is no earlier revision to roll back to",
                crate::deploy::short_arn(current)
            ),
            hint: Some(
                "kirikae history -c FILE lists the group's deployments; kirikae deploy --revision N deploys a revision of your choice".into(),
            ),
        });
    };
    let (target, _) = older
        .find(|(_, d)| d.task_definition_arn != Some(current))
        .ok_or_else(|| Error::Conflict {
            message: format!(
                "deployment {} brought {} and no successful deployment of another task definition came before it in {group}: there is no earlier revision to roll back to",
                undone.id,
                crate::deploy::short_arn(current)
            ),
            hint: Some(
                "kirikae deploy --revision N deploys a revision of your choice Blue/Green".into(),
            ),
        })?;
    Ok((Some(undoes), target))
}

async fn running_task_definition(aws: &Clients, group: &Group) -> Result<String, Error> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(&group.cluster)
        .services(&group.service)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServices", e))?;
    out.services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))
        .and_then(|s| s.task_definition())
        .map(str::to_string)
        .ok_or_else(|| Error::Conflict {
            message: format!(
                "service {} in cluster {} does not exist or is not ACTIVE: nothing to roll back",
                group.service, group.cluster
            ),
            hint: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td(revision: u32) -> String {
        format!("arn:aws:ecs:us-east-1:123456789012:task-definition/web:{revision}")
    }

    #[test]
    fn the_target_is_the_last_success_of_another_revision_before_the_current_ones() {
        let tds: Vec<String> = [5, 4, 4, 3, 2].into_iter().map(td).collect();
        let statuses = ["Failed", "Succeeded", "Succeeded", "Stopped", "Succeeded"];
        let ids = ["d-5", "d-4", "d-3", "d-2", "d-1"];
        let deployed: Vec<Deployed> = (0..5)
            .map(|i| Deployed {
                id: ids[i],
                succeeded: statuses[i] == "Succeeded",
                task_definition_arn: Some(&tds[i]),
            })
            .collect();
        // d-5 was rolled back (never served for good), d-4 brought what runs now, d-3 redeployed the
        // same revision, d-2 was stopped: d-1's revision ran before.
        assert_eq!(choose(&td(4), &deployed, "g").unwrap(), (Some(1), 4));
    }

    #[test]
    fn without_an_earlier_success_there_is_nothing_to_roll_back_to() {
        let four = td(4);
        let only = [Deployed {
            id: "d-1",
            succeeded: true,
            task_definition_arn: Some(&four),
        }];
        let e = choose(&four, &only, "g").unwrap_err();
        assert!(e.to_string().contains("no earlier revision"), "{e}");
        let e = choose(&td(9), &only, "g").unwrap_err();
        assert!(
            e.to_string().contains("no successful deployment of it"),
            "{e}"
        );
    }
}
