//! `kirikae history`: the config's deployment group's deployments, newest first — what each deployed,
//! who started it and from where, how long it ran, its rollback. Read-only. For a config with an `ecs:`
//! block, the service's service deployments (ECS controller), in the same table and JSON. The table goes to stdout
//! (it is the command's data); `--output json` prints one document instead, and `$GITHUB_OUTPUT` gets
//! the newest deployment's id and status.

use std::path::PathBuf;
use std::process::ExitCode;

use kirikae_engine::Error;
use kirikae_engine::config::Templater;
use kirikae_engine::connection::{Budget, Connection};
use kirikae_engine::history::{self, Entry};
use kirikae_engine::native::NativePlan;
use kirikae_engine::plan::{self, DeployFlags};
use serde_json::json;

use super::deploy::{Output, error_doc};
use crate::exit::Status;
use crate::render;
use crate::report::Report;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Config file naming the application and deployment group.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "kirikae.yml"
    )]
    config: PathBuf,
    /// Show at most this many deployments (the newest).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,
    /// `text` (a table on stdout) or `json` (one JSON document on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// AWS region (else the config's `region`, AWS_REGION, or the profile's).
    #[arg(long)]
    region: Option<String>,
    /// AWS profile from the shared config files.
    #[arg(long)]
    profile: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a `kirikae sandbox`); AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

pub async fn run(args: Args) -> ExitCode {
    let report = Report::new(args.output == Output::Json);
    let templater = Templater::from_process_env();
    match kirikae_engine::native::plan::build(&args.config, &DeployFlags::default(), &templater) {
        Ok(Some(native)) => return run_native(&args, &report, native).await,
        Ok(None) => {}
        Err(e) => return refused(&report, &Error::Config(e)),
    }
    let plan = match plan::build(&args.config, &DeployFlags::default(), &templater) {
        Ok(p) => p,
        Err(e) => return refused(&report, &Error::Config(e)),
    };
    let aws = match connection(&args).connect(plan.region.as_deref()).await {
        Ok(aws) => aws,
        Err(e) => return refused(&report, &Error::Config(e)),
    };
    let entries = match history::list(
        &aws,
        &plan.application,
        &plan.deployment_group,
        args.limit as usize,
    )
    .await
    {
        Ok(e) => e,
        Err(e) => return refused(&report, &e),
    };
    if args.output == Output::Text {
        let name = format!("{}/{}", plan.application, plan.deployment_group);
        print!("{}", table(&name, "deployments", &entries));
    }
    let newest = entries.first();
    report.write(vec![json!({
        "result": "history",
        "exit_code": 0,
        "application": plan.application,
        "deployment_group": plan.deployment_group,
        "cluster": plan.cluster,
        "service": plan.service,
        "deployment_id": newest.map(|e| e.deployment_id.clone()),
        "status": newest.map(|e| e.status.clone()),
        "deployments": entries,
    })])
}

/// The service deployments of a native service (a config with an `ecs:` block).
async fn run_native(args: &Args, report: &Report, plan: NativePlan) -> ExitCode {
    let aws = match connection(args).connect(plan.region.as_deref()).await {
        Ok(aws) => aws,
        Err(e) => return refused(report, &Error::Config(e)),
    };
    let entries =
        match history::list_native(&aws, &plan.cluster, &plan.service, args.limit as usize).await {
            Ok(e) => e,
            Err(e) => return refused(report, &e),
        };
    let name = format!("{}/{}", plan.cluster, plan.service);
    if args.output == Output::Text {
        print!("{}", table(&name, "service deployments", &entries));
    }
    let newest = entries.first();
    report.write(vec![json!({
        "result": "history",
        "exit_code": 0,
        "controller": "ECS",
        "cluster": plan.cluster,
        "service": plan.service,
        "deployment_id": newest.map(|e| e.deployment_id.clone()),
        "status": newest.map(|e| e.status.clone()),
        "deployments": entries,
    })])
}

fn connection(args: &Args) -> Connection {
    Connection {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        budget: Budget::per_second(kirikae_engine::connection::DEFAULT_CALLS_PER_SECOND),
        ..Connection::default()
    }
}

fn refused(report: &Report, e: &Error) -> ExitCode {
    render::error(e);
    let status = if e.is_config() {
        Status::Usage
    } else {
        Status::Failure
    };
    report.write(vec![error_doc(e, status)])
}

/// The human form: one block per deployment, newest first. `name` is the group (or the service), `what`
/// what its deployments are called.
fn table(name: &str, what: &str, entries: &[Entry]) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str(&format!("no {what} in {name} (it may not exist yet)\n"));
        return out;
    }
    let one = what.trim_end_matches('s');
    out.push_str(&format!(
        "{} {} of {name}, newest first\n",
        entries.len(),
        if entries.len() == 1 { one } else { what }
    ));
    for e in entries {
        out.push('\n');
        out.push_str(&format!(
            "{}  {}  {}  {}  {}\n",
            e.deployment_id,
            e.status,
            e.created_at.map_or_else(|| "-".into(), utc),
            e.duration_seconds.map_or_else(|| "-".into(), duration),
            e.task_definition.as_deref().unwrap_or("-"),
        ));
        if !e.images.is_empty() {
            let images: Vec<String> = e
                .images
                .iter()
                .map(|i| format!("{}={}", i.container, i.image))
                .collect();
            out.push_str(&format!("  images    {}\n", images.join(", ")));
        }
        out.push_str(&format!("  by        {}\n", e.who));
        out.push_str(&format!("  from      {}\n", e.from));
        if let Some(v) = &e.kirikae_version {
            out.push_str(&format!("  kirikae   {v}\n"));
        } else if let Some(c) = &e.creator {
            out.push_str(&format!("  creator   {c}\n"));
        }
        if let Some(r) = &e.rollback {
            let mut said = Vec::new();
            if let Some(by) = &r.rolled_back_by {
                said.push(format!("rolled back by {by}"));
            }
            if let Some(of) = &r.rolls_back {
                said.push(format!("rolls back {of}"));
            }
            if let Some(m) = &r.message {
                said.push(m.clone());
            }
            out.push_str(&format!("  rollback  {}\n", said.join("; ")));
        }
        if let Some(err) = &e.error {
            out.push_str(&format!("  error     {err}\n"));
        }
    }
    out
}

fn utc(epoch: f64) -> String {
    kirikae_engine::sdk::codedeploy::primitives::DateTime::from_secs(epoch as i64)
        .fmt(kirikae_engine::sdk::codedeploy::primitives::DateTimeFormat::DateTime)
        .unwrap_or_else(|_| format!("{epoch}"))
}

fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}
