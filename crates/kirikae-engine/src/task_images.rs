//! The images a registered task definition runs, as DescribeTaskDefinition says them: what the gate's
//! command is told green runs, and what history shows for a deployment.

use crate::aws::failed;
use crate::connection::Clients;
use crate::error::Error;
use crate::outcome::Image;

/// Each container of task definition `arn` (a family:revision works too) with its image.
pub async fn of(aws: &Clients, arn: &str) -> Result<Vec<Image>, Error> {
    let described = aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeTaskDefinition", e))?;
    Ok(described
        .task_definition()
        .map(|t| {
            t.container_definitions()
                .iter()
                .filter_map(|c| {
                    Some(Image {
                        container: c.name()?.to_string(),
                        image: c.image()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default())
}
