//! Plain progress for logs and pipes: one timestamped line per change, nothing redrawn.

use std::time::SystemTime;

use kirikae_engine::progress::{DeploymentSnapshot, ServiceSnapshot};

use super::Paint;
use super::live::{task_set, traffic};

pub(super) fn line(label: &str, text: &str) {
    let ts = humantime::format_rfc3339_millis(SystemTime::now());
    if label.is_empty() {
        eprintln!("{ts} {text}");
    } else {
        eprintln!("{ts} {label} {text}");
    }
}

/// Lines for what changed since `prev`.
pub(super) fn deployment(label: &str, prev: Option<&DeploymentSnapshot>, s: &DeploymentSnapshot) {
    let id = &s.deployment_id;
    if prev.map(|p| &p.status) != Some(&s.status) {
        line(label, &format!("{id} {}", s.status));
    }
    if let Some(e) = &s.error
        && prev.and_then(|p| p.error.as_ref()) != Some(e)
    {
        line(
            label,
            &format!(
                "{id} error: {} {}",
                e.code.as_ref().map(|v| v.as_str()).unwrap_or(""),
                e.message.as_deref().unwrap_or("")
            ),
        );
    }
    for e in &s.lifecycle_events {
        let before = prev
            .and_then(|p| p.event(&e.name))
            .map(|p| p.status.as_str());
        if before == Some(e.status.as_str()) || (before.is_none() && e.status.as_str() == "Pending")
        {
            continue;
        }
        match e.duration_seconds() {
            Some(d) if e.status.as_str() != "InProgress" => {
                line(label, &format!("{id} {} {} ({d:.1} s)", e.name, e.status))
            }
            _ => line(label, &format!("{id} {} {}", e.name, e.status)),
        }
    }
    let now_traffic = traffic(&s.task_sets, Paint(false));
    let before_traffic = prev.and_then(|p| traffic(&p.task_sets, Paint(false)));
    if now_traffic.is_some() && now_traffic != before_traffic {
        line(
            label,
            &format!("{id} traffic {}", now_traffic.unwrap_or_default()),
        );
    }
    let sets: Vec<String> = s.task_sets.iter().map(task_set).collect();
    let before: Vec<String> = prev
        .map(|p| p.task_sets.iter().map(task_set).collect())
        .unwrap_or_default();
    if !sets.is_empty() && sets != before {
        line(label, &format!("{id} tasks {}", sets.join(", ")));
    }
    if s.target_status.as_ref().map(|v| v.as_str()) == Some("Succeeded")
        && s.status.as_str() == "InProgress"
        && prev.and_then(|p| p.target_status.as_ref().map(|v| v.as_str())) != Some("Succeeded")
    {
        line(
            label,
            &format!("{id} traffic is on green; blue is kept for the termination wait"),
        );
    }
}

pub(super) fn service(label: &str, prev: Option<&ServiceSnapshot>, s: &ServiceSnapshot) {
    let counts = |s: &ServiceSnapshot| {
        (
            s.running_count,
            s.pending_count,
            s.desired_count,
            s.stability.clone(),
        )
    };
    if prev.map(counts) != Some(counts(s)) {
        line(
            label,
            &format!(
                "service tasks {}/{} running, {} pending ({})",
                s.running_count,
                s.desired_count,
                s.pending_count,
                s.stability
                    .as_ref()
                    .map(|v| v.as_str())
                    .unwrap_or("no task set yet")
            ),
        );
    }
    if let Some(e) = &s.last_event
        && prev.and_then(|p| p.last_event.as_ref()) != Some(e)
    {
        line(label, &format!("service event: {e}"));
    }
}
