//! `kirikae deploy`: Blue/Green deploy of one ECS service per config file, through CodeDeploy
//! (`codedeploy:` configs) or by ECS itself (`ecs:` configs); one run may have both.
//!
//! Every config is read, templated and validated, then checked against AWS with read-only calls, before
//! anything is changed anywhere. Data (the result, `--output json`) goes to stdout; progress and messages to
//! stderr. See [`crate::exit`] for the exit statuses, [`crate::report`] for the outputs every ending
//! writes, [`crate::signals`] for Ctrl-C, SIGTERM and SIGHUP.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use kirikae_engine::config::Templater;
use kirikae_engine::connection::{self, Budget, Connection};
use kirikae_engine::fleet::{self, Checked, Planned, Ready};
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::plan::{
    self, DeployFlags, GroupDrift, OnStop, TaskDefinitionChoice, WaitMode, WaitOptions,
};
use kirikae_engine::preview::Preview;
use kirikae_engine::{ConfigError, Error};
use serde_json::json;

use crate::exit::Status;
use crate::render::{self, Renderer};
use crate::report::{self, Noting, Report};
use crate::signals;

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
    /// When the deployment group in AWS differs from the config: `update` it (and say what changed),
    /// `warn` and deploy with it as it is, or `fail` before any change (exit 2).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = GroupDriftArg::Update)]
    group_drift: GroupDriftArg,
    /// Return once the deployment (or the new service) is created.
    #[arg(long, conflicts_with = "wait_until")]
    no_wait: bool,
    /// When another deploy of the service holds its lock, or a deployment already runs in the group:
    /// wait for it to end (saying what it waits for), then deploy, instead of stopping with exit 1.
    #[arg(long)]
    wait_for_active: bool,
    /// Return successfully once this lifecycle event has succeeded (e.g. AfterAllowTestTraffic); for an
    /// `ecs:` service, once its service deployment is in this stage or past it (e.g. BAKE_TIME), or
    /// `paused` (a pause hook awaits action).
    #[arg(long, value_name = "EVENT")]
    wait_until: Option<String>,
    /// Stop waiting after this long (e.g. 30m); the deployment goes on in AWS (exit 3). Default: the
    /// deployment group's waits plus 30 minutes.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    timeout: Option<Duration>,
    /// On SIGINT / SIGTERM / SIGHUP while a deployment runs: `leave` it running (say how to follow or
    /// stop it), or `rollback`: roll it back (CodeDeploy's StopDeployment with rollback; on ECS-native,
    /// Continue / StopServiceDeployment ROLLBACK) and follow that to its end first.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = OnStopArg::Leave)]
    pub(crate) on_interrupt: OnStopArg,
    /// When --timeout passes while a deployment runs: `leave` it running (exit 3), or `rollback` it
    /// (followed to its end; exit 1).
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = OnStopArg::Leave)]
    pub(crate) on_timeout: OnStopArg,
    /// With a `gate: {approve: true}`: promote by itself this long after the gate's checks pass, unless
    /// someone promoted (kirikae promote) or stopped it first.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    auto_promote_after: Option<Duration>,
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
enum GroupDriftArg {
    Update,
    Warn,
    Fail,
}

/// `--on-interrupt` / `--on-timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnStopArg {
    Leave,
    Rollback,
}

impl From<OnStopArg> for OnStop {
    fn from(a: OnStopArg) -> OnStop {
        match a {
            OnStopArg::Leave => OnStop::Leave,
            OnStopArg::Rollback => OnStop::Rollback,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

pub(crate) fn container_image(s: &str) -> Result<(String, String), String> {
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
                on_interrupt: self.on_interrupt.into(),
                on_timeout: self.on_timeout.into(),
                auto_promote_after: self.auto_promote_after,
                wait_for_active: self.wait_for_active,
            },
            force: self.force,
            group_drift: match self.group_drift {
                GroupDriftArg::Update => GroupDrift::Update,
                GroupDriftArg::Warn => GroupDrift::Warn,
                GroupDriftArg::Fail => GroupDrift::Fail,
            },
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
    let report = Arc::new(Report::new(args.output == Output::Json));
    let interrupt = Interrupt::new();
    signals::spawn(
        interrupt.clone(),
        report.clone(),
        signals::first_said(args.on_interrupt.into()),
    );
    run_with(args, report, interrupt).await
}

/// `deploy` parsed from `argv` (without the program name): the same flags, validated by the same parser.
fn args_from(argv: &[String]) -> Result<Args, clap::Error> {
    #[derive(clap::Parser)]
    #[command(name = "kirikae deploy")]
    struct Deploy {
        #[command(flatten)]
        args: Args,
    }
    <Deploy as clap::Parser>::try_parse_from(
        std::iter::once("deploy".to_string()).chain(argv.iter().cloned()),
    )
    .map(|d| d.args)
}

/// A deploy of one revision of the config's family, as `rollback` of a finished deployment runs it
/// (on either controller): `deploy -c CONFIG --revision N` with the operator command's connection,
/// waits and output, through deploy's own flag parser and every check.
pub(crate) struct RevisionDeploy {
    pub config: String,
    pub revision: String,
    pub json: bool,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub timeout: Option<Duration>,
    pub poll_interval: Duration,
    pub dry_run: bool,
}

impl RevisionDeploy {
    fn argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            "--config".into(),
            self.config.clone(),
            "--revision".into(),
            self.revision.clone(),
            "--output".into(),
            if self.json { "json" } else { "text" }.into(),
            "--poll-interval".into(),
            humantime::format_duration(self.poll_interval).to_string(),
        ];
        let timeout = self
            .timeout
            .map(|t| humantime::format_duration(t).to_string());
        for (flag, value) in [
            ("--region", &self.region),
            ("--profile", &self.profile),
            ("--endpoint-url", &self.endpoint_url),
            ("--timeout", &timeout),
        ] {
            if let Some(v) = value {
                argv.extend([flag.to_string(), v.clone()]);
            }
        }
        if self.dry_run {
            argv.push("--dry-run".into());
        }
        argv
    }

    /// Runs it; `Err` when deploy's parser refuses what the operator command passed on.
    pub(crate) async fn run(
        &self,
        report: Arc<Report>,
        interrupt: Interrupt,
    ) -> Result<ExitCode, clap::Error> {
        let args = args_from(&self.argv())?;
        Ok(run_with(args, report, interrupt).await)
    }
}

/// [`run`] with the report and interrupt (and its signal handling) of a command already running.
pub(crate) async fn run_with(args: Args, report: Arc<Report>, interrupt: Interrupt) -> ExitCode {
    // 1. Everything local, for every config, before any AWS call.
    let flags = match args.flags() {
        Ok(f) => f,
        Err(e) => return refused(&report, &Error::Config(e)),
    };
    let templater = Templater::from_process_env();
    let mut plans = Vec::new();
    for path in &args.configs {
        // A config with an `ecs:` block is ECS-native Blue/Green; else the CodeDeploy one.
        match kirikae_engine::native::plan::build(path, &flags, &templater) {
            Ok(Some(p)) => {
                plans.push(Planned::Native(Box::new(p)));
                continue;
            }
            Ok(None) => {}
            Err(e) => return refused(&report, &Error::Config(e)),
        }
        match plan::build(path, &flags, &templater) {
            Ok(p) => plans.push(Planned::CodeDeploy(Box::new(p))),
            Err(e) => return refused(&report, &Error::Config(e)),
        }
    }
    // 2. Read-only checks against AWS, for every config, before anything is changed.
    let connection = args.connection();
    let concurrency = args.concurrency as usize;
    let prepared = match fleet::check_all(plans, &connection, concurrency, &interrupt).await {
        Checked::Ready(p) => p,
        Checked::Refused(refusals) => {
            let mut docs = Vec::new();
            for (error, outcome) in refusals {
                render::error(&error);
                docs.push(report::doc(&outcome));
            }
            return report.write(docs);
        }
        Checked::Interrupted => {
            eprintln!("interrupted: nothing was changed");
            return report.write(vec![report::interrupted_before_changes(
                interrupt.exit_code(),
            )]);
        }
    };
    if args.dry_run {
        return dry_run(report.as_ref(), &prepared);
    }
    // 3. Changes, then waiting (several services concurrently, at most --concurrency at once).
    report.begin(prepared.iter().map(|p| {
        (
            p.config_path().display().to_string(),
            p.cluster().to_string(),
            p.service().to_string(),
        )
    }));
    let renderer = Arc::new(Renderer::new(
        prepared.iter().map(|p| label(p, prepared.len())).collect(),
    ));
    let outcomes = fleet::execute_all(
        prepared,
        concurrency,
        |index| Noting {
            report: report.clone(),
            index,
            inner: renderer.observer(index),
        },
        |index, outcome| {
            renderer.finish_row(index, outcome);
            report.finished(index, outcome);
        },
        &interrupt,
    )
    .await;
    report.write(outcomes.iter().map(report::doc).collect())
}

fn label(p: &Ready, count: usize) -> String {
    if count > 1 {
        format!("{}/{}", p.cluster(), p.service())
    } else {
        String::new()
    }
}

fn status_of(e: &Error) -> Status {
    if e.is_config() {
        Status::Usage
    } else {
        Status::Failure
    }
}

/// The JSON document of an error that stopped the run before any plan existed (bad flags or files).
pub(crate) fn error_doc(e: &Error, status: Status) -> serde_json::Value {
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

/// Bad input found before any AWS call: said on stderr, and in every output.
fn refused(report: &Report, e: &Error) -> ExitCode {
    render::error(e);
    report.write(vec![error_doc(e, status_of(e))])
}

/// For commands without a run report (the demo): says the error, prints its JSON, returns its status.
pub(crate) fn fail(json_out: bool, e: &Error) -> ExitCode {
    render::error(e);
    let status = status_of(e);
    if json_out {
        println!("{:#}", error_doc(e, status));
    }
    status.into()
}

/// What each service would do: the CodeDeploy preview or the native one, in command-line order.
fn dry_run(report: &Report, prepared: &[Ready]) -> ExitCode {
    let docs = prepared
        .iter()
        .map(|ready| match ready {
            Ready::CodeDeploy(p) => {
                let preview = Preview::new(p);
                eprint!("{preview}");
                let mut doc = serde_json::to_value(&preview).expect("preview serialises");
                doc["result"] = json!("dry_run");
                doc["exit_code"] = json!(0);
                doc
            }
            Ready::Native(p) => super::deploy_native::dry_run(p),
        })
        .collect();
    report.write(docs)
}

/// For commands without a run report (the demo): the first Ctrl-C stops waiting (the command reports
/// and exits 130); a second exits at once.
pub(crate) fn spawn_interrupt_handler(interrupt: Interrupt) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.raise(130);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted again: exiting now");
                std::process::exit(130);
            }
        }
    });
}
