//! `kirikae rollback` after a deployment has finished: which task definition ran before the one the
//! service runs now, found from the deployment group's history. Read-only; the rollback itself is a new
//! Blue/Green deployment of that revision, with every check `deploy` makes.
//!
//! The service's primary task set names what runs now (`DescribeServices.taskDefinition`). The newest
//! successful deployment of that task definition is the one to undo. What ran before it is the task
//! definition that deployment recorded it replaced (kirikae's audit record, `replaces`: it also knows a
//! revision the service was created with, which no deployment brought), else the newest successful
//! deployment before it of another task definition. Failed and stopped deployments never served
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
    /// The successful deployment that brought `current`.
    pub undoes: Entry,
    /// The task definition to deploy again.
    pub task_definition_arn: String,
    /// How it is known: the earlier deployment that deployed it, or (None) the record the undone
    /// deployment carries of what the service ran before it.
    pub deployed_by: Option<Entry>,
}

impl Previous {
    /// `family` and `revision` of the target.
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
    let entries =
        history::list(aws, &group.application, &group.deployment_group, usize::MAX).await?;
    let deployed: Vec<Deployed> = entries.iter().map(Deployed::of).collect();
    let (undoes, target) = choose(&current, &deployed, &group.deployment_group)?;
    let (task_definition_arn, deployed_by) = match target {
        Target::Deployment(i) => (
            entries[i].task_definition_arn.clone().unwrap_or_default(),
            Some(entries[i].clone()),
        ),
        Target::Recorded(arn) => (arn, None),
    };
    Ok(Previous {
        current,
        undoes: entries[undoes].clone(),
        task_definition_arn,
        deployed_by,
    })
}

/// What the choice looks at in one deployment.
struct Deployed<'a> {
    id: &'a str,
    succeeded: bool,
    task_definition_arn: Option<&'a str>,
    /// What the service ran when kirikae created it (its audit record), if recorded.
    replaces: Option<&'a str>,
}

impl<'a> Deployed<'a> {
    fn of(e: &'a Entry) -> Self {
        Deployed {
            id: &e.deployment_id,
            succeeded: e.status == "Succeeded",
            task_definition_arn: e.task_definition_arn.as_deref(),
            replaces: e.audit.as_ref().and_then(|a| a.replaces.as_deref()),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// The deployment at this index deployed it.
    Deployment(usize),
    /// A deployment recorded that the service ran it before.
    Recorded(String),
}

/// Over the group's deployments newest first: the index of the successful deployment that brought
/// `current`, and what ran before it — what that deployment recorded it replaced, or else the newest
/// earlier successful deployment of another task definition (redeploys of `current` are passed over;
/// failed and stopped deployments never served for good). Pure, unit-tested.
fn choose(current: &str, deployed: &[Deployed], group: &str) -> Result<(usize, Target), Error> {
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
    let recorded = |d: &Deployed| {
        d.replaces
            .filter(|r| *r != current)
            .map(|r| Target::Recorded(r.to_string()))
    };
    if let Some(t) = recorded(undone) {
        return Ok((undoes, t));
    }
    for (i, d) in older {
        if d.task_definition_arn != Some(current) {
            return Ok((undoes, Target::Deployment(i)));
        }
        if let Some(t) = recorded(d) {
            return Ok((undoes, t));
        }
    }
    Err(Error::Conflict {
        message: format!(
            "deployment {} brought {} and the group's history does not say what ran before it: there is no earlier revision to roll back to",
            undone.id,
            crate::deploy::short_arn(current)
        ),
        hint: Some(
            "kirikae deploy --revision N deploys a revision of your choice Blue/Green".into(),
        ),
    })
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

    fn deployed<'a>(
        id: &'a str,
        status: &str,
        td: &'a str,
        replaces: Option<&'a str>,
    ) -> Deployed<'a> {
        Deployed {
            id,
            succeeded: status == "Succeeded",
            task_definition_arn: Some(td),
            replaces,
        }
    }

    #[test]
    fn the_target_is_the_last_success_of_another_revision_before_the_current_ones() {
        let tds: Vec<String> = [5, 4, 4, 3, 2].into_iter().map(td).collect();
        let history = [
            deployed("d-5", "Failed", &tds[0], None), // rolled back: never served for good
            deployed("d-4", "Succeeded", &tds[1], None), // brought what runs now
            deployed("d-3", "Succeeded", &tds[2], None), // redeployed the same revision
            deployed("d-2", "Stopped", &tds[3], None),
            deployed("d-1", "Succeeded", &tds[4], None),
        ];
        assert_eq!(
            choose(&td(4), &history, "g").unwrap(),
            (1, Target::Deployment(4))
        );
    }

    #[test]
    fn what_a_deployment_recorded_it_replaced_comes_first() {
        let (four, one, four_again) = (td(4), td(1), td(4));
        // d-2 brought revision 4 and recorded that the service ran revision 1 (created with it).
        let history = [
            deployed("d-2", "Succeeded", &four, Some(&one)),
            deployed("d-1", "Succeeded", &four_again, None),
        ];
        assert_eq!(
            choose(&four, &history, "g").unwrap(),
            (0, Target::Recorded(one.clone()))
        );
        // A redeploy records the revision it replaced as itself: look further back.
        let history = [
            deployed("d-3", "Succeeded", &four, Some(&four_again)),
            deployed("d-2", "Succeeded", &four, Some(&one)),
        ];
        assert_eq!(
            choose(&four, &history, "g").unwrap(),
            (0, Target::Recorded(one))
        );
    }

    #[test]
    fn without_anything_earlier_there_is_nothing_to_roll_back_to() {
        let four = td(4);
        let only = [deployed("d-1", "Succeeded", &four, None)];
        let e = choose(&four, &only, "g").unwrap_err();
        assert!(e.to_string().contains("no earlier revision"), "{e}");
        let e = choose(&td(9), &only, "g").unwrap_err();
        assert!(
            e.to_string().contains("no successful deployment of it"),
            "{e}"
        );
    }
}
