//! `kirikae diff`: what a deploy would change, field by field, against what runs — the task definition as
//! a unified diff, the deployment group, the service, the AppSpec inputs (a `codedeploy:` config), or
//! the task definition, the deployment settings and the service (an `ecs:` config). The same files,
//! flags and read-only checks as `deploy --dry-run`; nothing is changed. The diff goes to stdout (colour
//! only on a terminal, never with NO_COLOR), messages to stderr. Exit status as diff(1)'s: 0 nothing
//! would change, 1 something would, 2 an error (bad input, a failed check, AWS unreachable).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use kirikae_engine::Error;
use kirikae_engine::config::Templater;
use kirikae_engine::connection::Connection;
use kirikae_engine::deploy;
use kirikae_engine::diff::native::NativeDiff;
use kirikae_engine::diff::{self, Diff};
use kirikae_engine::plan::{self, DeployFlags};
use serde_json::{Value, json};

use super::deploy::Output;
use super::read_args::{Aws, Selection};
use crate::exit::Status;
use crate::render::{self, Paint, color_enabled};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
    /// `text` (the diff on stdout) or `json` (one JSON document on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    aws: Aws,
}

pub async fn run(args: Args) -> ExitCode {
    let flags = args.selection.flags();
    let connection = args.aws.connection();
    let templater = Templater::from_process_env();
    let paint = Paint(color_enabled());
    let colour_out = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut docs = Vec::new();
    let mut worst = Status::Success;
    for path in &args.selection.configs {
        match compare(path, &flags, &templater, &connection).await {
            Ok(d) => {
                if args.output == Output::Text {
                    print!("{}", paint_diff(&d.text(), colour_out));
                }
                for w in d.warnings() {
                    eprintln!("{} {w}", paint.yellow("warning:"));
                }
                for note in d.notes() {
                    eprintln!("{} {note}", paint.dim("note:"));
                }
                eprintln!("{}", d.summary());
                if d.changed() {
                    worst = worst.worst(Status::Failure);
                }
                let mut doc = d.json();
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

/// One config's diff, on either controller.
enum Compared {
    CodeDeploy(Diff),
    Native(NativeDiff),
}

impl Compared {
    fn text(&self) -> String {
        match self {
            Compared::CodeDeploy(d) => d.text(),
            Compared::Native(d) => d.text(),
        }
    }

    fn summary(&self) -> String {
        match self {
            Compared::CodeDeploy(d) => d.summary(),
            Compared::Native(d) => d.summary(),
        }
    }

    fn changed(&self) -> bool {
        match self {
            Compared::CodeDeploy(d) => d.changed,
            Compared::Native(d) => d.changed,
        }
    }

    fn warnings(&self) -> &[String] {
        match self {
            Compared::CodeDeploy(d) => &d.warnings,
            Compared::Native(d) => &d.warnings,
        }
    }

    fn notes(&self) -> Vec<&String> {
        match self {
            Compared::CodeDeploy(d) => [&d.task_definition.note, &d.appspec.note]
                .into_iter()
                .flatten()
                .collect(),
            Compared::Native(d) => d.task_definition.note.iter().chain(&d.notes).collect(),
        }
    }

    /// The diff as JSON, with the controller it was compared for.
    fn json(&self) -> Value {
        match self {
            Compared::CodeDeploy(d) => {
                let mut doc = serde_json::to_value(d).expect("a diff serialises");
                doc["controller"] = json!("CODE_DEPLOY");
                doc
            }
            Compared::Native(d) => serde_json::to_value(d).expect("a diff serialises"),
        }
    }
}

/// One config: the plan, the same read-only checks as `deploy --dry-run`, then the comparison.
async fn compare(
    path: &Path,
    flags: &DeployFlags,
    templater: &Templater,
    connection: &Connection,
) -> Result<Compared, Error> {
    if let Some(plan) = kirikae_engine::native::plan::build(path, flags, templater)? {
        let prepared = kirikae_engine::native::prepare(plan, connection).await?;
        return diff::native::diff(&prepared).await.map(Compared::Native);
    }
    let plan = plan::build(path, flags, templater)?;
    let prepared = deploy::prepare(plan, connection).await?;
    diff::diff(&prepared).await.map(Compared::CodeDeploy)
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
