//! `kirikae migrate -c FILE [--dry-run] [--delete-codedeploy] [--write|--print] [--output json]`: moves
//! the CodeDeploy Blue/Green service of a config with a `codedeploy:` block to ECS-native Blue/Green
//! in place (engine `migrate`). The plan first (stderr; `--output json`: in the document), every refusal
//! before any change (exit 2); then the listeners' weighted form, UpdateService to the ECS controller,
//! and the service deployment that starts, followed as `kirikae deploy` follows one (same rows, report,
//! signals and exit statuses). The new `kirikae.yml` is written in place with `--write` once the service
//! has moved; by default it is printed on stdout (in the JSON document with `--output json`) and the
//! config is left as it is: a second `kirikae migrate --write` changes nothing in AWS and writes it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use kirikae_engine::config::Templater;
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::lock::Taken;
use kirikae_engine::migrate::{self, Migration, Options};
use kirikae_engine::native::operate::{self, Target};
use kirikae_engine::plan::{self, DeployFlags};
use kirikae_engine::progress::{Event, Observer};
use kirikae_engine::{Error, native};
use serde_json::{Value, json};

use super::deploy::{Output, error_doc};
use super::read_args::Aws;
use crate::exit::Status;
use crate::render::{self, Paint, Renderer, color_enabled};
use crate::report::{self, Noting, Report};
use crate::signals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Config file with the `codedeploy:` block the service is deployed with.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "kirikae.yml"
    )]
    config: PathBuf,
    /// Print the plan and the new config; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Once the service has moved, delete the CodeDeploy deployment group (and the application when it
    /// has no other group).
    #[arg(long)]
    delete_codedeploy: bool,
    /// Rewrite the config file in place (the `ecs:` block instead of `codedeploy:`) once the service
    /// has moved.
    #[arg(long, conflicts_with = "print")]
    write: bool,
    /// Print the new config on stdout and leave the file as it is (the default).
    #[arg(long)]
    print: bool,
    /// The role ECS manages the listeners with (trusting ecs.amazonaws.com); default
    /// ecsInfrastructureRoleForLoadBalancers in the service's account.
    #[arg(long, value_name = "ARN")]
    infrastructure_role: Option<String>,
    /// Stop waiting for the service deployment after this long (it goes on in AWS; exit 3).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    timeout: Option<Duration>,
    /// `text` (progress on stderr, the new config on stdout) or `json` (one document on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration, hide = true)]
    poll_interval: Duration,
    #[command(flatten)]
    aws: Aws,
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 90s, 30m, 1h)"))
}

/// Refusals before any change are exit 2 (a deployment going on included); a failed AWS read is 1.
fn status_of(e: &Error) -> Status {
    match e {
        Error::Aws { .. } => Status::Failure,
        _ => Status::Usage,
    }
}

pub async fn run(args: Args) -> ExitCode {
    let json_out = args.output == Output::Json;
    let report = Arc::new(Report::new(json_out));
    let refused = |e: &Error| {
        render::error(e);
        report.write(vec![error_doc(e, status_of(e))])
    };
    let (flags, templater) = (DeployFlags::default(), Templater::from_process_env());
    let config = args.config.display().to_string();
    // A config that already has an `ecs:` block: nothing to migrate (or a mismatch to say).
    match native::plan::build(&args.config, &flags, &templater) {
        Ok(Some(p)) => {
            let said = match args.aws.connection().connect(p.region.as_deref()).await {
                Ok(aws) => migrate::already_native(&p, &aws).await,
                Err(e) => Err(Error::Config(e)),
            };
            return match said {
                Ok(message) => {
                    eprintln!("{message}");
                    report.write(vec![json!({
                        "result": "nothing_to_migrate", "exit_code": 0, "config": config,
                        "cluster": p.cluster, "service": p.service, "message": message,
                    })])
                }
                Err(e) => refused(&e),
            };
        }
        Ok(None) => {}
        Err(e) => return refused(&Error::Config(e)),
    }
    let plan = match plan::build(&args.config, &flags, &templater) {
        Ok(p) => p,
        Err(e) => return refused(&Error::Config(e)),
    };
    let aws = match args.aws.connection().connect(plan.region.as_deref()).await {
        Ok(a) => a,
        Err(e) => return refused(&Error::Config(e)),
    };
    let options = Options {
        infrastructure_role: args.infrastructure_role.clone(),
        delete_codedeploy: args.delete_codedeploy,
    };
    let m = match migrate::plan(&plan, &options, &aws).await {
        Ok(m) => m,
        Err(e) => return refused(&e),
    };
    show_plan(&args, &m);
    let mut doc = json!({
        "config": config, "cluster": m.cluster, "service": m.service,
        "plan": m.steps, "notes": m.notes, "config_text": m.new_config.text,
        "config_written": false,
    });
    if args.dry_run {
        eprintln!("dry run: nothing was changed");
        print_config(&args, &m);
        doc["result"] = json!("dry_run");
        doc["exit_code"] = json!(0);
        return report.write(vec![doc]);
    }
    if !m.changes_anything() {
        eprintln!(
            "nothing to migrate: {}/{} already has the ECS controller; nothing was changed in AWS",
            m.cluster, m.service
        );
        doc["config_written"] = json!(write_config(&args, &m));
        doc["result"] = json!("nothing_to_migrate");
        doc["exit_code"] = json!(0);
        return report.write(vec![doc]);
    }

    // From here on AWS changes: every ending is a document with what changed.
    let interrupt = Interrupt::new();
    signals::spawn(
        interrupt.clone(),
        report.clone(),
        signals::first_said(Default::default()),
    );
    report.begin([(config.clone(), m.cluster.clone(), m.service.clone())]);
    // Under the deploy lock: no deploy of this service interleaves with the move.
    let guard = migrate::guard::Guard {
        migration: m,
        plan,
        options,
        aws: aws.clone(),
    };
    let (m, lock) = match migrate::guard::take(guard, &Warnings, &interrupt).await {
        Taken::Held(g, lock) => (g.migration, lock),
        Taken::Refused(e) => {
            render::error(&e);
            eprintln!("nothing was changed");
            doc["result"] = json!("error");
            doc["exit_code"] = json!(Status::Failure as u8);
            doc["error"] = error_doc(&e, Status::Failure)["error"].clone();
            return report.write(vec![doc]);
        }
        Taken::TimedOut(message) => {
            eprintln!("{message}; nothing was changed");
            doc["result"] = json!("timed_out");
            doc["exit_code"] = json!(Status::TimedOut as u8);
            doc["message"] = json!(message);
            return report.write(vec![doc]);
        }
        Taken::Interrupted => {
            eprintln!("interrupted: nothing was changed");
            return report.write(vec![report::interrupted_before_changes(
                interrupt.exit_code(),
            )]);
        }
    };
    let executed = migrate::execute(&m, &aws).await;
    if let Some(lock) = lock {
        lock.release(&Warnings).await;
    }
    for c in &executed.changed {
        eprintln!("changed {c}");
    }
    doc["changed"] = json!(executed.changed);
    if let Some(e) = &executed.error {
        render::error(e);
        let message = if executed.changed.is_empty() {
            "nothing was changed; run kirikae migrate again".to_string()
        } else {
            format!(
                "{}/{} still has the CodeDeploy controller; the listeners changed so far forward as before (weights 1/0); run kirikae migrate again to finish",
                m.cluster, m.service
            )
        };
        eprintln!("{message}");
        doc["result"] = json!("failed");
        doc["exit_code"] = json!(Status::Failure as u8);
        doc["message"] = json!(message);
        doc["error"] = error_doc(e, Status::Failure)["error"].clone();
        return report.write(vec![doc]);
    }
    if executed.moved {
        doc["config_written"] = json!(write_config(&args, &m));
    }
    let mut outcome_doc = match &executed.deployment {
        Some(arn) => {
            let target = Target {
                config: config.clone(),
                cluster: m.cluster.clone(),
                service: m.service.clone(),
            };
            follow(&args, &aws, &report, &interrupt, &target, arn, &m).await
        }
        None => {
            let message = if executed.moved {
                format!(
                    "{}/{} moved to the ECS controller; ECS started no service deployment",
                    m.cluster, m.service
                )
            } else {
                format!("{}/{} already has the ECS controller", m.cluster, m.service)
            };
            eprintln!("{message}");
            json!({"result": "succeeded", "exit_code": 0, "message": message})
        }
    };
    if m.delete_codedeploy
        && let Some((app, group)) = &m.codedeploy
    {
        if outcome_doc["exit_code"] == 0 {
            match migrate::delete_codedeploy(&aws, app, group).await {
                Ok(deleted) => {
                    for d in &deleted {
                        eprintln!("deleted {d}");
                    }
                    doc["codedeploy_deleted"] = json!(deleted);
                }
                Err(e) => {
                    render::error(&e);
                    eprintln!(
                        "the service has moved; the CodeDeploy application and group are left: delete them with aws deploy delete-deployment-group / delete-application"
                    );
                    outcome_doc["exit_code"] = json!(Status::Failure as u8);
                    outcome_doc["result"] = json!("failed");
                }
            }
        } else {
            eprintln!(
                "CodeDeploy application {app} and group {group} are left in place: the service deployment did not succeed (kirikae migrate --delete-codedeploy deletes them once it did)"
            );
        }
    }
    if !args.write {
        print_config(&args, &m);
    }
    // The migration's facts beside the deployment's outcome, in one document.
    if let (Value::Object(out), Value::Object(extra)) = (&mut outcome_doc, doc) {
        for (k, v) in extra {
            out.entry(k).or_insert(v);
        }
    }
    report.write(vec![outcome_doc])
}

fn show_plan(args: &Args, m: &Migration) {
    let paint = Paint(color_enabled());
    eprintln!(
        "{}",
        paint.bold(&format!(
            "{}: migration of {}/{} to ECS-native Blue/Green",
            args.config.display(),
            m.cluster,
            m.service
        ))
    );
    for s in &m.steps {
        let (mark, verb) = match s.action {
            "modify" => (paint.yellow("~"), "modify "),
            "delete" => (paint.yellow("-"), "delete "),
            "exists" => (paint.dim("✓"), ""),
            _ => (paint.dim("·"), ""),
        };
        let mut line = format!("  {mark} {verb}{}", s.resource);
        if !s.detail.is_empty() {
            line.push_str(&format!(": {}", s.detail));
        }
        eprintln!("{line}");
    }
    for n in &m.notes {
        eprintln!("  note: {n}");
    }
}

/// `--write`: the config file rewritten; returns whether it was.
fn write_config(args: &Args, m: &Migration) -> bool {
    if !args.write {
        return false;
    }
    match std::fs::write(&args.config, &m.new_config.text) {
        Ok(()) => {
            eprintln!(
                "wrote {}: an ecs: block instead of codedeploy:{}",
                args.config.display(),
                if m.new_config.kept_as_written {
                    " (every other line as it was)"
                } else {
                    " (written again from its content: comments were not kept)"
                }
            );
            true
        }
        Err(e) => {
            eprintln!(
                "error: could not write {}: {e}; the new config is printed below",
                args.config.display()
            );
            false
        }
    }
}

/// The new config on stdout (text output), with how to write it.
fn print_config(args: &Args, m: &Migration) {
    if args.output == Output::Json {
        return;
    }
    print!("{}", m.new_config.text);
    eprintln!(
        "the new {} is on stdout; {} is unchanged: kirikae migrate -c {} --write writes it (once the service has moved, a run changes nothing in AWS)",
        args.config.display(),
        args.config.display(),
        args.config.display()
    );
}

/// Follows the service deployment UpdateService started, as `kirikae deploy` does; its document.
async fn follow(
    args: &Args,
    aws: &kirikae_engine::connection::Clients,
    report: &Arc<Report>,
    interrupt: &Interrupt,
    target: &Target,
    arn: &str,
    m: &Migration,
) -> Value {
    eprintln!(
        "{}/{} has the ECS controller; following service deployment {arn} (the same task definition, moving to the other group)",
        m.cluster, m.service
    );
    let created = Event::DeploymentCreated {
        deployment_id: arn.to_string(),
        console_url: native::ending::console_url(&aws.region, &m.cluster, &m.service),
        task_definition: String::new(),
    };
    report.note(0, &created);
    let renderer = Arc::new(Renderer::new(vec![String::new()]));
    let observer = Noting {
        report: report.clone(),
        index: 0,
        inner: renderer.observer(0),
    };
    let timeout = args
        .timeout
        .unwrap_or_else(|| Duration::from_secs((m.expected_minutes + 30) * 60));
    let waiting = operate::Waiting {
        timeout,
        poll_interval: args.poll_interval,
        policy: Default::default(),
    };
    // A gate carried over runs at the move's own pause, as deploy runs it.
    let test_url = match &m.standing {
        migrate::Standing::Move(moves) => moves.test_url.as_deref(),
        _ => None,
    };
    let gate = m.gate.as_ref().map(|gate| operate::GateAt {
        gate,
        test_url,
        config_path: &args.config,
    });
    let outcome =
        operate::follow_guarded(aws, target, arn, &waiting, gate, &observer, interrupt).await;
    renderer.finish_row(0, &outcome);
    report.finished(0, &outcome);
    report::doc(&outcome)
}

/// What the lock says before the move's rows exist: its warnings, on stderr.
struct Warnings;

impl Observer for Warnings {
    fn on_event(&self, event: &Event) {
        if let Event::Warning { message } = event {
            eprintln!("warning: {message}");
        }
    }
}
