//! `kirikae deploy --dry-run` of a config with an `ecs:` block (ECS-native Blue/Green): the checks
//! that passed and what would be done, on stderr, and its JSON document. The deploy itself runs through
//! the engine's fleet with the CodeDeploy configs of the same run ([`super::deploy`]).

use kirikae_engine::native::NativePrepared;
use serde_json::{Value, json};

/// Says what the deploy would do and returns its document (`result: dry_run`).
pub(crate) fn dry_run(p: &NativePrepared) -> Value {
    let would = p.would();
    eprintln!(
        "dry run: {}/{} (ECS controller, {}) — nothing was changed",
        p.plan.cluster,
        p.plan.service,
        p.plan.ecs.strategy.as_str()
    );
    for line in &p.remote.passed {
        eprintln!("  ✓ {line}");
    }
    for line in &would {
        eprintln!("  would {line}");
    }
    json!({
        "result": "dry_run",
        "exit_code": 0,
        "config": p.plan.config_path.display().to_string(),
        "cluster": p.plan.cluster,
        "service": p.plan.service,
        "controller": "ECS",
        "strategy": p.plan.ecs.strategy.as_str(),
        "checks": p.remote.passed,
        "would": would,
    })
}
