//! The end of a deploy, for people (stderr) and for GitHub Actions (`$GITHUB_OUTPUT`).

use std::io::Write;

use kirikae_engine::Error;
use kirikae_engine::outcome::{Outcome, Result as Res};

use super::{Paint, color_enabled};

/// The timeline of lifecycle events and the result line.
pub fn summary(o: &Outcome) -> String {
    let paint = Paint(color_enabled());
    let mut out = String::new();
    if !o.timeline.is_empty() {
        let id = o.deployment_id.as_deref().unwrap_or("");
        out.push_str(&format!(
            "\ntimeline of {id} ({}/{})\n",
            o.cluster, o.service
        ));
        let t0 = o
            .timeline
            .iter()
            .filter_map(|t| t.start)
            .fold(f64::INFINITY, f64::min);
        for t in &o.timeline {
            let at = t
                .start
                .filter(|_| t0.is_finite())
                .map(|s| format!("+{:>6.1}s", s - t0))
                .unwrap_or_else(|| " ".repeat(8));
            let took = t
                .duration_seconds
                .map(|d| format!("{d:>7.1}s"))
                .unwrap_or_default();
            out.push_str(&format!("  {at}  {:<22} {:<11}{took}\n", t.event, t.status));
        }
    }
    let mark = match o.result {
        Res::Succeeded | Res::Reached | Res::Started => paint.green("✓"),
        Res::TimedOut | Res::Interrupted | Res::LostContact => paint.yellow("!"),
        _ => paint.red("✗"),
    };
    out.push_str(&format!(
        "{mark} {} ({:.1} s)\n",
        o.message, o.duration_seconds
    ));
    if let Some(t) = &o.before_switch {
        out.push_str(&format!("  {} {}\n", paint.dim("before_switch:"), t.said()));
    }
    if let Some(g) = &o.gate {
        out.push_str(&format!("  {} {}\n", paint.dim("gate:"), g.summary));
        if let Some(a) = &g.approval {
            out.push_str(&format!("  {} {}\n", paint.dim("approval:"), a.said));
        }
    }
    if let Some(d) = &o.diagnosis {
        for (what, lines) in [
            ("lifecycle", &d.lifecycle),
            ("green tasks stopped", &d.stopped_tasks),
            ("green targets", &d.target_health),
            ("alarms", &d.alarms),
            ("service events", &d.service_events),
        ] {
            for line in lines {
                out.push_str(&format!("  {} {line}\n", paint.dim(&format!("{what}:"))));
            }
        }
    }
    if let Some(hint) = o.failure.as_ref().and_then(|f| f.hint.as_deref()) {
        out.push_str(&format!("  hint: {hint}\n"));
    }
    for step in &o.next_steps {
        out.push_str(&format!("  {step}\n"));
    }
    out
}

/// An error that stopped a deploy before it had an outcome.
pub fn error(e: &Error) {
    eprintln!("{}", error_text(e));
}

pub fn error_text(e: &Error) -> String {
    let paint = Paint(color_enabled());
    let what = match e {
        Error::Config(_) => "error (nothing in AWS was changed)",
        Error::Conflict { .. } => "error",
        Error::Aws { .. } => "AWS error",
    };
    format!("{}: {e}", paint.red(what))
}

/// Step outputs for GitHub Actions, from the run's JSON documents (so the two always agree):
/// `deployment-id`, `task-definition-arn`, `result`, `status`, `controller` (`CODE_DEPLOY` / `ECS`);
/// with several services, `results` (JSON);
/// and `exit-code`, the process's exit status.
pub fn github_outputs(docs: &[serde_json::Value], exit_code: u8) -> std::io::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_OUTPUT") else {
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    let text = |d: &serde_json::Value, key: &str| d[key].as_str().unwrap_or("").to_string();
    if let [d] = docs {
        writeln!(f, "deployment-id={}", text(d, "deployment_id"))?;
        writeln!(f, "task-definition-arn={}", text(d, "task_definition_arn"))?;
        writeln!(f, "result={}", text(d, "result"))?;
        writeln!(f, "status={}", text(d, "status"))?;
        writeln!(f, "controller={}", text(d, "controller"))?;
    } else {
        let results: Vec<_> = docs
            .iter()
            .map(|d| {
                serde_json::json!({
                    "cluster": d["cluster"], "service": d["service"], "controller": d["controller"],
                    "result": d["result"],
                    "deployment_id": d["deployment_id"], "exit_code": d["exit_code"],
                })
            })
            .collect();
        writeln!(f, "results={}", serde_json::Value::Array(results))?;
    }
    writeln!(f, "exit-code={exit_code}")?;
    Ok(())
}
