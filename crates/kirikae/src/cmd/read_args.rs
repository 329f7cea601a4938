//! The flags `verify` and `diff` share with `deploy`: which configs and task definition a deploy would
//! use, and the AWS connection. One definition, so the read-only commands take exactly what `deploy`
//! takes and mean the same by it.

use std::path::PathBuf;

use kirikae_engine::connection::Connection;
use kirikae_engine::plan::{DeployFlags, TaskDefinitionChoice};

use super::deploy::container_image;

/// What a deploy would deploy.
#[derive(clap::Args, Debug)]
pub struct Selection {
    /// Config file (YAML or JSON). Repeat for several services.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "kirikae.yml"
    )]
    pub configs: Vec<PathBuf>,
    /// This image for a container, as `deploy --image` would deploy it. Repeatable.
    #[arg(long = "image", value_name = "CONTAINER=IMAGE", value_parser = container_image)]
    pub images: Vec<(String, String)>,
    /// The latest registered revision of the family, as `deploy --skip-task-definition` would deploy it.
    #[arg(long, conflicts_with = "revision")]
    pub skip_task_definition: bool,
    /// This revision of the family, as `deploy --revision N` would deploy it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub revision: Option<i32>,
}

impl Selection {
    pub fn flags(&self) -> DeployFlags {
        DeployFlags {
            images: self.images.clone(),
            task_definition: match (self.skip_task_definition, self.revision) {
                (_, Some(n)) => TaskDefinitionChoice::Revision(n),
                (true, None) => TaskDefinitionChoice::Latest,
                (false, None) => TaskDefinitionChoice::Register,
            },
            ..DeployFlags::default()
        }
    }
}

/// The AWS connection.
#[derive(clap::Args, Debug)]
pub struct Aws {
    /// AWS region (else the config's `region`, AWS_REGION, or the profile's).
    #[arg(long)]
    pub region: Option<String>,
    /// AWS profile from the shared config files (SSO profiles work).
    #[arg(long)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a `kirikae sandbox`); AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl Aws {
    pub fn connection(&self) -> Connection {
        Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            ..Connection::default()
        }
    }
}
