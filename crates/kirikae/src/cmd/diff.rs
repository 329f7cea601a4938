//! `kirikae diff`: what a deploy would change, field by field, against what runs — the task definition as
//! a unified diff, the deployment group, the service, the AppSpec inputs. The same files, flags and
//! read-only checks as `deploy --dry-run`; nothing is changed. The diff goes to stdout (colour only on a
//! terminal, never with NO_COLOR), messages to stderr. Exit status as diff(1)'s: 0 nothing would change,
//! 1 something would, 2 an error (bad input, a failed check, AWS unreachable).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kirikae_engine::Error;
use kirikae_engine::config::Templater;
use kirikae_engine::connection::Connection;
use kirikae_engine::deploy;
use kirikae_engine::diff::{self, Diff};
use kirikae_engine::plan::{self, DeployFlags, TaskDefinitionChoice};
use serde_json::{Value, json};

use super::deploy::{Output, container_image};
use crate::exit::Status;
use crate::render::{self, Paint, color_enabled};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Config file (YAML or JSON). Repeat to compare several services.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "kirikae.yml"
    )]
    configs: Vec<PathBuf>,
    /// Compare with this image for a container, as `deploy --image` would deploy it. Repeatable.
    #[arg(long = "image", value_name = "CONTAINER=IMAGE", value_parser = container_image)]
    images: Vec<(String, String)>,
    /// Compare the latest registered revision of the family, as `deploy --skip-task-definition` would
    /// deploy it.
    #[arg(long, conflicts_with = "revision")]
    skip_task_definition: bool,
    /// Compare this revision of the family, as `deploy --revision N` would deploy it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    revision: Option<i32>,
    /// `text` (the diff on stdout) or `json` (one JSON document on stdout).
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
    let colour_out = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut docs = Vec::new();
    let mut worst = Status::Success;
    for path in &args.configs {
        match compare(path, &flags, &templater, &connection).await {
            Ok(d) => {
                if args.output == Output::Text {
                    print!("{}", paint_diff(&d.text(), colour_out));
                }
                for w in &d.warnings {
                    eprintln!("{} {w}", paint.yellow("warning:"));
                }
                for note in [&d.task_definition.note, &d.appspec.note]
                    .into_iter()
                    .flatten()
                {
                    eprintln!("{} {note}", paint.dim("note:"));
                }
                eprintln!("{}", d.summary());
                if d.changed {
                    worst = worst.worst(Status::Failure);
                }
                let mut doc = serde_json::to_value(&d).expect("a diff serialises");
                doc["error"] = Value::Null;
                docs.push(doc);
            }
            Err(e) => {
                render::error(&e);
                worst = worst.worst(Status::Usage);
                docs.push(json!({
                    "config": path.display().to_string(),
                    "changed": Value::Null,
                    "error": super::deploy::error_doc(&e, Status::Usage)["error"].clone(),
                }));
            }
        }
    }
    if args.output == Output::Json {
        let doc = json!({
            "changed": docs.iter().any(|d| d["changed"] == true),
            "exit_code": worst as u8,
            "configs": docs,
        });
        println!("{doc:#}");
    }
    worst.into()
}

/// One config: the plan, the same read-only checks as `deploy --dry-run`, then the comparison.
async fn compare(
    path: &Path,
    flags: &DeployFlags,
    templater: &Templater,
    connection: &Connection,
) -> Result<Diff, Error> {
    let plan = plan::build(path, flags, templater)?;
    let prepared = deploy::prepare(plan, connection).await?;
    diff::diff(&prepared).await
}

/// Colours a diff by line: headers bold, hunk ranges blue, removals red, additions green.
fn paint_diff(text: &str, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let paint = Paint(true);
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let painted = if line.starts_with("---") || line.starts_with("+++") {
            paint.bold(line)
        } else if line.starts_with("@@") {
            paint.blue(line)
        } else if line.starts_with('-') {
            paint.red(line)
        } else if line.starts_with('+') {
            paint.green(line)
        } else if line.starts_with('#') {
            paint.dim(line)
        } else {
            line.to_string()
        };
        out.push_str(&painted);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_when_asked() {
        let text = "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z\n";
        assert_eq!(paint_diff(text, false), text);
        let painted = paint_diff(text, true);
        assert!(painted.contains("\x1b[31m-x\x1b[0m"), "{painted:?}");
        assert!(painted.contains("\x1b[32m+y\x1b[0m"), "{painted:?}");
        assert!(painted.contains("\n z\n"), "{painted:?}");
    }
}
