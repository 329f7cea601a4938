//! `kirikae verify`: the whole read-only half of a deploy — files, templating, every check against AWS —
//! for each config, with each check shown as it passed (✓) or the one that failed (✗). It changes
//! nothing. Exit 0 when every config would deploy, 2 when a check found a problem, 1 when AWS could not
//! be asked (network, credentials).

use std::path::PathBuf;
use std::process::ExitCode;

use kirikae_engine::Error;
use kirikae_engine::config::Templater;
use kirikae_engine::connection::Connection;
use kirikae_engine::deploy;
use kirikae_engine::plan::{self, DeployFlags, TaskDefinitionChoice};
use serde_json::{Value, json};

use super::deploy::{Output, container_image};
use crate::exit::Status;
use crate::render::{Paint, color_enabled};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Config file (YAML or JSON). Repeat to verify several services.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "kirikae.yml"
    )]
    configs: Vec<PathBuf>,
    /// Verify with this image for a container, as `deploy --image` would deploy it. Repeatable.
    #[arg(long = "image", value_name = "CONTAINER=IMAGE", value_parser = container_image)]
    images: Vec<(String, String)>,
    /// Verify deploying the latest registered revision of the family.
    #[arg(long, conflicts_with = "revision")]
    skip_task_definition: bool,
    /// Verify deploying this revision of the family.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    revision: Option<i32>,
    /// `text` (checks on stderr) or `json` (one JSON document on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// AWS region (else the config's `region`, AWS_REGION, or the profile's).
    #[arg(long)]
    region: Option<String>,
    /// AWS profile from the shared config files (SSO profiles work).
    #[arg(long)]
    profile: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a `kirikae sandbox`); AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

pub async fn run(args: Args) -> ExitCode {
    let flags = DeployFlags {
        images: args.images.clone(),
        task_definition: match (args.skip_task_definition, args.revision) {
            (_, Some(n)) => TaskDefinitionChoice::Revision(n),
            (true, None) => TaskDefinitionChoice::Latest,
            (false, None) => TaskDefinitionChoice::Register,
        },
        ..DeployFlags::default()
    };
    let connection = Connection {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        ..Connection::default()
    };
    let templater = Templater::from_process_env();
    let paint = Paint(color_enabled());
    let mut docs = Vec::new();
    let mut worst = Status::Success;
    for path in &args.configs {
        eprintln!("{}", paint.bold(&path.display().to_string()));
        let (passed, warnings, failed) = match plan::build(path, &flags, &templater) {
            Ok(plan) => {
                let v = deploy::verify(&plan, &connection).await;
                (v.passed, v.warnings, v.failed)
            }
            Err(e) => (Vec::new(), Vec::new(), Some(Error::Config(e))),
        };
        for p in &passed {
            eprintln!("  {} {p}", paint.green("✓"));
        }
        for w in &warnings {
            eprintln!("  {} {w}", paint.yellow("warning:"));
        }
        let status = match &failed {
            None => Status::Success,
            Some(e @ Error::Aws { .. }) => {
                eprintln!("  {} could not check: {e}", paint.red("✗"));
                Status::Failure
            }
            Some(e) => {
                eprintln!("  {} {e}", paint.red("✗"));
                Status::Usage
            }
        };
        worst = worst.worst(status);
        docs.push(doc(path, &passed, &warnings, failed.as_ref(), status));
    }
    let summary = if worst == Status::Success {
        paint.green("every check passed: nothing was changed")
    } else {
        paint.red("a check failed: nothing was changed")
    };
    eprintln!("{summary}");
    if args.output == Output::Json {
        let doc =
            json!({"ok": worst == Status::Success, "exit_code": worst as u8, "configs": docs});
        println!("{doc:#}");
    }
    worst.into()
}

fn doc(
    path: &std::path::Path,
    passed: &[String],
    warnings: &[String],
    failed: Option<&Error>,
    status: Status,
) -> Value {
    let error = failed.map(|e| super::deploy::error_doc(e, status)["error"].clone());
    json!({
        "config": path.display().to_string(),
        "ok": failed.is_none(),
        "passed": passed,
        "warnings": warnings,
        "error": error,
    })
}
