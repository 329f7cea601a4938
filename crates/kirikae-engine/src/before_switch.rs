//! `before_switch:` (config [`crate::config::before_switch`]): a one-off task with the **new** task
//! definition — the database migration — that must exit 0 before the deployment (or a new service) is
//! created. It runs with `RunTask` (the service definition's launch type or capacity providers, platform
//! version and network configuration; the container's command and environment overridden) and is
//! followed with `DescribeTasks` on the run's [`Poller`] (transient failures retried, throttling slowed
//! down, deadline and interrupt honoured) until ECS reports it STOPPED.
//!
//! It passes when the container exits 0. Anything else — another exit code, a task that failed to
//! start, RunTask's placement failures — ends the run with nothing switched. When kirikae stops waiting
//! first (interrupt, `--timeout`, lost contact) the task keeps running in ECS: the report says so and
//! how to see and stop it; kirikae never stops a migration half-way.

use aws_sdk_ecs::types::{ContainerOverride, KeyValuePair, Task, TaskOverride};
use serde::Serialize;

use crate::aws::{CallFailure, call_failure, failed};
use crate::config::before_switch::BeforeSwitch;
use crate::definitions::ServiceDefinition;
use crate::deploy::Prepared;
use crate::deploy::ending::Changes;
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::outcome::Result as Res;
use crate::preflight::ServiceState;
use crate::progress::{Event, Observer, now_epoch};
use crate::watch::{Poller, Stop, pace};

/// `startedBy` of the task: who ran it, as ECS lists it (`ListTasks --started-by kirikae`).
pub const STARTED_BY: &str = "kirikae";
/// `group` of the task, apart from the service's own tasks.
pub const GROUP: &str = "kirikae:before-switch";

/// What the task did, for every output (live view, plain lines, timeline, JSON, notification).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskReport {
    pub task_arn: String,
    pub cluster: String,
    pub container: String,
    pub command: Vec<String>,
    /// ECS's `lastStatus` when last seen (STOPPED once it ended).
    pub last_status: String,
    /// The container's exit code (`containers[].exitCode`), once it exited.
    pub exit_code: Option<i32>,
    /// The task's `stopCode` (e.g. `EssentialContainerExited`, `TaskFailedToStart`).
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// The container's own `reason` (e.g. `CannotPullContainerError: …`), when ECS gives one.
    pub container_reason: Option<String>,
    /// From RunTask to the last status seen (wall clock, seconds).
    pub duration_seconds: f64,
    pub started_at: f64,
    pub finished_at: Option<f64>,
    /// Exited 0.
    pub passed: bool,
    /// Still running in ECS when kirikae stopped waiting.
    pub still_running: bool,
}

impl TaskReport {
    fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }

    /// How it ended, said for a person: `task 1f2e… (container web, `exit 1`) exited 1 (EssentialContainerExited: Essential container in task exited) after 3.2 s`.
    pub fn said(&self) -> String {
        let what = format!(
            "before_switch task {} (container {}, `{}`)",
            self.task_id(),
            self.container,
            self.command.join(" ")
        );
        let how = match (self.still_running, self.exit_code) {
            (true, _) => format!("had not stopped (ECS last showed it {})", self.last_status),
            (false, Some(code)) => format!("exited {code}"),
            (false, None) => "stopped without an exit code".into(),
        };
        let why = match (
            &self.stop_code,
            &self.stopped_reason,
            &self.container_reason,
        ) {
            _ if self.still_running => String::new(),
            (code, reason, container) => {
                let parts: Vec<String> = [
                    code.clone(),
                    reason.clone(),
                    container.clone().filter(|c| Some(c) != reason.as_ref()),
                ]
                .into_iter()
                .flatten()
                .collect();
                if parts.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", parts.join(": "))
                }
            }
        };
        format!("{what} {how}{why} after {:.1} s", self.duration_seconds)
    }

    /// How to see and stop a task that keeps running.
    pub fn next_steps(&self) -> Vec<String> {
        vec![
            format!(
                "see it: aws ecs describe-tasks --cluster {} --tasks {}",
                self.cluster, self.task_arn
            ),
            format!(
                "stop it: aws ecs stop-task --cluster {} --task {}",
                self.cluster, self.task_arn
            ),
            "once it has exited 0, run kirikae deploy again (the task runs again first)".into(),
        ]
    }
}

/// How the task ended, or why kirikae stopped waiting for it.
#[derive(Debug, Clone)]
pub enum Ran {
    Passed(TaskReport),
    /// It stopped without exiting 0 (or could not start).
    Failed(TaskReport),
    /// kirikae stopped waiting; the task goes on in ECS.
    Unfinished(Stop, TaskReport),
}

impl Ran {
    pub fn report(&self) -> &TaskReport {
        match self {
            Ran::Passed(r) | Ran::Failed(r) | Ran::Unfinished(_, r) => r,
        }
    }
}

/// What to run, and where.
pub struct Run<'a> {
    pub cluster: &'a str,
    pub task_definition_arn: &'a str,
    pub before_switch: &'a BeforeSwitch,
    pub service_definition: &'a ServiceDefinition,
    /// The run's id: the client token, so a retried RunTask never starts a second task.
    pub run_id: &'a str,
}

/// Runs the task and waits for it to stop. `Err` only when RunTask itself failed (nothing ran).
pub async fn run(
    aws: &crate::connection::Clients,
    r: &Run<'_>,
    poller: &mut Poller<'_>,
) -> Result<Ran, Error> {
    let container = r
        .before_switch
        .container_name(r.service_definition)
        .to_string();
    let task_arn = start(aws, r, &container).await?;
    let started_at = now_epoch();
    poller.say(&Event::BeforeSwitchStarted {
        task_arn: task_arn.clone(),
        container: container.clone(),
        command: r.before_switch.command.clone(),
    });
    let mut report = TaskReport {
        task_arn: task_arn.clone(),
        cluster: r.cluster.to_string(),
        container,
        command: r.before_switch.command.clone(),
        last_status: "PROVISIONING".into(),
        exit_code: None,
        stop_code: None,
        stopped_reason: None,
        container_reason: None,
        duration_seconds: 0.0,
        started_at,
        finished_at: None,
        passed: false,
        still_running: true,
    };
    let quiet_since = tokio::time::Instant::now();
    loop {
        let interval = pace::interval(poller.base, quiet_since.elapsed(), None);
        let seen = poller
            .next(interval, || describe(aws, r.cluster, &task_arn))
            .await;
        report.duration_seconds = now_epoch() - started_at;
        let task = match seen {
            Ok(Some(t)) => t,
            // ECS keeps a stopped task for about an hour: gone this soon, it cannot be followed.
            Ok(None) => {
                report.still_running = false;
                report.stopped_reason = Some("DescribeTasks no longer finds the task".into());
                report.finished_at = Some(now_epoch());
                poller.say(&Event::BeforeSwitchEnded(report.clone()));
                return Ok(Ran::Failed(report));
            }
            Err(stop) => {
                poller.say(&Event::BeforeSwitchEnded(report.clone()));
                return Ok(Ran::Unfinished(stop, report));
            }
        };
        let status = task.last_status().unwrap_or("UNKNOWN").to_string();
        if status != report.last_status {
            report.last_status = status.clone();
            poller.say(&Event::BeforeSwitchStatus {
                task_arn: task_arn.clone(),
                last_status: status.clone(),
            });
        }
        if status == "STOPPED" {
            read_ending(&task, &mut report);
            poller.say(&Event::BeforeSwitchEnded(report.clone()));
            return Ok(if report.passed {
                Ran::Passed(report)
            } else {
                Ran::Failed(report)
            });
        }
    }
}

/// A deploy's step before the switch, whichever controller switches.
pub(crate) struct Before<'a> {
    pub aws: &'a crate::connection::Clients,
    pub cluster: &'a str,
    pub before_switch: &'a BeforeSwitch,
    pub service_definition: &'a ServiceDefinition,
    /// The run's --timeout (or its default): the task is waited for no longer than the deployment.
    pub timeout: std::time::Duration,
    pub poll_interval: std::time::Duration,
    /// What stays as it was when the task does not pass (`no deployment was created: …`).
    pub nothing: String,
}

/// The run's step before the deployment (or new service) is created: runs the config's task, if any,
/// and records it in `changes`. `Ok(None)`: it passed (or there is none), go on; `Ok(Some(..))`: the run
/// ends here, with this result and message, nothing switched; `Err`: RunTask failed (nothing ran).
pub(crate) async fn before_creating(
    p: &Prepared,
    td_arn: &str,
    run_id: &str,
    changes: &mut Changes,
    observer: &dyn Observer,
    interrupt: &Interrupt,
) -> Result<Option<(Res, String)>, Error> {
    let Some(b) = &p.plan.before_switch else {
        return Ok(None);
    };
    let nothing = match &p.remote.service {
        ServiceState::Active {
            task_definition, ..
        } => format!(
            "no deployment was created: {}/{} still runs {}",
            p.plan.cluster,
            p.plan.service,
            task_definition
                .as_deref()
                .map_or("what it ran", crate::deploy::short_arn)
        ),
        _ => format!(
            "service {}/{} was not created",
            p.plan.cluster, p.plan.service
        ),
    };
    let before = Before {
        aws: &p.aws,
        cluster: &p.plan.cluster,
        before_switch: b,
        service_definition: &p.plan.service_definition,
        timeout: p.timeout(),
        poll_interval: p.plan.wait.poll_interval,
        nothing,
    };
    before_switching(&before, td_arn, run_id, changes, observer, interrupt).await
}

/// [`before_creating`] for either controller: runs the task and says how the run goes on.
pub(crate) async fn before_switching(
    before: &Before<'_>,
    td_arn: &str,
    run_id: &str,
    changes: &mut Changes,
    observer: &dyn Observer,
    interrupt: &Interrupt,
) -> Result<Option<(Res, String)>, Error> {
    // Bounded by the run's --timeout (or its default), like the wait that follows.
    let deadline = tokio::time::Instant::now() + before.timeout;
    let mut poller = Poller::new(observer, interrupt, deadline, before.poll_interval);
    let ran = run(
        before.aws,
        &Run {
            cluster: before.cluster,
            task_definition_arn: td_arn,
            before_switch: before.before_switch,
            service_definition: before.service_definition,
            run_id,
        },
        &mut poller,
    )
    .await?;
    changes.before_switch = Some(ran.report().clone());
    let nothing = &before.nothing;
    Ok(match ran {
        Ran::Passed(_) => None,
        Ran::Failed(r) => Some((Res::Failed, format!("{}; {nothing}", r.said()))),
        Ran::Unfinished(stop, r) => {
            let what = format!("{}; it keeps running in ECS; {nothing}", r.said());
            let (result, message, _) = crate::deploy::ending::stop_said(&stop, &what);
            Some((result, message))
        }
    })
}

/// With `--revision` / `--skip-task-definition` the task runs with a revision already in AWS, not the
/// file's: its container must exist there too (ECS refuses the override otherwise), checked before any
/// change with one read. Nothing to check without `before_switch:` or when the file's is registered.
pub async fn check_revision(
    plan: &crate::plan::Plan,
    remote: &crate::preflight::Remote,
    aws: &crate::connection::Clients,
) -> Result<(), Error> {
    check_revision_of(
        &plan.config_path,
        plan.before_switch.as_ref(),
        &plan.service_definition,
        remote.existing_task_definition.as_deref(),
        aws,
    )
    .await
}

/// [`check_revision`] for either controller: the config's `before_switch:`, its service definition and
/// the revision already in AWS that the run deploys (if any).
pub async fn check_revision_of(
    config_path: &std::path::Path,
    before_switch: Option<&BeforeSwitch>,
    service_definition: &ServiceDefinition,
    existing_task_definition: Option<&str>,
    aws: &crate::connection::Clients,
) -> Result<(), Error> {
    let (Some(b), Some(arn)) = (before_switch, existing_task_definition) else {
        return Ok(());
    };
    let out = aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeTaskDefinition", e))?;
    let names: Vec<&str> = out
        .task_definition()
        .map(|t| t.container_definitions())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.name())
        .collect();
    let container = b.container_name(service_definition);
    if names.contains(&container) {
        return Ok(());
    }
    Err(crate::error::ConfigError::in_file(
        config_path,
        format!(
            "task definition {} has no container `{container}` to run the task in (it has: {})",
            crate::deploy::short_arn(arn),
            names.join(", ")
        ),
    )
    .field("before_switch.container")
    .hint("name one of its containers, or deploy a revision that has it")
    .into())
}

/// RunTask, with the service's launch settings and the container's overrides; the task's ARN.
async fn start(
    aws: &crate::connection::Clients,
    r: &Run<'_>,
    container: &str,
) -> Result<String, Error> {
    let sd = &r.service_definition.input;
    let environment: Vec<KeyValuePair> = r
        .before_switch
        .environment
        .iter()
        .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
        .collect();
    let over = ContainerOverride::builder()
        .name(container)
        .set_command(Some(r.before_switch.command.clone()))
        .set_environment((!environment.is_empty()).then_some(environment))
        .build();
    let out = aws
        .ecs
        .run_task()
        .cluster(r.cluster)
        .task_definition(r.task_definition_arn)
        .count(1)
        .set_launch_type(sd.launch_type().cloned())
        .set_capacity_provider_strategy(
            (!sd.capacity_provider_strategy().is_empty())
                .then(|| sd.capacity_provider_strategy().to_vec()),
        )
        .set_platform_version(sd.platform_version().map(str::to_string))
        .set_network_configuration(sd.network_configuration().cloned())
        .overrides(TaskOverride::builder().container_overrides(over).build())
        .started_by(STARTED_BY)
        .group(GROUP)
        .client_token(client_token(r.run_id))
        .send()
        .await
        .map_err(|e| failed("ecs:RunTask", e))?;
    if let Some(task) = out.tasks().first()
        && let Some(arn) = task.task_arn()
    {
        return Ok(arn.to_string());
    }
    // Tasks ECS cannot place are failures of the call, not errors.
    let reasons: Vec<String> = out
        .failures()
        .iter()
        .map(|f| {
            format!(
                "{}{}",
                f.reason().unwrap_or("no reason given"),
                f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
            )
        })
        .collect();
    Err(Error::Aws {
        operation: "ecs:RunTask",
        code: None,
        message: format!(
            "ECS could not start the before_switch task: {}",
            if reasons.is_empty() {
                "no task and no reason given".to_string()
            } else {
                reasons.join("; ")
            }
        ),
        hint: Some("the task definition and the service's launch settings must let ECS place one more task".into()),
    })
}

/// RunTask's idempotency token (at most 64 characters): one per run.
fn client_token(run_id: &str) -> String {
    let mut t = format!("kirikae-before-switch-{run_id}");
    t.truncate(64);
    t
}

async fn describe(
    aws: &crate::connection::Clients,
    cluster: &str,
    task_arn: &str,
) -> Result<Option<Task>, CallFailure> {
    let out = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(task_arn)
        .send()
        .await
        .map_err(|e| call_failure("ecs:DescribeTasks", e))?;
    Ok(out.tasks().first().cloned())
}

/// A STOPPED task's ending, as ECS reports it: the container's exit code and reason, the task's stop
/// code and reason.
fn read_ending(task: &Task, report: &mut TaskReport) {
    let c = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(report.container.as_str()));
    report.exit_code = c.and_then(|c| c.exit_code());
    report.container_reason = c.and_then(|c| c.reason()).map(str::to_string);
    report.stop_code = task.stop_code().map(|s| s.as_str().to_string());
    report.stopped_reason = task.stopped_reason().map(str::to_string);
    report.still_running = false;
    report.finished_at = Some(now_epoch());
    report.passed = report.exit_code == Some(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> TaskReport {
        TaskReport {
            task_arn: "arn:aws:ecs:us-east-1:1:task/demo/abc123".into(),
            cluster: "demo".into(),
            container: "web".into(),
            command: vec!["./migrate".into(), "up".into()],
            last_status: "STOPPED".into(),
            exit_code: Some(1),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            container_reason: None,
            duration_seconds: 3.25,
            started_at: 0.0,
            finished_at: Some(3.25),
            passed: false,
            still_running: false,
        }
    }

    #[test]
    fn an_ending_says_exit_code_stop_code_and_reason() {
        assert_eq!(
            report().said(),
            "before_switch task abc123 (container web, `./migrate up`) exited 1 (EssentialContainerExited: Essential container in task exited) after 3.2 s"
        );
    }

    #[test]
    fn a_task_still_running_says_so_and_how_to_see_and_stop_it() {
        let r = TaskReport {
            last_status: "RUNNING".into(),
            exit_code: None,
            still_running: true,
            ..report()
        };
        assert!(
            r.said()
                .contains("had not stopped (ECS last showed it RUNNING) after 3.2 s"),
            "{}",
            r.said()
        );
        let steps = r.next_steps();
        assert!(steps[0].contains("aws ecs describe-tasks --cluster demo --tasks arn:"));
        assert!(steps[1].contains("aws ecs stop-task --cluster demo --task arn:"));
    }

    #[test]
    fn the_client_token_fits_runtasks_limit() {
        let t = client_token(&"x".repeat(100));
        assert_eq!(t.len(), 64);
        assert!(t.starts_with("kirikae-before-switch-"));
    }
}
