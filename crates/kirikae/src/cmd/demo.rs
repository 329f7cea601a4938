//! `kirikae demo`: a sandbox in this process (or `--endpoint-url`), the stack of `examples/`, v1 deployed,
//! then v2 deployed Blue/Green under a steady load, and a report of every request. The logic is
//! [`kirikae_demo`]; this file parses flags, renders and picks the exit status: the deploy's own
//! (see [`crate::exit`]), or 1 when the deploy broke a promise (a failed request, a stale response).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use kirikae_demo::{self as demo, DemoError, Deploy, Narrator, Report, chart, examples, load, svg};
use kirikae_engine::Error;
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::outcome::{Outcome, Result as Res};
use kirikae_engine::progress::Observer;
use kirikae_sandbox::Sandbox;
use serde_json::json;

use super::deploy::{Output, fail, spawn_interrupt_handler};
use super::sandbox::{self, positive_f64};
use crate::exit::Status;
use crate::render::{Paint, Renderer, RowObserver, color_enabled};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How CodeDeploy shifts production traffic: all-at-once, canary (10%, the rest 5 minutes later),
    /// linear (10% more every minute), or any deployment configuration name.
    #[arg(long, value_name = "CONFIG", default_value = "all-at-once")]
    deployment_config: String,
    /// Green never passes its health checks (DEMO_HEALTH=fail): watch CodeDeploy roll back (exit 1).
    #[arg(long)]
    fail: bool,
    /// Hold v2 in Ready (on `--controller ecs`: at a pause at POST_TEST_TRAFFIC_SHIFT) and check it
    /// through the test listener (a `gate:`) before production moves: the report checks that production
    /// answered nothing from v2 before the gate passed.
    #[arg(long, conflicts_with = "fail")]
    gate: bool,
    /// Who runs the Blue/Green deployment: `codedeploy` (the service's controller is CODE_DEPLOY;
    /// examples/kirikae.yml) or `ecs` (ECS-native Blue/Green, controller ECS; examples/kirikae-ecs.yml,
    /// where --deployment-config all-at-once / canary / linear pick BLUE_GREEN / CANARY / LINEAR).
    #[arg(long, value_enum, default_value_t = Controller::Codedeploy, conflicts_with = "fail")]
    controller: Controller,
    /// AWS seconds per real second in the sandbox this starts. Default: 60 (an AWS minute per second);
    /// 600 with --fail, since CodeDeploy gives green an hour to become healthy.
    #[arg(long, value_parser = positive_f64, conflicts_with = "endpoint_url")]
    time_scale: Option<f64>,
    /// Use this running `kirikae sandbox` instead of starting one in this process.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Write the SVG report here (default: kirikae-demo-PID/report.svg in the system temp directory).
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Use the example files in DIR (kirikae.yml, its definitions, demo-stack.json) instead of the copies
    /// of examples/ built into kirikae.
    #[arg(long, value_name = "DIR")]
    examples: Option<PathBuf>,
    /// Requests per second through the production listener while v2 is deployed.
    #[arg(long, default_value_t = 100.0, value_parser = positive_f64)]
    rate: f64,
    /// Keep-alive connections the load is spread over.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    connections: u16,
    /// `text` (the report on stderr) or `json` (the report as one JSON document on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// `--controller`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Controller {
    Codedeploy,
    Ecs,
}

pub async fn run(args: Args) -> ExitCode {
    let json_out = args.output == Output::Json;
    let cancel = Interrupt::new();
    spawn_interrupt_handler(cancel.clone());
    let paint = Paint(color_enabled());
    let work_dir = std::env::temp_dir().join(format!("kirikae-demo-{}", std::process::id()));
    let time_scale = args
        .time_scale
        .unwrap_or(if args.fail { 600.0 } else { 60.0 });

    let sandbox = match &args.endpoint_url {
        Some(_) => None,
        None => match start_sandbox(time_scale).await {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("{} {e}", paint.red("error:"));
                return Status::Failure.into();
            }
        },
    };
    let endpoint_url = match (&args.endpoint_url, &sandbox) {
        (Some(url), _) => url.clone(),
        (None, Some(s)) => s.endpoint_url(),
        (None, None) => unreachable!("a sandbox is started when no endpoint is given"),
    };
    eprintln!(
        "{} a Blue/Green deploy of kirikae/demo v1 → v2 on {}, no AWS account involved",
        paint.bold("kirikae demo:"),
        match &args.endpoint_url {
            Some(url) => format!("the sandbox at {url}"),
            None => format!(
                "a sandbox in this process at {endpoint_url} (time scale {time_scale}x: an AWS minute lasts {:.2} s)",
                60.0 / time_scale
            ),
        }
    );

    let options = demo::Options {
        endpoint_url,
        examples: args.examples.clone(),
        work_dir: work_dir.clone(),
        deployment_config: examples::deployment_config(&args.deployment_config),
        fail: args.fail,
        gate: args.gate,
        ecs: args.controller == Controller::Ecs,
        load: load::Settings {
            rate: args.rate,
            connections: args.connections as usize,
        },
    };
    let narration = Narration::new(paint);
    let code = match demo::run(&options, &narration, cancel).await {
        Ok(report) => {
            let path = args.report.unwrap_or_else(|| work_dir.join("report.svg"));
            show(report, &path, json_out, paint)
        }
        Err(DemoError::Engine(e)) => fail(json_out, &e),
        Err(DemoError::V1(outcome)) => v1_failed(&outcome, json_out, paint),
    };
    if let Some(s) = sandbox {
        s.shutdown().await;
    }
    code
}

/// A sandbox in this process, on a free port.
async fn start_sandbox(time_scale: f64) -> Result<Sandbox, String> {
    let config = sandbox::config("127.0.0.1:0".parse().expect("an address"), time_scale)?;
    Sandbox::start(config).await.map_err(|e| e.to_string())
}

/// The report: text on stderr, the SVG file, JSON on stdout; the exit status.
fn show(mut report: Report, path: &PathBuf, json_out: bool, paint: Paint) -> ExitCode {
    match write(path, &svg::render(&report)) {
        Ok(()) => report.report_file = Some(path.display().to_string()),
        Err(e) => eprintln!(
            "{} cannot write the report to {}: {e}",
            paint.yellow("warning:"),
            path.display()
        ),
    }
    eprint!("{}", chart::text(&report, paint.0));
    let verdict = match (report.ok, report.fail) {
        _ if matches!(report.result, Res::Interrupted | Res::TimedOut) => paint.yellow(
            "! the deploy had not ended: the report covers what happened until the demo stopped waiting",
        ),
        (true, false) => paint.green(
            "✓ the deploy did what it promised: every request answered, one switch, nothing stale after it",
        ),
        (true, true) => paint.green(&format!(
            "✓ green never became healthy, CodeDeploy rolled back, production stayed on {} with no failed request (exit {}, as for any rolled-back deploy)",
            report.blue, report.exit_code
        )),
        (false, _) => paint.red("✗ the deploy did not do what it promised (see the checks above)"),
    };
    eprintln!("\n{verdict}");
    if let Some(file) = &report.report_file {
        eprintln!("report: {file}");
    }
    if json_out {
        println!(
            "{:#}",
            serde_json::to_value(&report).expect("report serialises")
        );
    }
    Status::from_code(report.exit_code).into()
}

fn write(path: &PathBuf, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

fn v1_failed(outcome: &Outcome, json_out: bool, paint: Paint) -> ExitCode {
    eprintln!(
        "{} v1 must serve before v2 can be deployed over it",
        paint.red("error:")
    );
    let status = Status::from_code(outcome.exit_code()).worst(Status::Failure);
    if json_out {
        println!(
            "{:#}",
            json!({"result": "error", "exit_code": status as u8, "message": "deploying v1 did not succeed", "v1": outcome})
        );
    }
    status.into()
}

/// Demo steps as lines; each deploy as `kirikae deploy` shows it, one row per version; while v2 deploys,
/// what the load sees, redrawn in place next to the live block (or a line a second off a terminal).
struct Narration {
    renderer: Arc<Renderer>,
    observers: Vec<RowObserver>,
    paint: Paint,
    load_line: std::sync::Mutex<LoadLine>,
}

#[derive(Default)]
struct LoadLine {
    bar: Option<indicatif::ProgressBar>,
    /// Off a terminal: when the last line was printed.
    printed_at: Option<std::time::Instant>,
    /// The newest text, printed for good when the deploy ends.
    last: Option<String>,
}

impl Narration {
    fn load_text(&self, counts: &load::Counts) -> String {
        let p = self.paint;
        let versions: Vec<String> = counts
            .by_version
            .iter()
            .map(|(v, n)| {
                let v = if v == Deploy::V1.version() {
                    p.blue(v)
                } else {
                    p.green(v)
                };
                format!("{v} {n}")
            })
            .collect();
        let failed = format!("{} failed", counts.failed);
        format!(
            "load: {} requests · {} · {} · answering now: {}",
            counts.sent(),
            versions.join(" · "),
            if counts.failed == 0 {
                failed
            } else {
                p.red(&failed)
            },
            counts.latest.as_deref().unwrap_or("-"),
        )
    }
}

impl Narration {
    fn new(paint: Paint) -> Narration {
        let labels = [Deploy::V1, Deploy::V2].map(|d| d.version().to_string());
        let renderer = Arc::new(Renderer::new(labels.to_vec()));
        let observers = (0..labels.len()).map(|i| renderer.observer(i)).collect();
        Narration {
            renderer,
            observers,
            paint,
            load_line: Default::default(),
        }
    }
}

impl Narrator for Narration {
    fn step(&self, message: &str) {
        eprintln!("{} {message}", self.paint.blue("▸"));
    }

    fn observer(&self, deploy: Deploy) -> &dyn Observer {
        &self.observers[deploy as usize]
    }

    fn finished(&self, deploy: Deploy, result: &Result<Outcome, Error>) {
        let mut line = self.load_line.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = line.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(last) = line.last.take() {
            self.renderer.line("", &last);
        }
        match result {
            Ok(outcome) => self.renderer.finish_row(deploy as usize, outcome),
            Err(e) => crate::render::error(e),
        }
    }

    fn load_progress(&self, counts: &load::Counts) {
        let text = self.load_text(counts);
        let mut line = self.load_line.lock().unwrap_or_else(|e| e.into_inner());
        if line.bar.is_none() && line.printed_at.is_none() {
            line.bar = self.renderer.status_line();
        }
        line.last = Some(text.clone());
        match &line.bar {
            Some(bar) => bar.set_message(text),
            None => {
                let now = std::time::Instant::now();
                if line
                    .printed_at
                    .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(1))
                {
                    self.renderer.line("", &text);
                    line.printed_at = Some(now);
                }
            }
        }
    }
}
