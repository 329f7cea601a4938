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
        Res::TimedOut | Res::Interrupted => paint.yellow("!"),
        _ => paint.red("✗"),
    };
    out.push_str(&format!(
        "{mark} {} ({:.1} s)\n",
        o.message, o.duration_seconds
    ));
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

/// Step outputs for GitHub Actions: `deployment-id`, `task-definition-arn`, `result`, `status`,
/// `exit-code`; with several services, `results` (JSON) too.
pub fn github_outputs(outcomes: &[&Outcome]) -> std::io::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_OUTPUT") else {
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    let worst = outcomes
        .iter()
        .map(|o| o.exit_code())
        .max_by_key(|c| if *c == 0 { 0 } else { *c as u16 + 1 })
        .unwrap_or(0);
    if let [o] = outcomes {
        writeln!(
            f,
            "deployment-id={}",
            o.deployment_id.as_deref().unwrap_or("")
        )?;
        writeln!(
            f,
            "task-definition-arn={}",
            o.task_definition_arn.as_deref().unwrap_or("")
        )?;
        writeln!(f, "result={}", o.result.as_str())?;
        writeln!(f, "status={}", o.status.as_deref().unwrap_or(""))?;
    } else {
        let results: Vec<_> = outcomes
            .iter()
            .map(|o| serde_json::json!({"cluster": o.cluster, "service": o.service, "result": o.result.as_str(), "deployment_id": o.deployment_id}))
            .collect();
        writeln!(f, "results={}", serde_json::Value::Array(results))?;
    }
    writeln!(f, "exit-code={worst}")?;
    Ok(())
}
