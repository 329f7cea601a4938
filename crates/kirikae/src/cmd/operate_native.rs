//! `kirikae watch` / `promote` / `stop` / `rollback` on a native service (a config with an `ecs:`
//! block, or `--deployment-id` naming a service deployment ARN): find the service's ongoing service
//! deployment, make the one ECS call (ContinueServiceDeployment, StopServiceDeployment with ROLLBACK),
//! then follow it to its end as deploy does — same rows, report and exit statuses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use kirikae_engine::config::Templater;
use kirikae_engine::connection::Connection;
use kirikae_engine::gate::GateReport;
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::native::NativePlan;
use kirikae_engine::native::operate::{self, Target};
use kirikae_engine::plan::DeployFlags;
use kirikae_engine::policy::Policy;
use kirikae_engine::progress::Event;
use kirikae_engine::{ConfigError, Error};

use super::deploy::error_doc;
use crate::exit::Status;
use crate::render::{self, Renderer};
use crate::report::{self, Noting, Report};
use crate::signals;

/// What the operator asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Watch,
    Promote,
    Stop,
    Rollback { dry_run: bool },
}

/// The command's inputs, from its flags.
pub(crate) struct Inputs<'a> {
    pub config: Option<&'a Path>,
    pub deployment_id: Option<&'a str>,
    pub timeout: Option<Duration>,
    pub poll_interval: Duration,
    pub json: bool,
    pub connection: Connection,
    /// `--on-interrupt` / `--on-timeout` (watch, promote; the default elsewhere).
    pub policy: Policy,
}

/// `Some(status)` when the command was for a native service (and ran here); `None` for a CodeDeploy
/// one, which the caller handles as before.
pub(crate) async fn run(verb: Verb, inputs: Inputs<'_>) -> Option<ExitCode> {
    let (target, region) = match (inputs.deployment_id, inputs.config) {
        (Some(id), _) => {
            let (cluster, service) = operate::owner_of(id)?;
            let region = id.split(':').nth(3).map(str::to_string);
            (
                Target {
                    config: String::new(),
                    cluster,
                    service,
                },
                region,
            )
        }
        (None, path) => {
            let path = path.map_or_else(|| PathBuf::from("kirikae.yml"), Path::to_path_buf);
            let plan = match kirikae_engine::native::plan::build(
                &path,
                &DeployFlags::default(),
                &Templater::from_process_env(),
            ) {
                Ok(Some(p)) => p,
                // A CodeDeploy config (or one whose error the CodeDeploy path will say as before).
                Ok(None) | Err(_) => return None,
            };
            let region = plan.region.clone();
            let target = Target {
                config: path.display().to_string(),
                cluster: plan.cluster.clone(),
                service: plan.service.clone(),
            };
            return Some(operate_on(verb, inputs, target, region, Some(plan)).await);
        }
    };
    Some(operate_on(verb, inputs, target, region, None).await)
}

async fn operate_on(
    verb: Verb,
    inputs: Inputs<'_>,
    target: Target,
    region: Option<String>,
    plan: Option<NativePlan>,
) -> ExitCode {
    let report = Arc::new(Report::new(inputs.json));
    let interrupt = Interrupt::new();
    signals::spawn(
        interrupt.clone(),
        report.clone(),
        signals::first_said(inputs.policy.on_interrupt),
    );
    let refused = |e: &Error| {
        render::error(e);
        let status = if e.is_config() {
            Status::Usage
        } else {
            Status::Failure
        };
        report.write(vec![error_doc(e, status)])
    };
    let aws = match inputs.connection.connect(region.as_deref()).await {
        Ok(a) => a,
        Err(e) => return refused(&Error::Config(e)),
    };
    let arn = match inputs.deployment_id {
        Some(id) => id.to_string(),
        None => match operate::active(&aws, &target).await {
            Ok(Some(a)) => a,
            Ok(None) if matches!(verb, Verb::Rollback { .. }) && inputs.config.is_some() => {
                return roll_back_finished(&inputs, &target, &aws, verb, report, interrupt).await;
            }
            Ok(None) => {
                return refused(&Error::Config(ConfigError::new(
                    "--config",
                    format!(
                        "no service deployment is running on {}/{}",
                        target.cluster, target.service
                    ),
                )));
            }
            Err(e) => return refused(&e),
        },
    };
    let snap = match operate::snapshot(&aws, &arn).await {
        Ok(s) => s,
        Err(e) => return refused(&e),
    };
    // What `promote -c` ran of the config's gate before continuing, for the outcome.
    let mut promoted_gate: Option<GateReport> = None;
    match verb {
        Verb::Watch => eprintln!("following service deployment {arn} ({})", snap.said()),
        Verb::Promote => {
            let gate = match plan.as_ref() {
                Some(p) => match gate_checks(p, &aws, &snap, &interrupt).await {
                    Ok(g) => g,
                    Err(GateStop::Refused(e)) => return refused(&e),
                    Err(GateStop::Interrupted) => {
                        eprintln!(
                            "interrupted while the gate's checks ran: nothing was changed; service deployment {arn} still waits at its pause"
                        );
                        return report.write(vec![report::interrupted_before_changes(
                            interrupt.exit_code(),
                        )]);
                    }
                },
                None => None,
            };
            if let Some(failed) = gate.as_ref().filter(|g| !g.passed()) {
                let hook = snap.awaiting().map(|h| h.id.clone()).unwrap_or_default();
                eprintln!(
                    "the gate {}: rolling back service deployment {arn} at hook {hook} (ContinueServiceDeployment ROLLBACK); production stays on the previous revision",
                    failed.summary
                );
                if let Err(e) = operate::roll_back_at(&aws, &arn, &hook).await {
                    return refused(&e);
                }
            } else {
                match operate::promote(&aws, &arn).await {
                    Ok(hook) => eprintln!(
                        "service deployment {arn}: hook {hook} continued (ContinueServiceDeployment CONTINUE)"
                    ),
                    Err(e) => return refused(&e),
                }
            }
            promoted_gate = gate;
        }
        Verb::Stop => return refused(&operate::stop_refused(&arn)),
        Verb::Rollback { dry_run } => {
            if snap.is_terminal() && inputs.config.is_some() {
                return roll_back_finished(&inputs, &target, &aws, verb, report, interrupt).await;
            }
            if snap.is_terminal() {
                return refused(&Error::Conflict {
                    message: format!(
                        "service deployment {arn} already ended {}; nothing to roll back",
                        snap.status.as_str()
                    ),
                    hint: Some(
                        "kirikae rollback -c FILE deploys the revision that ran before Blue/Green"
                            .into(),
                    ),
                });
            }
            if dry_run {
                eprintln!(
                    "dry run: would roll back service deployment {arn} ({}) with StopServiceDeployment ROLLBACK; nothing was changed",
                    snap.said()
                );
                return report.write(vec![serde_json::json!({
                    "result": "dry_run", "exit_code": 0, "deployment_id": arn,
                    "status": snap.status.as_str(), "action": "stop_service_deployment_rollback",
                })]);
            }
            if let Err(e) = operate::rollback(&aws, &arn).await {
                return refused(&e);
            }
            eprintln!(
                "rolling back service deployment {arn} (StopServiceDeployment ROLLBACK): production back on the previous revision"
            );
        }
    }
    report.begin([(
        target.config.clone(),
        target.cluster.clone(),
        target.service.clone(),
    )]);
    let created = Event::DeploymentCreated {
        deployment_id: arn.clone(),
        console_url: kirikae_engine::native::ending::console_url(
            &aws.region,
            &target.cluster,
            &target.service,
        ),
        task_definition: String::new(),
    };
    report.note(0, &created);
    let renderer = Arc::new(Renderer::new(vec![String::new()]));
    let observer = Noting {
        report: report.clone(),
        index: 0,
        inner: renderer.observer(0),
    };
    let timeout = inputs
        .timeout
        .unwrap_or_else(|| Duration::from_secs(24 * 3600));
    let waiting = operate::Waiting {
        timeout,
        poll_interval: inputs.poll_interval,
        policy: inputs.policy,
    };
    let mut outcome =
        operate::follow_with(&aws, &target, &arn, &waiting, &observer, &interrupt).await;
    if let Some(g) = &promoted_gate {
        g.explain(&mut outcome);
    }
    renderer.finish_row(0, &outcome);
    report.finished(0, &outcome);
    report.write(vec![report::doc(&outcome)])
}

/// Rollback once nothing runs: a new Blue/Green service deployment of the revision the newest
/// successful one replaced, exactly as `kirikae deploy -c FILE --revision N` would (every check first;
/// `--dry-run` shows the plan).
async fn roll_back_finished(
    inputs: &Inputs<'_>,
    target: &Target,
    aws: &kirikae_engine::connection::Clients,
    verb: Verb,
    report: Arc<Report>,
    interrupt: Interrupt,
) -> ExitCode {
    let dry_run = matches!(verb, Verb::Rollback { dry_run: true });
    let refused = |e: &Error| {
        render::error(e);
        let status = if e.is_config() || matches!(e, Error::Conflict { .. }) {
            Status::Usage
        } else {
            Status::Failure
        };
        report.write(vec![error_doc(e, status)])
    };
    let previous = match operate::previous(aws, target).await {
        Ok(p) => p,
        Err(e) => return refused(&e),
    };
    let short = kirikae_engine::deploy::short_arn(&previous.task_definition_arn);
    let Some(revision) = short.rsplit_once(':').map(|(_, r)| r.to_string()) else {
        return refused(&Error::Conflict {
            message: format!(
                "the revision that ran before names task definition {}, not a task definition ARN",
                previous.task_definition_arn
            ),
            hint: None,
        });
    };
    eprintln!(
        "no service deployment is running on {}/{}: {} a new Blue/Green deployment of {short}, the revision service deployment {} replaced",
        target.cluster,
        target.service,
        if dry_run {
            "rolling back would create"
        } else {
            "rolling back with"
        },
        previous.undoes
    );
    let c = &inputs.connection;
    let redeploy = super::deploy::RevisionDeploy {
        config: target.config.clone(),
        revision,
        json: inputs.json,
        region: c.region.clone(),
        profile: c.profile.clone(),
        endpoint_url: c.endpoint_url.clone(),
        timeout: inputs.timeout,
        poll_interval: inputs.poll_interval,
        dry_run,
    };
    match redeploy.run(report.clone(), interrupt).await {
        Ok(code) => code,
        Err(e) => refused(&Error::Conflict {
            message: e.to_string(),
            hint: None,
        }),
    }
}

/// Why `promote` did not get to continue the deployment while the gate's checks ran.
enum GateStop {
    Refused(Error),
    Interrupted,
}

/// `promote -c FILE` on a service deployment paused at the gate: the config's gate checks through the
/// test listener, as deploy runs them (the two-job pattern: `deploy --no-wait`, then `promote`).
/// `Ok(None)`: no checks to run (no gate, an approval only, or not paused at the gate). Nothing is
/// changed here.
async fn gate_checks(
    plan: &NativePlan,
    aws: &kirikae_engine::connection::Clients,
    snap: &kirikae_engine::watch::native::Snapshot,
    interrupt: &Interrupt,
) -> Result<Option<GateReport>, GateStop> {
    let renderer = Arc::new(Renderer::new(vec![String::new()]));
    let observer = renderer.observer(0);
    let checks = kirikae_engine::native::gate::promote_checks(plan, aws, snap, &observer);
    tokio::select! {
        r = checks => r.map_err(GateStop::Refused),
        _ = interrupt.raised() => Err(GateStop::Interrupted),
    }
}
