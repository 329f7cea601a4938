//! The example files the demo runs on: `examples/` of the repository, built into kirikae so `kirikae demo`
//! works from any directory, and templated with the demo's own variables only (never the process
//! environment: a `SLACK_WEBHOOK_URL` or `KIRIKAE_CLUSTER` of the person running it must not leak in).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kirikae_engine::config::Templater;
use kirikae_engine::error::ConfigError;

pub const CONFIG: &str = "kirikae.yml";
/// The same service on ECS-native Blue/Green (`kirikae demo --controller ecs`).
pub const CONFIG_ECS: &str = "kirikae-ecs.yml";
pub const STACK: &str = "demo-stack.json";

/// `examples/`, as built into this binary.
const FILES: &[(&str, &str)] = &[
    (CONFIG, include_str!("../../../examples/kirikae.yml")),
    (
        CONFIG_ECS,
        include_str!("../../../examples/kirikae-ecs.yml"),
    ),
    (
        "task-definition.json",
        include_str!("../../../examples/task-definition.json"),
    ),
    (
        "service-definition.json",
        include_str!("../../../examples/service-definition.json"),
    ),
    (STACK, include_str!("../../../examples/demo-stack.json")),
];

/// Writes the built-in examples into `dir/examples` and returns that directory.
pub fn write(dir: &Path) -> Result<PathBuf, ConfigError> {
    let examples = dir.join("examples");
    let cannot = |path: &Path, e: std::io::Error| {
        ConfigError::in_file(path, format!("cannot write the demo's example file: {e}"))
    };
    std::fs::create_dir_all(&examples).map_err(|e| cannot(&examples, e))?;
    for (name, text) in FILES {
        let path = examples.join(name);
        std::fs::write(&path, text).map_err(|e| cannot(&path, e))?;
    }
    Ok(examples)
}

/// The variables the example files read.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// The image tag of `kirikae/demo` (`DEMO_VERSION`).
    pub version: &'a str,
    /// `DEMO_HEALTH=ok`, else `fail` (health checks answer 500).
    pub healthy: bool,
    /// `KIRIKAE_DEPLOYMENT_CONFIG`.
    pub deployment_config: &'a str,
    /// `DEMO_PROD_PORT`: the production listener's port.
    pub prod_port: u16,
}

/// A templater that knows only `vars`; every other variable takes the file's default.
pub fn templater(vars: &Vars) -> Templater {
    templater_with_strategy(vars, "BLUE_GREEN")
}

/// [`templater`], with `KIRIKAE_ECS_STRATEGY` (the `ecs:` block's strategy) too.
pub fn templater_with_strategy(vars: &Vars, strategy: &str) -> Templater {
    let map = [
        ("KIRIKAE_ECS_STRATEGY", strategy.to_string()),
        ("DEMO_VERSION", vars.version.to_string()),
        (
            "DEMO_HEALTH",
            if vars.healthy { "ok" } else { "fail" }.to_string(),
        ),
        (
            "KIRIKAE_DEPLOYMENT_CONFIG",
            vars.deployment_config.to_string(),
        ),
        ("DEMO_PROD_PORT", vars.prod_port.to_string()),
    ];
    Templater::new(Arc::new(move |name: &str| {
        map.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    }))
}

/// Port 80 when this process may listen on it, else 8000: most Linux systems reserve ports below 1024
/// for root, and a local web server may hold 80 already. (The sandbox binds the load balancer's own
/// loopback address; a wildcard listener on 80 would block it just the same.)
pub fn production_port() -> u16 {
    match std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 80)) {
        Ok(_) => 80,
        Err(_) => 8000,
    }
}

/// A CodeDeploy deployment configuration from a short name (`all-at-once`, `canary`, `linear`) or a full
/// name (passed through).
pub fn deployment_config(name: &str) -> String {
    match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "allatonce" => "CodeDeployDefault.ECSAllAtOnce".into(),
        "canary" => "CodeDeployDefault.ECSCanary10Percent5Minutes".into(),
        "linear" => "CodeDeployDefault.ECSLinear10PercentEvery1Minutes".into(),
        _ => name.to_string(),
    }
}

/// The ECS strategy for a `--deployment-config` short name: all-at-once is BLUE_GREEN, canary and
/// linear are CANARY and LINEAR (AWS's defaults: 5% then the rest after 10 minutes; 10% every 6
/// minutes); anything else is taken as a strategy name.
pub fn ecs_strategy(name: &str) -> String {
    match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "allatonce" | "codedeploydefault.ecsallatonce" | "bluegreen" => "BLUE_GREEN".into(),
        "canary" | "codedeploydefault.ecscanary10percent5minutes" => "CANARY".into(),
        "linear" | "codedeploydefault.ecslinear10percentevery1minutes" => "LINEAR".into(),
        _ => name.to_ascii_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kirikae_engine::plan::{self, DeployFlags};

    #[test]
    fn built_in_examples_make_a_valid_plan_for_each_version() {
        let dir =
            std::env::temp_dir().join(format!("kirikae-demo-examples-{}", std::process::id()));
        let examples = write(&dir).unwrap();
        for (version, healthy) in [("v1", true), ("v2", false)] {
            let vars = Vars {
                version,
                healthy,
                deployment_config: "CodeDeployDefault.ECSCanary10Percent5Minutes",
                prod_port: 8000,
            };
            let plan = plan::build(
                &examples.join(CONFIG),
                &DeployFlags::default(),
                &templater(&vars),
            )
            .unwrap();
            let images = plan.task_definition.images();
            assert_eq!(images[0].1, format!("kirikae/demo:{version}"));
            assert_eq!(
                plan.codedeploy.deployment_config,
                "CodeDeployDefault.ECSCanary10Percent5Minutes"
            );
            assert_eq!(plan.codedeploy.production_listener.to_string(), "demo:8000");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_ecs_example_makes_a_valid_native_plan() {
        let dir =
            std::env::temp_dir().join(format!("kirikae-demo-examples-ecs-{}", std::process::id()));
        let examples = write(&dir).unwrap();
        let vars = Vars {
            version: "v2",
            healthy: true,
            deployment_config: "canary",
            prod_port: 8000,
        };
        let plan = kirikae_engine::native::plan::build(
            &examples.join(CONFIG_ECS),
            &DeployFlags::default(),
            &templater_with_strategy(&vars, &ecs_strategy("canary")),
        )
        .unwrap()
        .expect("an ecs: block");
        assert_eq!(plan.ecs.strategy.as_str(), "CANARY");
        assert_eq!(plan.ecs.production_listener.to_string(), "demo:8000");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn short_deployment_config_names() {
        assert_eq!(
            deployment_config("AllAtOnce"),
            "CodeDeployDefault.ECSAllAtOnce"
        );
        assert_eq!(
            deployment_config("canary"),
            "CodeDeployDefault.ECSCanary10Percent5Minutes"
        );
        assert_eq!(
            deployment_config("CodeDeployDefault.ECSLinear10PercentEvery3Minutes"),
            "CodeDeployDefault.ECSLinear10PercentEvery3Minutes"
        );
    }
}
