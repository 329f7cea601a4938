//! `kirikae deploy`: Blue/Green deploy of one ECS service per config file, through CodeDeploy.
//!
//! Every config is read, templated and validated, then checked against AWS with read-only calls, before
//! anything is changed anywhere. Data (the result, `--output json`) goes to stdout; progress and messages to
//! stderr. See [`crate::exit`] for the exit statuses.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use kirikae_engine::config::Templater;
use kirikae_engine::connection::{self, Budget, Connection};
use kirikae_engine::deploy::{self, Prepared};
use kirikae_engine::outcome::Outcome;
use kirikae_engine::plan::{self, DeployFlags, TaskDefinitionChoice, WaitMode, WaitOptions};
use kirikae_engine::{ConfigError, Error};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::exit::Status;
use crate::render::{self, Renderer};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Config file (YAML or JSON). Repeat to deploy several services.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "kirikae.yml"
    )]
    configs: Vec<PathBuf>,
    /// Override a container's image without editing files. Repeatable.
    #[arg(long = "image", value_name = "CONTAINER=IMAGE", value_parser = container_image)]
    images: Vec<(String, String)>,
    /// Deploy the latest registered revision of the task definition's family instead of registering.
    #[arg(long, conflicts_with = "revision")]
    skip_task_definition: bool,
    /// Deploy this revision of the task definition's family instead of registering.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    revision: Option<i32>,
    /// Check everything and print what would be done; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Deploy even when the service already runs exactly this task definition.
    #[arg(long)]
    force: bool,
    /// Return once the deployment (or the new service) is created.
    #[arg(long, conflicts_with = "wait_until")]
    no_wait: bool,
    /// Return successfully once this lifecycle event has succeeded (e.g. AfterAllowTestTraffic).
    #[arg(long, value_name = "EVENT")]
    wait_until: Option<String>,
    /// Stop waiting after this long (e.g. 30m); the deployment goes on in AWS (exit 3). Default: the
    /// deployment group's waits plus 30 minutes.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    timeout: Option<Duration>,
    /// `text` (a summary on stderr) or `json` (one JSON document on stdout).
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
    /// Attempts per AWS call, including the first; retries back off exponentially (with jitter, up to
    /// 10 s apart), so a throttled account is waited out rather than failing the deploy.
    #[arg(long, default_value_t = kirikae_engine::connection::DEFAULT_MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: u32,
    /// With several configs: how many services are checked and deployed at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,
    /// AWS API calls per second for all services together (bursts of twice as many); 0: no limit. The
    /// default stays within the throttling rates ECS and ELB document, with room for other tools.
    #[arg(long, value_name = "N", default_value_t = connection::DEFAULT_CALLS_PER_SECOND,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    max_api_calls_per_second: u32,
    /// Time between two polls while waiting.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration, hide = true)]
    poll_interval: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

fn container_image(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((c, i)) if !c.is_empty() && !i.is_empty() => Ok((c.to_string(), i.to_string())),
        _ => Err(format!(
            "`{s}` is not CONTAINER=IMAGE (e.g. web=kirikae/demo:v2)"
        )),
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 90s, 30m, 1h)"))
}

impl Args {
    fn flags(&self) -> Result<DeployFlags, ConfigError> {
        let mode = match (&self.wait_until, self.no_wait) {
            (Some(e), _) => WaitMode::Until(
                plan::lifecycle_event_name(e)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.clone()),
            ),
            (None, true) => WaitMode::NoWait,
            (None, false) => WaitMode::Complete,
        };
        let task_definition = match (self.skip_task_definition, self.revision) {
            (_, Some(n)) => TaskDefinitionChoice::Revision(n),
            (true, None) => TaskDefinitionChoice::Latest,
            (false, None) => TaskDefinitionChoice::Register,
        };
        Ok(DeployFlags {
            images: self.images.clone(),
            task_definition,
            wait: WaitOptions {
                mode,
                timeout: self.timeout,
                poll_interval: self.poll_interval,
            },
            force: self.force,
        })
    }

    fn connection(&self) -> Connection {
        Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: self.max_attempts,
            // One budget for every service of this run: each clone of the connection shares it.
            budget: Budget::per_second(self.max_api_calls_per_second),
            ..Connection::default()
        }
    }
}

pub async fn run(args: Args) -> ExitCode {
    let json_out = args.output == Output::Json;
    let cancel = CancellationToken::new();
    spawn_interrupt_handler(cancel.clone());

    // 1. Everything local, for every config, before any AWS call.
    let flags = match args.flags() {
        Ok(f) => f,
        Err(e) => return fail(json_out, &Error::Config(e)),
    };
    let templater = Templater::from_process_env();
    let mut plans = Vec::new();
    for path in &args.configs {
        match plan::build(path, &flags, &templater) {
            Ok(p) => plans.push(p),
            Err(e) => return fail(json_out, &Error::Config(e)),
        }
    }
    // 2. Read-only checks against AWS, for every config, before anything is changed.
    let connection = args.connection();
    let limit = Arc::new(Semaphore::new(args.concurrency as usize));
    let mut checks = JoinSet::new();
    for (index, p) in plans.into_iter().enumerate() {
        let (connection, limit) = (connection.clone(), limit.clone());
        checks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            (index, deploy::prepare(p, &connection).await)
        });
    }
    let mut checked = Vec::new();
    loop {
        tokio::select! {
            next = checks.join_next() => match next {
                Some(Ok(r)) => checked.push(r),
                Some(Err(e)) => {
                    eprintln!("error: a check crashed: {e}");
                    return Status::Failure.into();
                }
                None => break,
            },
            _ = cancel.cancelled() => return interrupted_before_changes(json_out),
        }
    }
    checked.sort_by_key(|(i, _)| *i);
    let mut prepared: Vec<Prepared> = Vec::new();
    for (_, r) in checked {
        match r {
            Ok(p) => prepared.push(p),
            // The first failing config, in command-line order; nothing was changed anywhere.
            Err(e) => return fail(json_out, &e),
        }
    }
    if args.dry_run {
        return dry_run(json_out, &prepared);
    }
    // 3. Changes, then waiting (several services concurrently, at most --concurrency at once).
    let renderer = Arc::new(Renderer::new(
        prepared.iter().map(|p| label(p, prepared.len())).collect(),
    ));
    let mut tasks = JoinSet::new();
    for (index, p) in prepared.into_iter().enumerate() {
        let observer = renderer.observer(index);
        let (cancel, limit) = (cancel.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            (index, p.execute(&observer, cancel).await)
        });
    }
    let mut results: Vec<(usize, Result<Outcome, Error>)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, r)) => {
                renderer.finish_row(index, &r);
                results.push((index, r));
            }
            Err(e) => {
                eprintln!("error: a deploy task crashed: {e}");
                return Status::Failure.into();
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    report(json_out, results)
}

fn label(p: &Prepared, count: usize) -> String {
    if count > 1 {
        format!("{}/{}", p.plan.cluster, p.plan.service)
    } else {
        String::new()
    }
}

/// Prints results (summaries on stderr, JSON on stdout), writes step outputs, returns the worst status.
fn report(json_out: bool, results: Vec<(usize, Result<Outcome, Error>)>) -> ExitCode {
    let mut worst = Status::Success;
    let mut docs = Vec::new();
    let mut outcomes = Vec::new();
    for (_, r) in &results {
        match r {
            Ok(o) => {
                worst = worst.worst(Status::from_code(o.exit_code()));
                docs.push(serde_json::to_value(o).expect("outcome serialises"));
                outcomes.push(o);
            }
            Err(e) => {
                let status = status_of(e);
                worst = worst.worst(status);
                docs.push(error_doc(e, status));
            }
        }
    }
    if let Err(e) = render::github_outputs(&outcomes) {
        eprintln!("warning: could not write step outputs to $GITHUB_OUTPUT: {e}");
    }
    if json_out {
        let doc = if docs.len() == 1 {
            docs.remove(0)
        } else {
            json!({ "deploys": docs })
        };
        println!("{doc:#}");
    }
    worst.into()
}

fn status_of(e: &Error) -> Status {
    if e.is_config() {
        Status::Usage
    } else {
        Status::Failure
    }
}

fn error_doc(e: &Error, status: Status) -> serde_json::Value {
    let detail = match e {
        Error::Config(c) => {
            json!({"kind": "config", "source": c.source, "field": c.field, "message": c.message, "hint": c.hint})
        }
        Error::Aws {
            operation,
            code,
            message,
            hint,
        } => {
            json!({"kind": "aws", "operation": operation, "code": code, "message": message, "hint": hint})
        }
        Error::Conflict { message, hint } => {
            json!({"kind": "conflict", "message": message, "hint": hint})
        }
    };
    json!({"result": "error", "exit_code": status as u8, "error": detail})
}

pub(crate) fn fail(json_out: bool, e: &Error) -> ExitCode {
    render::error(e);
    let status = status_of(e);
    if json_out {
        println!("{:#}", error_doc(e, status));
    }
    status.into()
}

fn interrupted_before_changes(json_out: bool) -> ExitCode {
    eprintln!("interrupted: nothing was changed");
    if json_out {
        println!(
            "{:#}",
            json!({"result": "interrupted", "exit_code": 130, "message": "interrupted before any change"})
        );
    }
    Status::Interrupted.into()
}

fn dry_run(json_out: bool, prepared: &[Prepared]) -> ExitCode {
    let previews: Vec<_> = prepared.iter().map(Prepared::preview).collect();
    for p in &previews {
        eprint!("{p}");
    }
    if json_out {
        let doc = if previews.len() == 1 {
            serde_json::to_value(&previews[0])
        } else {
            serde_json::to_value(json!({ "deploys": previews }))
        };
        println!("{:#}", doc.expect("preview serialises"));
    }
    Status::Success.into()
}

/// First Ctrl-C: stop waiting (the deploy reports and exits 130); second: exit at once.
pub(crate) fn spawn_interrupt_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted again: exiting now");
                std::process::exit(130);
            }
        }
    });
}
