//! `kirikae deploy` of configs with an `ecs:` block (ECS-native Blue/Green): every config checked
//! against AWS (read-only) before anything changes, then each service deployed and its service
//! deployment followed, with the same rows, report, notifications and exit statuses as on CodeDeploy.

use std::process::ExitCode;
use std::sync::Arc;

use kirikae_engine::connection::Connection;
use kirikae_engine::deploy::ending::{Changes, Facts};
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::native::{self, NativePlan, NativePrepared};
use kirikae_engine::notify::Notifier;
use kirikae_engine::progress::{Silent, now_epoch};
use kirikae_engine::{ConfigError, Error};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::render::{self, Renderer};
use crate::report::{self, Noting, Report};

/// What the run is asked to do besides deploying.
pub(crate) struct Options {
    pub dry_run: bool,
    pub concurrency: usize,
    /// Whether the run also had CodeDeploy configs.
    pub mixed: bool,
}

pub(crate) async fn run(
    plans: Vec<NativePlan>,
    connection: &Connection,
    options: Options,
    report: &Arc<Report>,
    interrupt: &Interrupt,
) -> ExitCode {
    if options.mixed {
        let e = Error::Config(
            ConfigError::new(
                "--config",
                "not implemented: one run deploys services of one controller (`codedeploy:` or `ecs:` configs)",
            )
            .hint("run kirikae deploy once for the CodeDeploy configs and once for the ECS ones"),
        );
        render::error(&e);
        return report.write(vec![super::deploy::error_doc(
            &e,
            crate::exit::Status::Usage,
        )]);
    }
    // Read-only checks of every config before any change anywhere.
    let mut prepared = Vec::new();
    let mut refused = Vec::new();
    for plan in plans {
        let facts = refusal_facts(&plan, connection);
        let notifier = Notifier::new(&plan.notifications);
        let checked = tokio::select! {
            c = native::prepare(plan, connection) => c,
            _ = interrupt.raised() => {
                eprintln!("interrupted: nothing was changed");
                return report.write(vec![report::interrupted_before_changes(interrupt.exit_code())]);
            }
        };
        match checked {
            Ok(p) => prepared.push(p),
            Err(e) => {
                let outcome = facts.failed(&e, None);
                notifier.finished(&outcome, &Silent).await;
                refused.push((e, outcome));
            }
        }
    }
    if !refused.is_empty() {
        let mut docs = Vec::new();
        for (error, outcome) in refused {
            render::error(&error);
            docs.push(report::doc(&outcome));
        }
        return report.write(docs);
    }
    if options.dry_run {
        return dry_run(report, &prepared);
    }
    report.begin(prepared.iter().map(|p| {
        (
            p.plan.config_path.display().to_string(),
            p.plan.cluster.clone(),
            p.plan.service.clone(),
        )
    }));
    let count = prepared.len();
    let renderer = Arc::new(Renderer::new(
        prepared
            .iter()
            .map(|p| {
                if count > 1 {
                    format!("{}/{}", p.plan.cluster, p.plan.service)
                } else {
                    String::new()
                }
            })
            .collect(),
    ));
    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, p) in prepared.into_iter().enumerate() {
        let observer = Noting {
            report: report.clone(),
            index,
            inner: renderer.observer(index),
        };
        let (limit, interrupt) = (limit.clone(), interrupt.clone());
        tasks.spawn(async move {
            let _turn = limit.acquire_owned().await.expect("semaphore open");
            (index, p.execute(&observer, &interrupt).await)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => {
                renderer.finish_row(index, &outcome);
                report.finished(index, &outcome);
                outcomes.push((index, outcome));
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    outcomes.sort_by_key(|(i, _)| *i);
    report.write(outcomes.iter().map(|(_, o)| report::doc(o)).collect())
}

fn refusal_facts(plan: &NativePlan, connection: &Connection) -> Facts {
    Facts {
        config: plan.config_path.display().to_string(),
        region: connection
            .region
            .clone()
            .or_else(|| plan.region.clone())
            .unwrap_or_default(),
        cluster: plan.cluster.clone(),
        service: plan.service.clone(),
        application: String::new(),
        deployment_group: String::new(),
        images: plan
            .task_definition
            .images()
            .into_iter()
            .map(|(container, image)| kirikae_engine::outcome::Image { container, image })
            .collect(),
        started_at: now_epoch(),
        interrupt_code: kirikae_engine::interrupt::DEFAULT_EXIT_CODE,
        changes: Changes::default(),
    }
}

fn dry_run(report: &Report, prepared: &[NativePrepared]) -> ExitCode {
    let mut docs = Vec::new();
    for p in prepared {
        let would = p.would();
        eprintln!(
            "dry run: {}/{} (ECS controller, {}) — nothing was changed",
            p.plan.cluster,
            p.plan.service,
            p.plan.ecs.strategy.as_str()
        );
        for line in p.remote.passed.iter() {
            eprintln!("  ✓ {line}");
        }
        for line in &would {
            eprintln!("  would {line}");
        }
        docs.push(json!({
            "result": "dry_run",
            "exit_code": 0,
            "config": p.plan.config_path.display().to_string(),
            "cluster": p.plan.cluster,
            "service": p.plan.service,
            "controller": "ECS",
            "strategy": p.plan.ecs.strategy.as_str(),
            "checks": p.remote.passed,
            "would": would,
        }));
    }
    report.write(docs)
}
