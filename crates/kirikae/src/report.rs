//! The end of a run, for machines: one JSON document on stdout (`--output json`), the step outputs in
//! `$GITHUB_OUTPUT`, and the exit status — all three from the same documents, so they always agree.
//! Written exactly once per run, whatever ends it: success, failure, an error before or after a change,
//! or a second signal that exits at once (then from what the run's events said so far: every deployment
//! id that exists is in it).

use std::process::ExitCode;
use std::sync::Mutex;

use kirikae_engine::outcome::Outcome;
use kirikae_engine::progress::{Event, Observer};
use serde_json::{Value, json};

use crate::exit;
use crate::render;

/// What is known of one service so far.
#[derive(Default, Clone)]
struct Entry {
    config: String,
    cluster: String,
    service: String,
    deployment_id: Option<String>,
    status: Option<String>,
    task_definition_arn: Option<String>,
    /// The final document, once the service's deploy ended.
    done: Option<Value>,
}

pub struct Report {
    json: bool,
    entries: Mutex<Vec<Entry>>,
    written: Mutex<bool>,
}

impl Report {
    pub fn new(json: bool) -> Report {
        Report {
            json,
            entries: Mutex::new(Vec::new()),
            written: Mutex::new(false),
        }
    }

    /// The services about to be deployed, in order (`(config, cluster, service)`).
    pub fn begin(&self, services: impl IntoIterator<Item = (String, String, String)>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        *entries = services
            .into_iter()
            .map(|(config, cluster, service)| Entry {
                config,
                cluster,
                service,
                ..Entry::default()
            })
            .collect();
    }

    /// What service `index`'s events say (its deployment id, the last status).
    pub fn note(&self, index: usize, event: &Event) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(e) = entries.get_mut(index) else {
            return;
        };
        match event {
            Event::DeploymentCreated {
                deployment_id,
                task_definition,
                ..
            } => {
                e.deployment_id = Some(deployment_id.clone());
                e.task_definition_arn = Some(task_definition.clone());
            }
            Event::DeploymentProgress(s) if Some(&s.deployment_id) == e.deployment_id.as_ref() => {
                e.status = Some(s.status.as_str().to_string());
            }
            Event::ServiceDeploymentProgress(s) if Some(&s.arn) == e.deployment_id.as_ref() => {
                e.status = Some(s.status.as_str().to_string());
            }
            _ => {}
        }
    }

    /// Service `index` ended.
    pub fn finished(&self, index: usize, outcome: &Outcome) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.get_mut(index) {
            e.done = Some(doc(outcome));
        }
    }

    /// Writes the outputs from final documents and returns the exit status.
    pub fn write(&self, docs: Vec<Value>) -> ExitCode {
        let code = worst(&docs);
        self.write_once(docs, code);
        ExitCode::from(code)
    }

    /// A second signal: the outputs from what is known now, then exit at once with `code`.
    pub fn exit_now(&self, code: u8) -> ! {
        let docs: Vec<Value> = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .iter()
                .map(|e| e.done.clone().unwrap_or_else(|| interrupted_doc(e, code)))
                .collect()
        };
        let code = if docs.is_empty() { code } else { worst(&docs) };
        if docs.is_empty() {
            self.write_once(vec![interrupted_before_changes(code)], code);
        } else {
            self.write_once(docs, code);
        }
        std::process::exit(code.into())
    }

    fn write_once(&self, docs: Vec<Value>, code: u8) {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if *written {
            return;
        }
        *written = true;
        if let Err(e) = render::github_outputs(&docs, code) {
            eprintln!("warning: could not write step outputs to $GITHUB_OUTPUT: {e}");
        }
        if self.json {
            let doc = match <[Value; 1]>::try_from(docs) {
                Ok([one]) => one,
                Err(docs) => json!({ "deploys": docs }),
            };
            println!("{doc:#}");
        }
    }
}

/// An outcome as its JSON document.
pub fn doc(o: &Outcome) -> Value {
    serde_json::to_value(o).expect("outcome serialises")
}

/// The document for a run stopped before any change.
pub fn interrupted_before_changes(code: u8) -> Value {
    json!({"result": "interrupted", "exit_code": code, "message": "interrupted before any change"})
}

fn interrupted_doc(e: &Entry, code: u8) -> Value {
    let message = match &e.deployment_id {
        Some(id) => format!("interrupted twice: exited at once; deployment {id} goes on in AWS"),
        None => {
            "interrupted twice: exited at once; whatever step was running may have completed in AWS"
                .into()
        }
    };
    json!({
        "config": e.config, "cluster": e.cluster, "service": e.service,
        "result": "interrupted", "exit_code": code, "message": message,
        "deployment_id": e.deployment_id, "status": e.status,
        "task_definition_arn": e.task_definition_arn,
    })
}

/// The run's exit status: the worst of its documents' (see [`exit::worst`]).
fn worst(docs: &[Value]) -> u8 {
    docs.iter()
        .map(|d| d["exit_code"].as_u64().map_or(1, |c| c.min(255) as u8))
        .fold(0, exit::worst)
}

/// An observer that notes events in the report before passing them on.
pub struct Noting<O> {
    pub report: std::sync::Arc<Report>,
    pub index: usize,
    pub inner: O,
}

impl<O: Observer> Observer for Noting<O> {
    fn on_event(&self, event: &Event) {
        self.report.note(self.index, event);
        self.inner.on_event(event);
    }
}
