//! `kirikae verify`: the whole read-only half of a deploy — files, templating, every check against AWS —
//! for each config, with each check shown as it passed (✓) or the one that failed (✗). It changes
//! nothing. Exit 0 when every config would deploy, 2 when a check found a problem, 1 when AWS could not
//! be asked (network, credentials).

use std::process::ExitCode;

use kirikae_engine::Error;
use kirikae_engine::config::Templater;
use kirikae_engine::deploy;
use kirikae_engine::plan;
use serde_json::{Value, json};

use super::deploy::Output;
use super::read_args::{Aws, Selection};
use crate::exit::Status;
use crate::render::{Paint, color_enabled};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
    /// `text` (checks on stderr) or `json` (one JSON document on stdout).
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
    let mut docs = Vec::new();
    let mut worst = Status::Success;
    for path in &args.selection.configs {
        eprintln!("{}", paint.bold(&path.display().to_string()));
        let native = kirikae_engine::native::plan::build(path, &flags, &templater);
        let (passed, warnings, failed) = match native {
            Ok(Some(plan)) => kirikae_engine::native::verify(&plan, &connection).await,
            Err(e) => (Vec::new(), Vec::new(), Some(Error::Config(e))),
            Ok(None) => match plan::build(path, &flags, &templater) {
                Ok(plan) => {
                    let v = deploy::verify(&plan, &connection).await;
                    (v.passed, v.warnings, v.failed)
                }
                Err(e) => (Vec::new(), Vec::new(), Some(Error::Config(e))),
            },
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
