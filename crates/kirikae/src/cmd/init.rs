//! `kirikae init --cluster C --service S [--dir DIR] [--force]`: writes `kirikae.yml`,
//! `task-definition.json` and `service-definition.json` from a service that runs (read-only calls only),
//! then says what could not be carried over and what to run next. Exit 0 when written, 2 on bad input
//! (no such service, files already there without --force, a service kirikae cannot take over), 1 when
//! AWS could not be asked.

use std::path::PathBuf;
use std::process::ExitCode;

use kirikae_engine::Error;
use kirikae_engine::init;
use serde_json::json;

use super::deploy::{Output, fail};
use super::read_args::Aws;
use crate::exit::Status;
use crate::render::{Paint, color_enabled};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ECS cluster the service runs in.
    #[arg(long)]
    cluster: String,
    /// The service to read.
    #[arg(long)]
    service: String,
    /// Where to write the files (created when missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Overwrite files that already exist.
    #[arg(long)]
    force: bool,
    /// `text` (messages on stderr) or `json` (one JSON document on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    aws: Aws,
}

pub async fn run(args: Args) -> ExitCode {
    let json_out = args.output == Output::Json;
    let paint = Paint(color_enabled());
    let connection = args.aws.connection();
    let aws = match connection.connect(None).await {
        Ok(aws) => aws,
        Err(e) => return fail(json_out, &Error::Config(e)),
    };
    let read = match init::read(&aws, &args.cluster, &args.service).await {
        Ok(r) => r,
        Err(e) => return fail(json_out, &e),
    };
    let written = match init::write(&args.dir, &read, args.force) {
        Ok(paths) => paths,
        Err(e) => return fail(json_out, &Error::Config(e)),
    };
    for p in &written {
        eprintln!("{} {}", paint.green("wrote"), p.display());
    }
    // What init writes must read back as kirikae deploy reads it; if not, that is kirikae's bug.
    if let Err(e) = init::check_written(&args.dir) {
        let e = Error::Conflict {
            message: format!(
                "the files kirikae init wrote do not validate (a bug in kirikae): {e}"
            ),
            hint: None,
        };
        return fail(json_out, &e);
    }
    for n in &read.notes {
        eprintln!("{} {n}", paint.yellow("note:"));
    }
    let config = args.dir.join(init::CONFIG_FILE);
    let mut next = Vec::new();
    let rolling = read.strategy.as_deref() == Some("ROLLING");
    if read.needs_setup || rolling {
        next.push(format!("kirikae setup -c {} --dry-run", config.display()));
    }
    next.push(format!("kirikae diff -c {}", config.display()));
    eprintln!("next: {}", next.join("   then   "));
    if json_out {
        let doc = json!({
            "result": "written",
            "exit_code": 0,
            "cluster": read.cluster,
            "service": read.service,
            "region": read.region,
            "controller": read.controller,
            "strategy": read.strategy,
            "deployment_group": read.deployment_group,
            "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "notes": read.notes,
            "needs_setup": read.needs_setup,
            "next": next,
        });
        println!("{doc:#}");
    }
    Status::Success.into()
}
