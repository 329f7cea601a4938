//! From a config with an `ecs:` block to a validated [`NativePlan`], without any AWS call. A config
//! with a `codedeploy:` block is not ours ([`build`] answers `None`, and [`crate::plan`] reads it); one
//! with both is refused: the controller is never guessed.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::config::{self, EcsSection};
use crate::config::before_switch::BeforeSwitch;
use crate::config::gate::Gate;
use crate::config::{Notifications, Templater};
use crate::definitions::{ServiceDefinition, TaskDefinition};
use crate::error::ConfigError;
use crate::plan::{DeployFlags, TaskDefinitionChoice, WaitMode, WaitOptions};
use crate::suggest::closest;

/// `kirikae.yml` with an `ecs:` block, exactly as written (after templating).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeConfigFile {
    region: Option<String>,
    cluster: String,
    service: Option<String>,
    task_definition: PathBuf,
    service_definition: PathBuf,
    ecs: EcsSection,
    #[serde(default)]
    sync_desired_count: bool,
    #[serde(default)]
    notifications: Notifications,
    /// Checks through the test listener (and an approval) at a pause before production traffic.
    gate: Option<Gate>,
    /// A one-off task with the new task definition before UpdateService / CreateService.
    before_switch: Option<BeforeSwitch>,
}

const TOP_KEYS: &[&str] = &[
    "region",
    "cluster",
    "service",
    "task_definition",
    "service_definition",
    "ecs",
    "sync_desired_count",
    "notifications",
    "gate",
    "before_switch",
];

/// What `--wait-until` may name on a native service besides a stage.
pub const PAUSED: &str = "paused";

/// Everything one native service's deploy needs, validated.
#[derive(Debug, Clone)]
pub struct NativePlan {
    pub config_path: PathBuf,
    pub region: Option<String>,
    pub cluster: String,
    pub service: String,
    pub task_definition: TaskDefinition,
    pub task_definition_choice: TaskDefinitionChoice,
    pub service_definition: ServiceDefinition,
    pub ecs: EcsSection,
    pub force: bool,
    pub wait: WaitOptions,
    pub sync_desired_count: bool,
    pub notifications: Notifications,
    /// `gate:`: held at a pause at POST_TEST_TRAFFIC_SHIFT ([`super::gate`]).
    pub gate: Option<Gate>,
    /// `before_switch:`: a one-off task with the new task definition that must exit 0 before
    /// UpdateService / CreateService ([`crate::before_switch`]).
    pub before_switch: Option<BeforeSwitch>,
}

impl NativePlan {
    /// How long the deployment is expected to take at most without a person: the bake, the steps'
    /// bakes, and the hooks' timeouts (a pause may wait that long for someone).
    pub fn expected_minutes(&self) -> u64 {
        let ecs = &self.ecs;
        let steps = match (&ecs.linear, &ecs.canary) {
            (Some(l), _) => {
                (100.0 / l.step_percent).ceil() as u64 * l.step_bake_time_minutes as u64
            }
            (_, Some(c)) => c.canary_bake_time_minutes as u64,
            _ => 0,
        };
        let hooks: u64 = ecs
            .hooks
            .iter()
            .map(|h| h.timeout_minutes.unwrap_or(1440) as u64 * h.stages.len() as u64)
            .sum();
        let gate = super::gate::added_hook(ecs, self.gate.as_ref())
            .and_then(|h| h.timeout_minutes)
            .unwrap_or(0) as u64;
        ecs.bake_time_minutes as u64 + steps + hooks + gate
    }
}

/// Which controller blocks the (templated) config text has: `(codedeploy, ecs)`, read without parsing the
/// rest. Text that is not even YAML / JSON has neither: the CodeDeploy reader says what is wrong with it,
/// as it always did.
fn blocks(path: &Path, text: &str) -> (bool, bool) {
    let value: Option<Value> = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        serde_json::from_str(text).ok()
    } else {
        serde_yaml_ng::from_str(text).ok()
    };
    let has = |key: &str| value.as_ref().is_some_and(|v| v.get(key).is_some());
    (has("codedeploy"), has("ecs"))
}

/// Reads one config: `Ok(None)` when it is a CodeDeploy one (no `ecs:` block), else the validated plan.
pub fn build(
    config_path: &Path,
    flags: &DeployFlags,
    templater: &Templater,
) -> Result<Option<NativePlan>, ConfigError> {
    let text = crate::config::read_text(config_path)?;
    let rendered = templater.render(config_path, &text)?;
    match blocks(config_path, &rendered) {
        (_, false) => return Ok(None),
        (true, true) => {
            return Err(ConfigError::in_file(
                config_path,
                "has both a `codedeploy:` and an `ecs:` block; a service has one deployment controller",
            )
            .field("ecs")
            .hint("keep `codedeploy:` for a CODE_DEPLOY service, `ecs:` for one whose Blue/Green deployments ECS runs itself (kirikae migrate moves a service from the first to the second)"));
        }
        (false, true) => {}
    }
    let file = parse(config_path, &rendered)?;
    from_file(config_path, file, flags, templater).map(Some)
}

fn parse(path: &Path, text: &str) -> Result<NativeConfigFile, ConfigError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let result = if is_json {
        serde_json::from_str::<NativeConfigFile>(text).map_err(|e| e.to_string())
    } else {
        serde_yaml_ng::from_str::<NativeConfigFile>(text).map_err(|e| e.to_string())
    };
    result.map_err(|message| {
        let mut err = ConfigError::in_file(path, message.clone());
        if let Some(key) = message
            .split("unknown field `")
            .nth(1)
            .and_then(|r| r.split('`').next())
        {
            let candidates = if message.starts_with("ecs") {
                config::KEYS
            } else {
                TOP_KEYS
            };
            err = err.field(key.to_string());
            if let Some(best) = closest(key, candidates.iter().copied()) {
                err = err.hint(format!("did you mean `{best}`?"));
            }
        }
        err
    })
}

fn from_file(
    path: &Path,
    cfg: NativeConfigFile,
    flags: &DeployFlags,
    templater: &Templater,
) -> Result<NativePlan, ConfigError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let err = |field: &str, msg: String| ConfigError::in_file(path, msg).field(field.to_string());
    if cfg.cluster.trim().is_empty() {
        return Err(err("cluster", "must not be empty".into()));
    }
    if let Err((field, message, hint)) = config::check(&cfg.ecs) {
        let mut e = err(&field, message);
        if let Some(h) = hint {
            e = e.hint(h);
        }
        return Err(e);
    }
    let mut td = TaskDefinition::load(
        &crate::error::resolve_relative(dir, &cfg.task_definition),
        templater,
    )?;
    let sd = ServiceDefinition::load(
        &crate::error::resolve_relative(dir, &cfg.service_definition),
        templater,
    )?;
    check_service_definition(&sd)?;
    let service = match (cfg.service.as_deref(), sd.service_name()) {
        (Some(a), Some(b)) if a != b => {
            return Err(ConfigError::in_file(
                &sd.path,
                format!("is `{b}`, but {} says service `{a}`", path.display()),
            )
            .field("serviceName")
            .hint("remove one of them, or make them agree"));
        }
        (Some(a), _) => a.to_string(),
        (None, Some(b)) => b.to_string(),
        (None, None) => {
            return Err(err(
                "service",
                "no service name: set `service:` here or `serviceName` in the service definition"
                    .into(),
            ));
        }
    };
    if !flags.images.is_empty() && flags.task_definition != TaskDefinitionChoice::Register {
        return Err(ConfigError::new(
            "--image",
            "cannot change images of an already registered task definition",
        )
        .hint("drop --skip-task-definition / --revision, or drop --image"));
    }
    for (container, image) in &flags.images {
        td.set_image(container, image)?;
    }
    crate::plan::check_container(&td, &sd)?;
    if let Some(b) = &cfg.before_switch {
        crate::config::before_switch::check(path, b, &td, &sd)?;
    }
    crate::plan::check_notifications(path, &cfg.notifications)?;
    let wait = check_wait(path, &flags.wait, &cfg.ecs)?;
    match &cfg.gate {
        Some(gate) => super::gate::check(path, gate, &cfg.ecs, &wait)?,
        None if wait.auto_promote_after.is_some() => {
            return Err(ConfigError::new(
                "--auto-promote-after",
                format!(
                    "promotes a deployment held for approval, and {} has no gate",
                    path.display()
                ),
            )
            .hint("add `gate: {approve: true}` to the config"));
        }
        None => {}
    }
    Ok(NativePlan {
        config_path: path.to_path_buf(),
        region: cfg.region.filter(|r| !r.is_empty()),
        cluster: cfg.cluster,
        service,
        task_definition: td,
        task_definition_choice: flags.task_definition,
        service_definition: sd,
        ecs: cfg.ecs,
        force: flags.force,
        wait,
        sync_desired_count: cfg.sync_desired_count,
        notifications: cfg.notifications,
        gate: cfg.gate,
        before_switch: cfg.before_switch,
    })
}

/// The deployment settings live in the `ecs:` block; the service definition must not say them again
/// (two sources for one setting would be a guess about which wins).
fn check_service_definition(sd: &ServiceDefinition) -> Result<(), ConfigError> {
    let dc = &sd.json["deploymentConfiguration"];
    for (member, key) in [
        ("strategy", "strategy"),
        ("bakeTimeInMinutes", "bake_time_minutes"),
        ("linearConfiguration", "linear"),
        ("canaryConfiguration", "canary"),
        ("lifecycleHooks", "hooks"),
        ("alarms", "alarms"),
    ] {
        if !dc[member].is_null() {
            return Err(ConfigError::in_file(
                &sd.path,
                format!("sets {member}, which kirikae takes from the config's `ecs.{key}`"),
            )
            .field(format!("deploymentConfiguration.{member}"))
            .hint(format!("move it to `ecs.{key}` in kirikae.yml")));
        }
    }
    if sd.input.load_balancers()[0]
        .advanced_configuration()
        .is_some()
    {
        return Err(ConfigError::in_file(
            &sd.path,
            "sets advancedConfiguration, which kirikae builds from the config's `ecs:` block",
        )
        .field("loadBalancers[0].advancedConfiguration")
        .hint("remove it: ecs.target_groups, production_listener, test_listener and infrastructure_role say it"));
    }
    Ok(())
}

/// `--wait-until` on a native service: a stage of the service deployment, or `paused`.
fn check_wait(
    path: &Path,
    wait: &WaitOptions,
    ecs: &EcsSection,
) -> Result<WaitOptions, ConfigError> {
    let mut wait = wait.clone();
    if let WaitMode::Until(arg) = &wait.mode {
        let upper = arg.to_ascii_uppercase().replace('-', "_");
        let known = if arg.eq_ignore_ascii_case(PAUSED) {
            if !ecs.hooks.iter().any(|h| h.pause) {
                return Err(ConfigError::new(
                    "--wait-until",
                    format!(
                        "`paused` waits for a pause hook, and {} has none",
                        path.display()
                    ),
                )
                .hint("add a hook with `pause: true` to ecs.hooks, or wait for a stage"));
            }
            PAUSED.to_string()
        } else if config::DEPLOYMENT_STAGES.contains(&upper.as_str()) {
            upper
        } else {
            let mut e = ConfigError::new(
                "--wait-until",
                format!("`{arg}` is not a stage of an ECS service deployment"),
            )
            .hint(format!(
                "one of {}, or `paused`",
                config::DEPLOYMENT_STAGES.join(", ")
            ));
            if let Some(best) = closest(&upper, config::DEPLOYMENT_STAGES.iter().copied()) {
                e = e.hint(format!("did you mean `{best}`?"));
            }
            return Err(e);
        };
        if known.contains("TEST_TRAFFIC") && ecs.test_listener.is_none() {
            return Err(ConfigError::new(
                "--wait-until",
                format!(
                    "{known} only carries traffic with a test listener, and {} has none",
                    path.display()
                ),
            )
            .hint("add ecs.test_listener, or wait for another stage"));
        }
        wait.mode = WaitMode::Until(known);
    }
    Ok(wait)
}
