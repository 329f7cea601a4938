//! `kirikae setup -c FILE [--dry-run] [--output json]`: prints the plan (what exists, what it creates,
//! what it only says), then creates the missing pieces of the config's Blue/Green: the second target
//! group, the test listener, the CodeDeploy service role — or, for an `ecs:` block, the infrastructure
//! role and the production listener's weighted form. The config and definitions are validated and
//! every problem is found with read-only calls before the first change. Exit 0 when done (or nothing
//! to do, or --dry-run), 2 on a problem found before any change, 1 when a creating call failed (the
//! message lists what was created).

use std::path::PathBuf;
use std::process::ExitCode;

use kirikae_engine::Error;
use kirikae_engine::config::Templater;
use kirikae_engine::native;
use kirikae_engine::plan::{self, DeployFlags};
use kirikae_engine::setup;
use serde_json::{Value, json};

use super::deploy::{Output, error_doc, fail};
use super::read_args::Aws;
use crate::exit::Status;
use crate::render::{self, Paint, color_enabled};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Config file (YAML or JSON).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "kirikae.yml"
    )]
    config: PathBuf,
    /// Print the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// `text` (the plan on stderr) or `json` (the plan and what was created, on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    aws: Aws,
}

pub async fn run(args: Args) -> ExitCode {
    let json_out = args.output == Output::Json;
    let paint = Paint(color_enabled());
    let (flags, templater) = (DeployFlags::default(), Templater::from_process_env());
    // A config with an `ecs:` block is ECS-native Blue/Green; else it has a `codedeploy:` block.
    let planned = match native::plan::build(&args.config, &flags, &templater) {
        Ok(Some(plan)) => match args.aws.connection().connect(plan.region.as_deref()).await {
            Ok(aws) => setup::plan_native(&plan, &aws).await.map(|s| (s, aws)),
            Err(e) => Err(Error::Config(e)),
        },
        Ok(None) => match plan::build(&args.config, &flags, &templater) {
            Ok(plan) => match args.aws.connection().connect(plan.region.as_deref()).await {
                Ok(aws) => setup::plan(&plan, &aws).await.map(|s| (s, aws)),
                Err(e) => Err(Error::Config(e)),
            },
            Err(e) => Err(Error::Config(e)),
        },
        Err(e) => Err(Error::Config(e)),
    };
    let (planned, aws) = match planned {
        Ok(p) => p,
        Err(e) => return fail(json_out, &e),
    };
    eprintln!(
        "{}",
        paint.bold(&format!("{}: setup plan", args.config.display()))
    );
    for s in &planned.steps {
        let (mark, verb) = match s.action {
            "create" => (paint.green("+"), "create "),
            "modify" => (paint.yellow("~"), "modify "),
            "exists" => (paint.dim("✓"), ""),
            _ => (paint.dim("·"), ""),
        };
        let mut line = format!("  {mark} {verb}{}", s.resource);
        if s.action == "exists" {
            line.push_str(" exists");
        }
        if !s.detail.is_empty() {
            line.push_str(&format!(": {}", s.detail));
        }
        eprintln!("{line}");
    }
    let steps: Value = serde_json::to_value(&planned.steps).expect("steps serialise");
    let creates = planned.creates_anything();
    if args.dry_run || !creates {
        eprintln!(
            "{}",
            if !creates {
                "nothing to create: nothing was changed".to_string()
            } else {
                "dry run: nothing was changed".to_string()
            }
        );
        if json_out {
            println!(
                "{:#}",
                json!({"result": if args.dry_run { "dry_run" } else { "nothing_to_create" }, "exit_code": 0,
                       "config": args.config.display().to_string(), "plan": steps, "created": []})
            );
        }
        return Status::Success.into();
    }
    let done = setup::execute(&planned, &aws).await;
    for c in &done.created {
        eprintln!("{} {c}", paint.green("created"));
    }
    let (status, result, error) = match &done.error {
        None => {
            eprintln!("setup done: nothing that existed was changed");
            (Status::Success, "created", Value::Null)
        }
        Some(e) => {
            render::error(e);
            eprintln!(
                "created before the failure: {}; run setup again to create the rest",
                if done.created.is_empty() {
                    "nothing".to_string()
                } else {
                    done.created.join(", ")
                }
            );
            (
                Status::Failure,
                "failed",
                error_doc(e, Status::Failure)["error"].clone(),
            )
        }
    };
    if json_out {
        println!(
            "{:#}",
            json!({"result": result, "exit_code": status as u8, "config": args.config.display().to_string(),
                   "plan": steps, "created": done.created, "error": error})
        );
    }
    status.into()
}
