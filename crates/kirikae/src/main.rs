//! `kirikae`: a thin binary over the library crates. Data goes to stdout, messages to stderr, and the
//! exit status is typed (see [`exit`]).

mod cmd;
mod exit;
mod render;
mod report;
mod signals;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kirikae",
    version,
    about = "Blue/Green deploys of Amazon ECS services through AWS CodeDeploy, and a local AWS sandbox to rehearse them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the whole point on this machine, no AWS account: a local sandbox, a service under steady load,
    /// a Blue/Green deploy that switches it at one instant, and a report of every request.
    Demo(Box<cmd::demo::Args>),
    /// Deploy ECS services Blue/Green through CodeDeploy, as declared in kirikae.yml.
    Deploy(Box<cmd::deploy::Args>),
    /// Check everything a deploy would check, files and AWS, changing nothing; each check is shown.
    Verify(Box<cmd::verify::Args>),
    /// What a deploy would change, field by field, against what runs (exit 0: nothing, 1: something).
    Diff(Box<cmd::diff::Args>),
    /// Write kirikae.yml and the task and service definitions from a service that runs (read-only).
    Init(Box<cmd::init::Args>),
    /// Create what the config's Blue/Green still lacks (second target group, test listener, CodeDeploy or
    /// ECS infrastructure role; for ECS-native, the production listener's weighted 1/0 form), after
    /// printing the plan.
    Setup(Box<cmd::setup::Args>),
    /// Move a CodeDeploy Blue/Green service to ECS-native Blue/Green in place (listeners weighted 1/0,
    /// UpdateService to the ECS controller), after printing the plan; rewrites kirikae.yml with --write.
    Migrate(Box<cmd::migrate::Args>),
    /// Follow the group's running deployment (or --deployment-id) to its end, as deploy would have.
    Watch(Box<cmd::operate::WatchArgs>),
    /// Shift production traffic of a deployment waiting in Ready (ContinueDeployment), then follow it.
    Promote(Box<cmd::operate::PromoteArgs>),
    /// Stop the running deployment without rollback (traffic stays where it is), then follow it.
    Stop(Box<cmd::operate::StopArgs>),
    /// Stop the running deployment with CodeDeploy's rollback (production back on blue), then follow it.
    Rollback(Box<cmd::operate::RollbackArgs>),
    /// The group's deployments, newest first: what each deployed, who started it and from where.
    History(Box<cmd::history::Args>),
    /// Run a local AWS endpoint (ECS, ELBv2, CodeDeploy, CloudWatch alarms) that runs real tasks behind real listeners.
    Sandbox(cmd::sandbox::Args),
    /// The built-in demo app that image `kirikae/demo:<tag>` runs inside the sandbox.
    #[command(name = "__demo-app", hide = true)]
    DemoApp {
        /// The container's command (Docker's CMD), e.g. `exit 1` for a one-off task.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::Status::Failure.into();
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => cmd::demo::run(*args).await,
            Command::Deploy(args) => cmd::deploy::run(*args).await,
            Command::Verify(args) => cmd::verify::run(*args).await,
            Command::Diff(args) => cmd::diff::run(*args).await,
            Command::Init(args) => cmd::init::run(*args).await,
            Command::Setup(args) => cmd::setup::run(*args).await,
            Command::Migrate(args) => cmd::migrate::run(*args).await,
            Command::Watch(args) => cmd::operate::watch(*args).await,
            Command::Promote(args) => cmd::operate::promote(*args).await,
            Command::Stop(args) => cmd::operate::stop(*args).await,
            Command::Rollback(args) => cmd::operate::rollback(*args).await,
            Command::History(args) => cmd::history::run(*args).await,
            Command::Sandbox(args) => cmd::sandbox::run(args).await,
            Command::DemoApp { command } => cmd::demo_app::run(command).await,
        }
    })
}

/// Logs go to stderr, filtered by `KIRIKAE_LOG` (e.g. `debug`, `kirikae_sandbox=trace`); colour only on
/// a terminal and never with `NO_COLOR`.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KIRIKAE_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,aws_config=error,aws_smithy_runtime=error")
    });
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .init();
}
