//! `kirikae watch`, `promote`, `stop`, `rollback`: operate a deployment that already runs, then follow it
//! to its end exactly as `kirikae deploy` does (same rows, same report, same exit statuses).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use kirikae_engine::Error;
use kirikae_engine::config::Templater;
use kirikae_engine::connection::{Budget, Clients, Connection};
use kirikae_engine::gate::GateReport;
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::operate::{self, Follow, Group};
use kirikae_engine::plan::{self, DeployFlags};
use kirikae_engine::policy::Policy;
use kirikae_engine::progress::Event;
use kirikae_engine::sdk::codedeploy::types::{DeploymentStatus, DeploymentWaitType};

use super::deploy::{OnStopArg, Output, error_doc};
use crate::exit::Status;
use crate::render::{self, Renderer};
use crate::report::{self, Noting, Report};
use crate::signals;

#[derive(clap::Args, Debug)]
pub struct Common {
    /// Config file naming the application, deployment group, cluster and service.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The deployment, instead of a config's group's active one.
    #[arg(long, value_name = "ID", conflicts_with = "config")]
    deployment_id: Option<String>,
    /// Stop waiting after this long (exit 3). Default: the group's waits plus 30 minutes.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    timeout: Option<Duration>,
    /// `text` (a summary on stderr) or `json` (one JSON document on stdout).
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
    /// Time between two polls while waiting.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration, hide = true)]
    poll_interval: Duration,
}

/// `--on-interrupt` / `--on-timeout`, as deploy takes them.
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {
    /// On SIGINT / SIGTERM / SIGHUP while the deployment runs: `leave` it running, or `rollback`: roll
    /// it back (CodeDeploy's StopDeployment with rollback; on ECS-native, Continue /
    /// StopServiceDeployment ROLLBACK) and follow that to its end first.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = OnStopArg::Leave)]
    on_interrupt: OnStopArg,
    /// When --timeout passes while the deployment runs: `leave` it running (exit 3), or `rollback` it.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = OnStopArg::Leave)]
    on_timeout: OnStopArg,
}

impl PolicyArgs {
    fn policy(&self) -> Policy {
        Policy {
            on_interrupt: self.on_interrupt.into(),
            on_timeout: self.on_timeout.into(),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    policy: PolicyArgs,
    /// With no deployment running: report the group's most recent one, as it ended.
    #[arg(long)]
    last: bool,
}

#[derive(clap::Args, Debug)]
pub struct PromoteArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Once production traffic is on green, end blue's termination wait at once.
    #[arg(long)]
    skip_termination_wait: bool,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    common: Common,
    /// Say what would be done; change nothing.
    #[arg(long)]
    dry_run: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 90s, 30m, 1h)"))
}

/// One run of an operator command: its report, interrupt, clients, group and deployment.
struct Run {
    report: Arc<Report>,
    interrupt: Interrupt,
    aws: Clients,
    group: Group,
    /// The active deployment (or the one named).
    active: Option<String>,
}

impl Common {
    fn connection(&self) -> Connection {
        Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            budget: Budget::per_second(kirikae_engine::connection::DEFAULT_CALLS_PER_SECOND),
            ..Connection::default()
        }
    }

    /// Reads the config (or the deployment) and finds the active deployment; changes nothing.
    async fn start(&self) -> Result<Run, ExitCode> {
        self.start_with(Policy::default()).await
    }

    /// [`Self::start`], saying on a signal what `policy` does.
    async fn start_with(&self, policy: Policy) -> Result<Run, ExitCode> {
        let report = Arc::new(Report::new(self.output == Output::Json));
        let interrupt = Interrupt::new();
        signals::spawn(
            interrupt.clone(),
            report.clone(),
            signals::first_said(policy.on_interrupt),
        );
        let connection = self.connection();
        let found = match (&self.deployment_id, &self.config) {
            (Some(id), _) => operate::for_deployment(id, &connection)
                .await
                .map(|(aws, g)| (aws, g, Some(id.clone()))),
            (None, path) => {
                let path = path.clone().unwrap_or_else(|| PathBuf::from("kirikae.yml"));
                match plan::build(
                    &path,
                    &DeployFlags::default(),
                    &Templater::from_process_env(),
                ) {
                    Err(e) => Err(Error::Config(e)),
                    Ok(p) => match operate::for_plan(&p, &connection).await {
                        Err(e) => Err(e),
                        Ok((aws, g)) => match operate::active(&aws, &g).await {
                            Ok(a) => Ok((aws, g, a)),
                            Err(e) => Err(e),
                        },
                    },
                }
            }
        };
        match found {
            Ok((aws, group, active)) => Ok(Run {
                report,
                interrupt,
                aws,
                group,
                active,
            }),
            Err(e) => Err(refused(&report, &e)),
        }
    }

    /// A native service's command (a config with an `ecs:` block, or a service deployment ARN) runs in
    /// [`super::operate_native`]; `None` for a CodeDeploy one.
    async fn native(&self, verb: super::operate_native::Verb, policy: Policy) -> Option<ExitCode> {
        let inputs = super::operate_native::Inputs {
            policy,
            config: self.config.as_deref(),
            deployment_id: self.deployment_id.as_deref(),
            timeout: self.timeout,
            poll_interval: self.poll_interval,
            json: self.output == Output::Json,
            connection: self.connection(),
        };
        super::operate_native::run(verb, inputs).await
    }

    fn how(&self, group: &Group, rollback_expected: bool, skip: bool) -> Follow {
        Follow {
            timeout: self.timeout.unwrap_or_else(|| group.timeout()),
            poll_interval: self.poll_interval,
            rollback_expected,
            skip_termination_wait: skip,
            policy: Policy::default(),
        }
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

/// A refusal before any change: exit 2, said on stderr and in every output.
fn usage(report: &Report, message: String, hint: Option<String>) -> ExitCode {
    let e = Error::Conflict { message, hint };
    render::error(&e);
    report.write(vec![error_doc(&e, Status::Usage)])
}

fn no_deployment(run: &Run) -> ExitCode {
    usage(
        &run.report,
        format!("no deployment is running in {}", run.group.deployment_group),
        None,
    )
}

impl Run {
    /// Follows `id` to its end, as deploy does, and writes the report.
    async fn follow(&self, id: &str, how: Follow) -> ExitCode {
        self.follow_gated(id, how, None).await
    }

    /// [`Self::follow`], with what the gate found before (promote).
    async fn follow_gated(&self, id: &str, how: Follow, gate: Option<GateReport>) -> ExitCode {
        let r = &self.group;
        self.report
            .begin([(r.config.clone(), r.cluster.clone(), r.service.clone())]);
        let created = Event::DeploymentCreated {
            deployment_id: id.to_string(),
            console_url: kirikae_engine::progress::console_url(&self.aws.region, id),
            task_definition: String::new(),
        };
        self.report.note(0, &created);
        let renderer = Arc::new(Renderer::new(vec![String::new()]));
        let observer = Noting {
            report: self.report.clone(),
            index: 0,
            inner: renderer.observer(0),
        };
        let mut outcome =
            operate::follow(&self.aws, &self.group, id, &how, &observer, &self.interrupt).await;
        if let Some(g) = &gate {
            g.explain(&mut outcome);
        }
        renderer.finish_row(0, &outcome);
        self.report.finished(0, &outcome);
        self.report.write(vec![report::doc(&outcome)])
    }

    async fn snapshot(
        &self,
        id: &str,
    ) -> Result<kirikae_engine::progress::DeploymentSnapshot, ExitCode> {
        operate::snapshot(&self.aws, &self.group, id)
            .await
            .map_err(|e| refused(&self.report, &e))
    }

    /// The config's gate checks on `id` (waiting in Ready), as `deploy` runs them: the two-job pattern
    /// (`deploy --no-wait`, then `promote`) tests green too. `Ok(None)`: no checks to run. Nothing is
    /// changed here; an interrupt ends the run.
    async fn gate_checks(&self, common: &Common, id: &str) -> Result<Option<GateReport>, ExitCode> {
        let Some(path) = &common.config else {
            return Ok(None);
        };
        let plan = plan::build(
            path,
            &DeployFlags::default(),
            &Templater::from_process_env(),
        )
        .map_err(|e| refused(&self.report, &Error::Config(e)))?;
        let renderer = Arc::new(Renderer::new(vec![String::new()]));
        let observer = renderer.observer(0);
        let checks = kirikae_engine::gate::promote::checks(&plan, &self.aws, id, &observer);
        tokio::select! {
            r = checks => r.map_err(|e| refused(&self.report, &e)),
            _ = self.interrupt.raised() => {
                eprintln!("interrupted while the gate's checks ran: nothing was changed; deployment {id} still waits in Ready");
                Err(self.report.write(vec![report::interrupted_before_changes(self.interrupt.exit_code())]))
            }
        }
    }
}

pub async fn watch(args: WatchArgs) -> ExitCode {
    let verb = super::operate_native::Verb::Watch;
    if let Some(code) = args.common.native(verb, args.policy.policy()).await {
        return code;
    }
    let run = match args.common.start_with(args.policy.policy()).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let id = match (&run.active, args.last) {
        (Some(id), _) => id.clone(),
        (None, true) => match operate::latest(&run.aws, &run.group).await {
            Ok(Some(id)) => id,
            Ok(None) => return no_deployment(&run),
            Err(e) => return refused(&run.report, &e),
        },
        (None, false) => return no_deployment(&run),
    };
    eprintln!(
        "following deployment {id} of {}",
        run.group.deployment_group
    );
    let how = Follow {
        policy: args.policy.policy(),
        ..args
            .common
            .how(&run.group, run.group.rollback_expected, false)
    };
    run.follow(&id, how).await
}

pub async fn promote(args: PromoteArgs) -> ExitCode {
    let verb = super::operate_native::Verb::Promote;
    if let Some(code) = args.common.native(verb, args.policy.policy()).await {
        return code;
    }
    let run = match args.common.start_with(args.policy.policy()).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Some(id) = run.active.clone() else {
        return no_deployment(&run);
    };
    let snap = match run.snapshot(&id).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    if snap.status != DeploymentStatus::Ready {
        return usage(
            &run.report,
            format!(
                "deployment {id} is {}, not Ready (waiting for someone to shift production traffic): nothing was changed",
                snap.status.as_str()
            ),
            Some("promote continues a deployment whose group has `ready: {action: STOP_DEPLOYMENT}` once it waits in Ready; kirikae watch follows it".into()),
        );
    }
    let gate = match run.gate_checks(&args.common, &id).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    if let Some(failed) = gate.as_ref().filter(|g| !g.passed()) {
        eprintln!(
            "the gate {}: stopping deployment {id} with rollback (StopDeployment); production traffic stays on blue",
            failed.summary
        );
        if let Err(e) = operate::stop(&run.aws, &id, true).await {
            return refused(&run.report, &e);
        }
        let how = Follow {
            policy: args.policy.policy(),
            ..args.common.how(&run.group, true, false)
        };
        return run.follow_gated(&id, how, gate).await;
    }
    if let Err(e) = operate::continue_deployment(&run.aws, &id, DeploymentWaitType::ReadyWait).await
    {
        return refused(&run.report, &e);
    }
    eprintln!(
        "deployment {id}: shifting production traffic to green (ContinueDeployment READY_WAIT)"
    );
    let how = Follow {
        policy: args.policy.policy(),
        ..args.common.how(
            &run.group,
            run.group.rollback_expected,
            args.skip_termination_wait,
        )
    };
    run.follow_gated(&id, how, gate).await
}

pub async fn stop(args: StopArgs) -> ExitCode {
    let verb = super::operate_native::Verb::Stop;
    if let Some(code) = args.common.native(verb, Policy::default()).await {
        return code;
    }
    let run = match args.common.start().await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Some(id) = run.active.clone() else {
        return no_deployment(&run);
    };
    let snap = match run.snapshot(&id).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    eprintln!(
        "stopping deployment {id} without rollback ({}): production traffic stays where it is, on {}",
        snap.status.as_str(),
        operate::serving(&snap)
    );
    if let Err(e) = operate::stop(&run.aws, &id, false).await {
        return refused(&run.report, &e);
    }
    let how = args.common.how(&run.group, false, false);
    run.follow(&id, how).await
}

pub async fn rollback(args: RollbackArgs) -> ExitCode {
    let verb = super::operate_native::Verb::Rollback {
        dry_run: args.dry_run,
    };
    if let Some(code) = args.common.native(verb, Policy::default()).await {
        return code;
    }
    let run = match args.common.start().await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Some(id) = run.active.clone() else {
        return roll_back_finished(&args, run).await;
    };
    let snap = match run.snapshot(&id).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    if matches!(
        snap.status,
        DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped
    ) {
        return roll_back_finished(&args, run).await;
    }
    let said = format!(
        "deployment {id} ({}), production traffic on {}: StopDeployment with rollback, back to blue",
        snap.status.as_str(),
        operate::serving(&snap)
    );
    if args.dry_run {
        eprintln!("dry run: would roll back {said}; nothing was changed");
        return run.report.write(vec![serde_json::json!({
            "result": "dry_run", "exit_code": 0, "deployment_id": id,
            "status": snap.status.as_str(), "action": "stop_deployment_with_rollback",
        })]);
    }
    eprintln!("rolling back {said}");
    if let Err(e) = operate::stop(&run.aws, &id, true).await {
        return refused(&run.report, &e);
    }
    let how = args.common.how(&run.group, true, false);
    run.follow(&id, how).await
}

/// Rollback once the deployment has finished (blue is gone): a new Blue/Green deployment of the task
/// definition that ran before, found from the group's history, deployed exactly as `kirikae deploy
/// --revision N` would (every check first; `--dry-run` shows the plan).
async fn roll_back_finished(args: &RollbackArgs, run: Run) -> ExitCode {
    let Some(config) = &args.common.config else {
        return usage(
            &run.report,
            format!(
                "no deployment is running in {}: rolling back now means deploying the previous revision Blue/Green, which needs the service's config",
                run.group.deployment_group
            ),
            Some("kirikae rollback -c FILE".into()),
        );
    };
    let previous = match kirikae_engine::previous::find(&run.aws, &run.group).await {
        Ok(p) => p,
        // Nothing to roll back to: a refusal before any change.
        Err(Error::Conflict { message, hint }) => return usage(&run.report, message, hint),
        Err(e) => return refused(&run.report, &e),
    };
    let family = kirikae_engine::deploy::short_arn(&previous.current)
        .rsplit_once(':')
        .map(|(f, _)| f.to_string())
        .unwrap_or_default();
    let Some((target_family, revision)) = previous.revision() else {
        return usage(
            &run.report,
            format!(
                "the previous deployment's task definition {} is not a task definition ARN",
                previous.task_definition_arn
            ),
            None,
        );
    };
    if target_family != family {
        return usage(
            &run.report,
            format!(
                "the revision that ran before ({target_family}:{revision}) is of another family than the service's ({family}); kirikae deploys revisions of the config's family only"
            ),
            Some("deploy it with a config naming that family".into()),
        );
    }
    let known_from = match &previous.deployed_by {
        Some(d) => format!(
            "deployment {} ({}, started by {}) deployed it",
            d.deployment_id, d.status, d.who
        ),
        None => format!(
            "the service ran it when deployment {} was created",
            previous.undoes.deployment_id
        ),
    };
    eprintln!(
        "no deployment is running in {}: the service runs {}, brought by deployment {}; {} a new Blue/Green deployment of {target_family}:{revision} ({known_from})",
        run.group.deployment_group,
        kirikae_engine::deploy::short_arn(&previous.current),
        previous.undoes.deployment_id,
        if args.dry_run {
            "rolling back would create"
        } else {
            "rolling back with"
        },
    );
    let redeploy = super::deploy::RevisionDeploy {
        config: config.display().to_string(),
        revision: revision.to_string(),
        json: args.common.output == Output::Json,
        region: args.common.region.clone(),
        profile: args.common.profile.clone(),
        endpoint_url: args.common.endpoint_url.clone(),
        timeout: args.common.timeout,
        poll_interval: args.common.poll_interval,
        dry_run: args.dry_run,
    };
    match redeploy.run(run.report.clone(), run.interrupt).await {
        Ok(code) => code,
        Err(e) => usage(&run.report, e.to_string(), None),
    }
}
