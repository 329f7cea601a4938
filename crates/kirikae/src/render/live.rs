//! The live block of one service on a terminal: lifecycle events with status and duration, the traffic
//! split as a bar, task counts.

use kirikae_engine::progress::{DeploymentSnapshot, TaskSet};

use super::{Paint, Row};

const BAR_WIDTH: usize = 24;

pub(super) fn block(row: &Row, paint: Paint) -> String {
    let mut out = String::new();
    if !row.label.is_empty() {
        out.push_str(&paint.bold(&row.label));
        out.push(' ');
    }
    if let Some(d) = &row.deployment {
        out.push_str(&deployment(
            d,
            row.rolled_back.as_ref(),
            row.waiting.as_deref(),
            paint,
        ));
    } else if row.creating_service {
        match &row.service {
            Some(s) => {
                out.push_str(&format!(
                    "starting service: {}/{} running, {} pending ({})",
                    s.running_count,
                    s.desired_count,
                    s.pending_count,
                    s.stability
                        .as_ref()
                        .map(|v| v.as_str())
                        .unwrap_or("no task set yet")
                ));
                if let Some(e) = &s.last_event {
                    out.push_str(&format!("\n      {}", paint.dim(e)));
                }
            }
            None => out.push_str("starting service…"),
        }
    } else if let Some(n) = &row.native {
        out.push_str(&format!("service deployment {n}"));
    } else if let Some(id) = &row.deployment_id {
        out.push_str(&format!("{id} created"));
    }
    out
}

/// `waiting`: what a deployment in Ready waits for, when kirikae knows (its gate, an approval).
fn deployment(
    d: &DeploymentSnapshot,
    rolled_back: Option<&DeploymentSnapshot>,
    waiting: Option<&str>,
    paint: Paint,
) -> String {
    let mut out = String::new();
    let what = if rolled_back.is_some() || d.is_rollback {
        "rollback "
    } else {
        ""
    };
    out.push_str(&format!(
        "{what}{} {}",
        paint.bold(&d.deployment_id),
        status(d.status.as_str(), paint)
    ));
    if let (Some(w), "Ready") = (waiting, d.status.as_str()) {
        out.push_str(&paint.yellow(&format!("\n      {w}")));
    } else if d.status.as_str() == "Ready" {
        out.push_str(&paint.yellow(&format!(
            "\n      waiting to be continued: aws deploy continue-deployment --deployment-id {} --deployment-wait-type READY_WAIT",
            d.deployment_id
        )));
    }
    if d.target_status.as_ref().map(|v| v.as_str()) == Some("Succeeded")
        && d.status.as_str() == "InProgress"
    {
        out.push_str(&paint.dim("  (traffic on green; blue kept for the termination wait)"));
    }
    for e in &d.lifecycle_events {
        let mark = match e.status.as_str() {
            "Succeeded" => paint.green("✓"),
            "Failed" => paint.red("✗"),
            "InProgress" => paint.blue("▸"),
            "Skipped" => paint.dim("-"),
            _ => paint.dim("·"),
        };
        let dur = match (e.duration_seconds(), e.status.as_str()) {
            (Some(s), _) => format!("{s:6.1}s"),
            (None, "InProgress") => "      …".to_string(),
            _ => String::new(),
        };
        out.push_str(&format!("\n      {mark} {:<22}{dur}", e.name));
    }
    if let Some(bar) = traffic(&d.task_sets, paint) {
        out.push_str(&format!("\n      traffic  {bar}"));
    }
    if !d.task_sets.is_empty() {
        let sets: Vec<String> = d.task_sets.iter().map(task_set).collect();
        out.push_str(&format!("\n      tasks    {}", sets.join("   ")));
    }
    out
}

fn status(s: &str, paint: Paint) -> String {
    match s {
        "Succeeded" => paint.green(s),
        "Failed" | "Stopped" => paint.red(s),
        "Ready" => paint.yellow(s),
        _ => paint.blue(s),
    }
}

/// `blue ██████░░░░ green 40%`: the share of production traffic on green.
pub(super) fn traffic(sets: &[TaskSet], paint: Paint) -> Option<String> {
    let green = sets
        .iter()
        .find(|t| t.label.as_ref().map(|v| v.as_str()) == Some("Green"))?
        .traffic_weight;
    let blue = sets
        .iter()
        .find(|t| t.label.as_ref().map(|v| v.as_str()) == Some("Blue"))
        .map(|t| t.traffic_weight)
        .unwrap_or(100.0 - green);
    let filled = ((green / 100.0) * BAR_WIDTH as f64)
        .round()
        .clamp(0.0, BAR_WIDTH as f64) as usize;
    Some(format!(
        "blue {:>3.0}% {}{} {:>3.0}% green",
        blue,
        paint.blue(&"░".repeat(BAR_WIDTH - filled)),
        paint.green(&"█".repeat(filled)),
        green
    ))
}

pub(super) fn task_set(t: &TaskSet) -> String {
    format!(
        "{} {}/{} {}{}",
        t.label
            .as_ref()
            .map(|v| v.as_str())
            .unwrap_or("?")
            .to_lowercase(),
        t.running_count,
        t.desired_count,
        t.status,
        if t.pending_count > 0 {
            format!(" ({} pending)", t.pending_count)
        } else {
            String::new()
        }
    )
}
