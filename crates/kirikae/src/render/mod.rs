//! Rendering a deploy for people, on stderr: live progress on a terminal (one block per service, redrawn in
//! place), plain timestamped lines anywhere else (CI logs, pipes), and the final summary. Colour only on a
//! terminal and never with `NO_COLOR`.

mod live;
mod plain;
mod summary;

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kirikae_engine::outcome::Outcome;
use kirikae_engine::progress::{DeploymentSnapshot, Event, Observer, ServiceSnapshot};

pub use summary::{error, github_outputs};

/// What the renderer knows about one service's deploy.
#[derive(Default)]
struct Row {
    label: String,
    bar: Option<ProgressBar>,
    deployment_id: Option<String>,
    console_url: Option<String>,
    deployment: Option<DeploymentSnapshot>,
    /// The original deployment's last snapshot while its rollback runs.
    rolled_back: Option<DeploymentSnapshot>,
    service: Option<ServiceSnapshot>,
    creating_service: bool,
    started: Option<Instant>,
    /// While green waits in Ready: what it waits for (the gate's checks, an approval).
    waiting: Option<String>,
    /// An ECS service deployment as last said (ECS-native Blue/Green).
    native: Option<String>,
}

pub struct Renderer {
    multi: Option<MultiProgress>,
    rows: Vec<Mutex<Row>>,
    color: bool,
}

/// Colours, or nothing.
#[derive(Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    pub fn blue(self, s: &str) -> String {
        self.wrap("34", s)
    }
    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
}

/// Whether stderr gets colour.
pub fn color_enabled() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Renderer {
    /// One row per service; `labels` are empty for a single service.
    pub fn new(labels: Vec<String>) -> Renderer {
        let live =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        let multi = live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let rows = labels
            .into_iter()
            .map(|label| {
                Mutex::new(Row {
                    label,
                    ..Row::default()
                })
            })
            .collect();
        Renderer {
            multi,
            rows,
            color: color_enabled(),
        }
    }

    pub fn observer(self: &Arc<Self>, index: usize) -> RowObserver {
        RowObserver {
            renderer: self.clone(),
            index,
        }
    }

    /// A service's deploy ended: its live block is replaced by its summary.
    pub fn finish_row(&self, index: usize, outcome: &Outcome) {
        let row = self.rows[index].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = &row.bar {
            bar.finish_and_clear();
        }
        let text = summary::summary(outcome);
        match &self.multi {
            Some(m) => {
                let _ = m.println(text.trim_end_matches('\n'));
            }
            None => eprint!("{text}"),
        }
    }

    fn paint(&self) -> Paint {
        Paint(self.color)
    }

    /// A status line among the live blocks, redrawn in place (`None` off a terminal).
    pub fn status_line(&self) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("  {msg}").expect("static template"));
        Some(bar)
    }

    /// A line above the live blocks, or a timestamped line.
    pub fn line(&self, label: &str, text: &str) {
        match &self.multi {
            Some(m) => {
                let prefix = if label.is_empty() {
                    String::new()
                } else {
                    format!("{} ", self.paint().bold(label))
                };
                let _ = m.println(format!("{prefix}{text}"));
            }
            None => plain::line(label, text),
        }
    }

    fn handle(&self, index: usize, event: &Event) {
        let mut row = self.rows[index].lock().unwrap_or_else(|e| e.into_inner());
        let paint = self.paint();
        let label = row.label.clone();
        match event {
            Event::Step { message } => {
                self.line(&label, &format!("{} {message}", paint.green("✓")))
            }
            Event::GroupUpdated { name, changes } => {
                self.line(
                    &label,
                    &format!("{} updated deployment group {name}:", paint.green("✓")),
                );
                for c in changes {
                    self.line(&label, &format!("    {c}"));
                }
            }
            Event::Warning { message } => {
                self.line(&label, &format!("{} {message}", paint.yellow("warning:")))
            }
            Event::LostContact {
                since,
                operation,
                error,
            } => self.line(
                &label,
                &format!(
                    "{} lost contact with AWS at {} ({operation}: {error}); retrying until the deadline",
                    paint.yellow("!"),
                    kirikae_engine::progress::utc_clock(*since)
                ),
            ),
            Event::ContactRestored { down_seconds, .. } => self.line(
                &label,
                &format!(
                    "{} contact with AWS is back (after {down_seconds:.0} s)",
                    paint.green("✓")
                ),
            ),
            Event::Heartbeat { waited_seconds } => {
                // A live view shows time passing by itself; logs need a line.
                if self.multi.is_none() {
                    let what = row
                        .deployment
                        .as_ref()
                        .map(|d| format!("deployment {} is {}", d.deployment_id, d.status))
                        .or_else(|| {
                            row.native
                                .as_ref()
                                .map(|n| format!("service deployment {n}"))
                        })
                        .or_else(|| {
                            row.service.as_ref().map(|s| {
                                format!("{}/{} task(s) running", s.running_count, s.desired_count)
                            })
                        })
                        .unwrap_or_else(|| "waiting".into());
                    self.line(
                        &label,
                        &format!("still waiting ({:.0} s): {what}", waited_seconds),
                    );
                }
            }
            Event::Throttled { interval_seconds } => {
                if self.multi.is_none() {
                    self.line(
                        &label,
                        &format!("AWS is throttling; polling every {interval_seconds:.0} s"),
                    );
                }
            }
            Event::ServiceCreating {
                service,
                task_definition,
                desired_count,
            } => {
                row.creating_service = true;
                row.started = Some(Instant::now());
                self.line(
                    &label,
                    &format!(
                        "creating service {service} with {} ({desired_count} task(s))",
                        kirikae_engine::deploy::short_arn(task_definition)
                    ),
                );
                self.start_bar(&mut row);
            }
            Event::ServiceProgress(s) => {
                if self.multi.is_none() {
                    plain::service(&label, row.service.as_ref(), s);
                }
                row.service = Some(s.clone());
            }
            Event::DeploymentCreated {
                deployment_id,
                console_url,
                ..
            } => {
                row.deployment_id = Some(deployment_id.clone());
                row.console_url = Some(console_url.clone());
                row.started = Some(Instant::now());
                self.line(
                    &label,
                    &format!(
                        "{} created deployment {}",
                        paint.green("✓"),
                        paint.bold(deployment_id)
                    ),
                );
                self.line(&label, &format!("  {}", paint.dim(console_url)));
                self.start_bar(&mut row);
            }
            Event::DeploymentProgress(s) => {
                let s = &relabel(s, row.rolled_back.as_ref());
                if s.status.as_str() != "Ready" {
                    row.waiting = None;
                }
                if self.multi.is_none() {
                    plain::deployment(
                        &label,
                        row.deployment
                            .as_ref()
                            .filter(|p| p.deployment_id == s.deployment_id),
                        s,
                    );
                }
                row.deployment = Some(s.clone());
            }
            Event::ServiceDeploymentProgress(s) => {
                let said = s.said();
                if self.multi.is_none() && row.native.as_deref() != Some(said.as_str()) {
                    self.line(&label, &format!("service deployment {said}"));
                }
                row.native = Some(said);
            }
            Event::GateStarted {
                test_url,
                checks,
                command,
                ..
            } => {
                let mut what = checks.clone();
                what.extend(command.iter().map(|c| format!("command `{c}`")));
                let url = test_url
                    .as_ref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default();
                self.line(
                    &label,
                    &format!(
                        "gate: checking green through the test listener{url}: {}",
                        what.join(", ")
                    ),
                );
                row.waiting = Some("gate: checking green through the test listener…".into());
            }
            Event::GateCheck(r) => {
                let mark = if r.passed {
                    paint.green("✓")
                } else {
                    paint.red("✗")
                };
                let why = r
                    .first_failure
                    .as_ref()
                    .map(|f| format!(" (first failure: {f})"))
                    .unwrap_or_default();
                self.line(
                    &label,
                    &format!(
                        "{mark} gate: {}: {}/{} requests passed, at most {:.0}% may fail ({:.1} s){why}",
                        r.check,
                        r.requests - r.failures,
                        r.requests,
                        r.max_failure_ratio * 100.0,
                        r.duration_seconds
                    ),
                );
            }
            Event::GateCommand(c) => {
                let mark = if c.passed {
                    paint.green("✓")
                } else {
                    paint.red("✗")
                };
                let how = match (&c.error, c.timed_out, c.exit_code) {
                    (Some(e), _, _) => e.clone(),
                    (None, true, _) => "ran out of time and was stopped".into(),
                    (None, false, Some(code)) => format!("exited {code}"),
                    (None, false, None) => "was killed by a signal".into(),
                };
                self.line(
                    &label,
                    &format!(
                        "{mark} gate: command `{}` {how} ({:.1} s)",
                        c.command, c.duration_seconds
                    ),
                );
                if !c.passed {
                    for l in &c.output_tail {
                        self.line(&label, &format!("    {}", paint.dim(l)));
                    }
                }
            }
            Event::GateDecided {
                passed,
                summary,
                action,
                ..
            } => {
                let mark = if *passed {
                    paint.green("✓")
                } else {
                    paint.red("✗")
                };
                self.line(&label, &format!("{mark} gate {summary}"));
                self.line(&label, &format!("  {action}"));
                row.waiting = None;
            }
            Event::BeforeSwitchStarted {
                task_arn,
                container,
                command,
            } => self.line(
                &label,
                &format!(
                    "before_switch: started task {} (container {container}, `{}`) with the new task definition; the deployment waits for it to exit 0",
                    task_arn.rsplit('/').next().unwrap_or(task_arn),
                    command.join(" ")
                ),
            ),
            Event::BeforeSwitchStatus { last_status, .. } => {
                self.line(&label, &format!("before_switch: task is {last_status}"))
            }
            Event::BeforeSwitchEnded(r) => {
                let mark = if r.passed {
                    paint.green("✓")
                } else if r.still_running {
                    paint.yellow("!")
                } else {
                    paint.red("✗")
                };
                self.line(&label, &format!("{mark} {}", r.said()));
            }
            Event::AwaitingApproval {
                promote,
                auto_promote_at,
                ..
            } => {
                let auto = auto_promote_at
                    .map(|t| {
                        format!(
                            "; promoting by itself at {}",
                            kirikae_engine::progress::utc_clock(t)
                        )
                    })
                    .unwrap_or_default();
                let text = format!("waiting for approval: {promote}{auto}");
                self.line(&label, &format!("{} {text}", paint.yellow("⏸")));
                row.waiting = Some(text);
            }
            Event::RollbackStarted {
                deployment_id,
                rollback_deployment_id,
            } => {
                row.rolled_back = row.deployment.take();
                self.line(
                    &label,
                    &format!(
                        "{} {deployment_id} is rolled back by {rollback_deployment_id}",
                        paint.yellow("↩")
                    ),
                );
            }
        }
        if let Some(bar) = &row.bar {
            bar.set_message(live::block(&row, paint));
        }
    }

    fn start_bar(&self, row: &mut Row) {
        let Some(multi) = &self.multi else { return };
        if row.bar.is_some() {
            return;
        }
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("static template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar.set_message(live::block(row, self.paint()));
        row.bar = Some(bar);
    }
}

/// A rollback deployment labels the task sets from its own point of view (its "green" is the original
/// set). Shown next to the deployment it undoes, blue and green keep the original deployment's meaning:
/// blue is what ran before.
fn relabel(s: &DeploymentSnapshot, original: Option<&DeploymentSnapshot>) -> DeploymentSnapshot {
    let Some(original) = original else {
        return s.clone();
    };
    let mut s = s.clone();
    for t in &mut s.task_sets {
        if let Some(o) = original.task_sets.iter().find(|o| o.id == t.id) {
            t.label = o.label.clone();
        }
    }
    s
}

/// The engine's observer for one service.
pub struct RowObserver {
    renderer: Arc<Renderer>,
    index: usize,
}

impl Observer for RowObserver {
    fn on_event(&self, event: &Event) {
        self.renderer.handle(self.index, event);
    }
}
