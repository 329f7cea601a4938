//! `kirikae demo`: the whole point in one command, against a sandbox and never a real account.
//!
//! 1. [`examples`]: the example files shipped in `examples/` (built in, or a directory given), templated
//!    for each run with the demo's own variables (never the process environment);
//! 2. [`stack`]: provisions what a team has before adopting kirikae (`demo-stack.json`: cluster, load
//!    balancer with production and test listeners, two target groups) through the AWS SDK;
//! 3. deploys v1 with the deploy engine ([`kirikae_engine::deploy`], exactly what `kirikae deploy` runs);
//! 4. starts a steady [`load`] through the production listener and a [`listener`] watch, then deploys v2
//!    Blue/Green;
//! 5. [`report`]: what happened to every request, when production switched, and whether the deploy kept its
//!    promises; [`chart`] draws it for a terminal and [`svg`] for a browser.

pub mod chart;
pub mod examples;
pub mod listener;
pub mod load;
mod native;
pub mod report;
pub mod stack;
pub mod svg;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kirikae_engine::config::gate::{Gate, HttpCheck};
use kirikae_engine::config::{self, ReadyAction, ReadyOption};
use kirikae_engine::connection::Clients;
use kirikae_engine::deploy;
use kirikae_engine::error::Error;
use kirikae_engine::fleet::Ready;
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::outcome::Outcome;
use kirikae_engine::plan::{self, DeployFlags, Plan, WaitOptions};
use kirikae_engine::progress::{Observer, now_epoch};
use kirikae_engine::sdk::aws_config::{self, BehaviorVersion};
use kirikae_engine::sdk::aws_credential_types;

pub use report::Report;

/// The region every demo call uses (the example config's default).
pub const REGION: &str = "us-east-1";
/// Load before the v2 deployment starts, so the chart shows blue serving alone first.
const LEAD: Duration = Duration::from_secs(1);
/// Load after the deploy ended, so the chart shows green serving alone last.
const TAIL: Duration = Duration::from_secs(1);
/// How often the deploy engine polls CodeDeploy here: the sandbox is local, so poll often and end promptly.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The sandbox's endpoint.
    pub endpoint_url: String,
    /// A directory with `kirikae.yml`, its definitions and `demo-stack.json`; `None`: the copies built into
    /// kirikae, written to `work_dir`.
    pub examples: Option<PathBuf>,
    /// Where this run's files go (the built-in examples, the report).
    pub work_dir: PathBuf,
    /// A CodeDeploy deployment configuration name.
    pub deployment_config: String,
    /// Green never becomes healthy (`DEMO_HEALTH=fail`): the deployment fails and rolls back.
    pub fail: bool,
    /// `--gate`: green waits in Ready and is checked through the test listener before production moves
    /// ([`with_gate`]).
    pub gate: bool,
    /// `--controller ecs`: the service has the ECS deployment controller and ECS runs the Blue/Green
    /// deployment itself ([`native`]; `examples/kirikae-ecs.yml`).
    pub ecs: bool,
    pub load: load::Settings,
}

/// The demo's two deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deploy {
    V1 = 0,
    V2 = 1,
}

impl Deploy {
    pub fn version(self) -> &'static str {
        match self {
            Deploy::V1 => "v1",
            Deploy::V2 => "v2",
        }
    }
}

/// Tells the person watching what happens; the demo never prints.
pub trait Narrator: Send + Sync {
    /// A demo step done (e.g. the stack provisioned, the load started).
    fn step(&self, message: &str);
    /// Where the deploy engine reports the progress of `deploy`.
    fn observer(&self, deploy: Deploy) -> &dyn Observer;
    /// `deploy` ended.
    fn finished(&self, deploy: Deploy, result: &Result<Outcome, Error>);
    /// What the load saw so far, every [`LOAD_PROGRESS_EVERY`] while v2 deploys.
    fn load_progress(&self, counts: &load::Counts);
}

/// How often the load's counts are reported while v2 deploys.
pub const LOAD_PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Engine(#[from] Error),
    /// v1 must serve before v2 can be deployed over it; the outcome was already shown.
    #[error("deploying v1 did not succeed: {}", .0.message)]
    V1(Box<Outcome>),
}

/// The instant every demo time is measured from (the load's start), on a monotonic clock, with its
/// wall-clock time to place AWS's timestamps on the same axis.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    instant: Instant,
    epoch: f64,
}

impl Origin {
    pub fn now() -> Origin {
        Origin {
            instant: Instant::now(),
            epoch: now_epoch(),
        }
    }

    /// Seconds since the origin.
    pub fn elapsed(&self) -> f64 {
        self.instant.elapsed().as_secs_f64()
    }

    /// An epoch timestamp (e.g. AWS's) as seconds since the origin.
    pub fn since(&self, epoch: f64) -> f64 {
        epoch - self.epoch
    }

    pub fn epoch(&self) -> f64 {
        self.epoch
    }
}

/// Runs the demo to its report. Config errors come before any AWS call; `cancel` (Ctrl-C) stops the
/// waiting, and the report covers what happened until then.
pub async fn run(
    options: &Options,
    narrator: &dyn Narrator,
    cancel: Interrupt,
) -> Result<Report, DemoError> {
    if options.ecs {
        return native::run(options, narrator, cancel).await;
    }
    // 1. Everything local first: files, templates, both plans.
    let dir = match &options.examples {
        Some(dir) => dir.clone(),
        None => examples::write(&options.work_dir).map_err(Error::Config)?,
    };
    let prod_port = examples::production_port();
    let vars = |deploy: Deploy| examples::Vars {
        version: deploy.version(),
        healthy: !(options.fail && deploy == Deploy::V2),
        deployment_config: &options.deployment_config,
        prod_port,
    };
    let stack_file = stack::load(
        &dir.join(examples::STACK),
        &examples::templater(&vars(Deploy::V1)),
    )
    .map_err(Error::Config)?;
    let plan_of = |deploy: Deploy| -> Result<Plan, Error> {
        let flags = demo_flags();
        let templater = examples::templater(&vars(deploy));
        let mut plan = plan::build(&dir.join(examples::CONFIG), &flags, &templater)?;
        if options.gate {
            with_gate(&mut plan)?;
        }
        Ok(plan)
    };
    let (plan_v1, plan_v2) = (plan_of(Deploy::V1)?, plan_of(Deploy::V2)?);
    if prod_port != 80 {
        narrator.step(&format!(
            "port 80 is not available here (it needs root, or something listens on it): the production listener uses {prod_port} (DEMO_PROD_PORT)"
        ));
    }

    // 2. The stack, then v1.
    let aws = clients(&options.endpoint_url).await;
    let provisioned = stack::provision(&aws, &stack_file).await?;
    narrator.step(&format!(
        "provisioned {}: {provisioned}",
        dir.join(examples::STACK).display()
    ));
    narrator.step(&format!(
        "deploying v1 with kirikae deploy -c {}",
        dir.join(examples::CONFIG).display()
    ));
    let checked = deploy::prepare_with(plan_v1, aws.clone()).await;
    let checked = checked.map(|p| Ready::CodeDeploy(Box::new(p)));
    let v1 = deploy_one(checked, Deploy::V1, narrator, &cancel).await?;
    if !v1.result.is_success() {
        return Err(DemoError::V1(Box::new(v1)));
    }

    // 3. Load through the production listener, then v2 while it runs.
    let prepared = deploy::prepare_with(plan_v2, aws.clone()).await?;
    let prod_listener = prepared.remote.production_listener.clone();
    let target_groups = prepared.remote.target_groups.clone();
    let what = format!(
        "deploying v2 Blue/Green ({}{}{}) while the load runs",
        options.deployment_config,
        if options.fail {
            "; green never passes its health checks"
        } else {
            ""
        },
        if options.gate {
            "; a gate checks green through the test listener before production moves"
        } else {
            ""
        }
    );
    let v2 = V2 {
        ready: Ready::CodeDeploy(Box::new(prepared)),
        prod_listener,
        target_groups,
        what,
    };
    v2_under_load(options, &aws, v1, v2, narrator, &cancel).await
}

/// v2, ready to deploy, and what the load watches.
struct V2 {
    ready: Ready,
    prod_listener: String,
    /// The pair as `(name, ARN)`.
    target_groups: Vec<(String, String)>,
    /// What the narrator says as v2 starts.
    what: String,
}

/// Load through the production listener, v2 deployed while it runs (on either controller), and the
/// report of what every request saw.
async fn v2_under_load(
    options: &Options,
    aws: &Clients,
    v1: Outcome,
    v2: V2,
    narrator: &dyn Narrator,
    cancel: &Interrupt,
) -> Result<Report, DemoError> {
    let address = stack::listener_address(aws, &v2.prod_listener).await?;
    let origin = Origin::now();
    let watch = listener::watch(aws.elbv2.clone(), v2.prod_listener, origin);
    let load = load::start(&address, options.load, origin).await;
    narrator.step(&format!(
        "load: {} requests/s over {} connections to {} (the production listener)",
        options.load.rate, options.load.connections, address.url
    ));
    pause(LEAD, cancel).await;
    narrator.step(&v2.what);
    let execution = async {
        Ok(v2
            .ready
            .execute(narrator.observer(Deploy::V2), cancel)
            .await)
    };
    tokio::pin!(execution);
    let mut ticks = tokio::time::interval(LOAD_PROGRESS_EVERY);
    let outcome = loop {
        tokio::select! {
            result = &mut execution => break result,
            _ = ticks.tick() => narrator.load_progress(&load.counts()),
        }
    };
    narrator.load_progress(&load.counts());
    narrator.finished(Deploy::V2, &outcome);
    if outcome.is_ok() {
        pause(TAIL, cancel).await;
    }
    let load_ended = origin.elapsed();
    let samples = load.stop().await;
    let observations = watch.stop().await;
    let outcome: Outcome = outcome?;

    Ok(Report::build(report::Inputs {
        options,
        origin,
        url: &address.url,
        load_seconds: load_ended,
        samples: &samples,
        observations: &observations,
        target_groups: &v2.target_groups,
        v1,
        v2: outcome,
    }))
}

/// `--gate`: the group waits in Ready (an hour), where a gate sends requests through the test listener,
/// spread over two seconds, each of which must be answered by v2, before production moves. Checked as
/// `gate:` in a config is.
pub fn with_gate(plan: &mut Plan) -> Result<(), Error> {
    plan.codedeploy.ready = ReadyOption {
        action: ReadyAction::StopDeployment,
        wait_minutes: 60,
    };
    let gate = demo_gate();
    config::gate::check(&plan.config_path, &gate, &plan.codedeploy, Ok(()), None)?;
    plan.gate = Some(gate);
    Ok(())
}

/// The demo's gate: requests through the test listener, spread over two seconds, each of which must be
/// answered by v2.
fn demo_gate() -> Gate {
    Gate {
        http: vec![HttpCheck {
            path: "/".into(),
            method: "GET".into(),
            status: 200,
            body: Some(format!("\"version\":\"{}\"", Deploy::V2.version())),
            requests: 20,
            duration_seconds: 2,
            max_failure_ratio: 0.0,
            timeout_seconds: 5,
        }],
        command: None,
        command_timeout_seconds: 300,
        approve: false,
        test_url: None,
    }
}

/// `kirikae deploy`'s default flags, polling faster (the sandbox's clock runs fast).
fn demo_flags() -> DeployFlags {
    DeployFlags {
        wait: WaitOptions {
            poll_interval: POLL_INTERVAL,
            ..WaitOptions::default()
        },
        ..DeployFlags::default()
    }
}

/// One deploy through the engine, as `kirikae deploy` runs it: the checks (already run: `checked`),
/// then changes and waiting.
async fn deploy_one(
    checked: Result<Ready, Error>,
    deploy: Deploy,
    narrator: &dyn Narrator,
    cancel: &Interrupt,
) -> Result<Outcome, Error> {
    let result = match checked {
        Ok(ready) => Ok(ready.execute(narrator.observer(deploy), cancel).await),
        Err(e) => Err(e),
    };
    narrator.finished(deploy, &result);
    result
}

async fn pause(d: Duration, cancel: &Interrupt) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = cancel.raised() => {}
    }
}

/// SDK clients for the sandbox: fixed dummy credentials and an explicit region, so the demo never picks up
/// a profile, never asks IMDS, and never reaches a real account even when pointed elsewhere.
pub async fn clients(endpoint_url: &str) -> Clients {
    let creds = aws_credential_types::Credentials::new(
        "kirikae-demo",
        "kirikae-demo",
        None,
        None,
        "kirikae-demo",
    );
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(creds)
        .endpoint_url(endpoint_url)
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(Duration::from_millis(50)),
        )
        .load()
        .await;
    Clients::from_config(&sdk, Some(endpoint_url.to_string()))
}
