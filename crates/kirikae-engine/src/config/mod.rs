//! `kirikae.yml`: one file per service. YAML (JSON also accepted), templated first (see [`template`]),
//! then parsed strictly: an unknown key is an error that names it.
//!
//! ```yaml
//! region: us-east-1                        # optional: else --region / AWS_REGION / the profile
//! cluster: demo
//! service: web                             # optional: else serviceName of the service definition
//! task_definition: task-definition.json    # paths are relative to this file
//! service_definition: service-definition.json
//! codedeploy:
//!   application: AppEcs-demo-web           # default AppEcs-{cluster}-{service}
//!   deployment_group: DgpEcs-demo-web      # default DgpEcs-{cluster}-{service}
//!   service_role: arn:aws:iam::123456789012:role/ecsCodeDeployRole
//!   deployment_config: CodeDeployDefault.ECSAllAtOnce
//!   target_groups: [web-blue, web-green]   # names; the first is blue on the first deploy
//!   production_listener: arn:aws:elasticloadbalancing:…:listener/app/demo/…   # or {load_balancer: demo, port: 80}
//!   test_listener: {load_balancer: demo, port: 8080}                         # optional
//!   termination_wait_minutes: 2
//!   ready: {action: CONTINUE_DEPLOYMENT, wait_minutes: 0}
//!   auto_rollback: [DEPLOYMENT_FAILURE]
//!   alarms: {names: [web-5xx], ignore_poll_failure: false}
//!   hooks: {AfterAllowTestTraffic: validate-web}
//! sync_desired_count: false              # true: an existing service's count follows the definition
//! notifications:
//!   slack: {webhook_url: '{{ env "SLACK_WEBHOOK_URL" "" }}'}   # empty = off
//!   webhook: {url: '{{ env "DEPLOY_WEBHOOK_URL" "" }}'}
//! gate:                                  # optional: checks through the test listener before production
//!   http: [{path: /health, requests: 20}]   # moves, and/or a command, and/or approve: true (see [`gate`])
//! before_switch:                         # optional: a one-off task with the new task definition (the
//!   command: [./manage.py, migrate]      #   migration), exit 0 before anything switches ([`before_switch`])
//! ```

pub mod before_switch;
pub mod gate;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::suggest::closest;
pub use template::Templater;

pub const DEFAULT_DEPLOYMENT_CONFIG: &str = "CodeDeployDefault.ECSAllAtOnce";

/// The parsed config file, exactly as written (after templating).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub region: Option<String>,
    pub cluster: String,
    pub service: Option<String>,
    pub task_definition: PathBuf,
    pub service_definition: PathBuf,
    pub codedeploy: CodeDeploySection,
    /// Set an existing service's desired count to the service definition's on every deploy. Off by
    /// default: once a service runs, Application Auto Scaling (or a person) owns its count, and a deploy
    /// must not cut a service that was scaled out back to the file's number right before traffic moves.
    #[serde(default)]
    pub sync_desired_count: bool,
    #[serde(default)]
    pub notifications: Notifications,
    /// What green must pass before production traffic moves (see [`gate`]).
    pub gate: Option<gate::Gate>,
    /// A one-off task with the new task definition before anything switches (see [`before_switch`]).
    pub before_switch: Option<before_switch::BeforeSwitch>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeDeploySection {
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    pub service_role: String,
    #[serde(default = "default_deployment_config")]
    pub deployment_config: String,
    pub target_groups: Vec<String>,
    pub production_listener: ListenerRef,
    pub test_listener: Option<ListenerRef>,
    #[serde(default = "default_termination_wait")]
    pub termination_wait_minutes: u32,
    #[serde(default)]
    pub ready: ReadyOption,
    #[serde(default = "default_auto_rollback")]
    pub auto_rollback: Vec<RollbackEvent>,
    pub alarms: Option<Alarms>,
    #[serde(default)]
    pub hooks: Hooks,
}

fn default_deployment_config() -> String {
    DEFAULT_DEPLOYMENT_CONFIG.to_string()
}
/// The seed script's value: blue is kept for two minutes after a successful switch, for a fast way back.
fn default_termination_wait() -> u32 {
    2
}
fn default_auto_rollback() -> Vec<RollbackEvent> {
    vec![RollbackEvent::DeploymentFailure]
}

/// A listener: its ARN, or the load balancer's name and the listener's port (resolved before anything is
/// changed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(
    untagged,
    expecting = "a listener ARN, or {load_balancer: NAME, port: PORT}"
)]
pub enum ListenerRef {
    Arn(String),
    Port(ListenerByPort),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerByPort {
    pub load_balancer: String,
    pub port: u16,
}

impl std::fmt::Display for ListenerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenerRef::Arn(a) => f.write_str(a),
            ListenerRef::Port(p) => write!(f, "{}:{}", p.load_balancer, p.port),
        }
    }
}

/// What CodeDeploy does once green is ready: shift traffic at once (`CONTINUE_DEPLOYMENT`), or wait up to
/// `wait_minutes` for someone to continue it (`STOP_DEPLOYMENT`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyOption {
    #[serde(default)]
    pub action: ReadyAction,
    #[serde(default)]
    pub wait_minutes: u32,
}

impl Default for ReadyOption {
    fn default() -> Self {
        ReadyOption {
            action: ReadyAction::ContinueDeployment,
            wait_minutes: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReadyAction {
    #[default]
    ContinueDeployment,
    StopDeployment,
}

impl ReadyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadyAction::ContinueDeployment => "CONTINUE_DEPLOYMENT",
            ReadyAction::StopDeployment => "STOP_DEPLOYMENT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RollbackEvent {
    DeploymentFailure,
    DeploymentStopOnAlarm,
    DeploymentStopOnRequest,
}

impl RollbackEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackEvent::DeploymentFailure => "DEPLOYMENT_FAILURE",
            RollbackEvent::DeploymentStopOnAlarm => "DEPLOYMENT_STOP_ON_ALARM",
            RollbackEvent::DeploymentStopOnRequest => "DEPLOYMENT_STOP_ON_REQUEST",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    pub names: Vec<String>,
    #[serde(default)]
    pub ignore_poll_failure: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// AppSpec hooks: Lambda function names (or ARNs) by lifecycle event, with the AppSpec's own names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(rename = "BeforeInstall", skip_serializing_if = "Option::is_none")]
    pub before_install: Option<String>,
    #[serde(rename = "AfterInstall", skip_serializing_if = "Option::is_none")]
    pub after_install: Option<String>,
    #[serde(
        rename = "AfterAllowTestTraffic",
        skip_serializing_if = "Option::is_none"
    )]
    pub after_allow_test_traffic: Option<String>,
    #[serde(rename = "BeforeAllowTraffic", skip_serializing_if = "Option::is_none")]
    pub before_allow_traffic: Option<String>,
    #[serde(rename = "AfterAllowTraffic", skip_serializing_if = "Option::is_none")]
    pub after_allow_traffic: Option<String>,
}

impl Hooks {
    /// `(AppSpec event name, function)` in lifecycle order.
    pub fn entries(&self) -> Vec<(&'static str, &str)> {
        [
            ("BeforeInstall", &self.before_install),
            ("AfterInstall", &self.after_install),
            ("AfterAllowTestTraffic", &self.after_allow_test_traffic),
            ("BeforeAllowTraffic", &self.before_allow_traffic),
            ("AfterAllowTraffic", &self.after_allow_traffic),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|f| (k, f)))
        .collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    pub slack: Option<SlackConfig>,
    pub webhook: Option<WebhookConfig>,
}

/// A Slack incoming webhook. An empty URL (e.g. from `{{ env "SLACK_WEBHOOK_URL" "" }}`) turns it off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub webhook_url: String,
    pub channel: Option<String>,
    pub username: Option<String>,
}

/// A generic JSON webhook: POSTs the deploy's result document. An empty URL turns it off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A config file once read, templated and parsed.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub file: ConfigFile,
}

impl LoadedConfig {
    /// The directory relative paths in the file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn resolve(&self, p: &Path) -> PathBuf {
        crate::error::resolve_relative(self.dir(), p)
    }
}

/// Reads, templates and parses a config file.
pub fn load(path: &Path, templater: &Templater) -> Result<LoadedConfig, ConfigError> {
    let text = read_text(path)?;
    let rendered = templater.render(path, &text)?;
    let file = parse(path, &rendered)?;
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        file,
    })
}

/// Reads a UTF-8 text file, with an error that names it.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "check the path (relative paths in kirikae.yml are relative to the file itself); --config picks the config file"
        } else {
            "the file must be readable UTF-8 text"
        };
        ConfigError::in_file(path, format!("cannot read: {e}")).hint(hint)
    })
}

const TOP_KEYS: &[&str] = &[
    "region",
    "cluster",
    "service",
    "task_definition",
    "service_definition",
    "codedeploy",
    "sync_desired_count",
    "notifications",
    "gate",
    "before_switch",
];
const CODEDEPLOY_KEYS: &[&str] = &[
    "application",
    "deployment_group",
    "service_role",
    "deployment_config",
    "target_groups",
    "production_listener",
    "test_listener",
    "termination_wait_minutes",
    "ready",
    "auto_rollback",
    "alarms",
    "hooks",
];

fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let result = if is_json {
        serde_json::from_str::<ConfigFile>(text).map_err(|e| e.to_string())
    } else {
        serde_yaml_ng::from_str::<ConfigFile>(text).map_err(|e| e.to_string())
    };
    result.map_err(|message| {
        let mut err = ConfigError::in_file(path, message.clone());
        if let Some(key) = unknown_key(&message) {
            let candidates = if message.starts_with("codedeploy") {
                CODEDEPLOY_KEYS
            } else {
                TOP_KEYS
            };
            err = err.field(key.clone());
            if let Some(best) = closest(&key, candidates.iter().copied()) {
                err = err.hint(format!("did you mean `{best}`?"));
            }
        }
        err
    })
}

/// The key named by serde's "unknown field `x`" message.
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "cluster: demo\ntask_definition: td.json\nservice_definition: sd.json\ncodedeploy:\n  service_role: arn:aws:iam::1:role/r\n  target_groups: [a, b]\n  production_listener: arn:l\n";

    #[test]
    fn defaults_follow_the_seed_script() {
        let c = parse(Path::new("k.yml"), MINIMAL).unwrap();
        assert_eq!(
            c.codedeploy.deployment_config,
            "CodeDeployDefault.ECSAllAtOnce"
        );
        assert_eq!(c.codedeploy.termination_wait_minutes, 2);
        assert_eq!(c.codedeploy.ready, ReadyOption::default());
        assert_eq!(
            c.codedeploy.auto_rollback,
            vec![RollbackEvent::DeploymentFailure]
        );
        assert_eq!(
            c.codedeploy.production_listener,
            ListenerRef::Arn("arn:l".into())
        );
    }

    #[test]
    fn listener_by_load_balancer_and_port() {
        let text = MINIMAL.replace("arn:l", "{load_balancer: demo, port: 80}");
        let c = parse(Path::new("k.yml"), &text).unwrap();
        assert_eq!(
            c.codedeploy.production_listener,
            ListenerRef::Port(ListenerByPort {
                load_balancer: "demo".into(),
                port: 80
            })
        );
    }

    #[test]
    fn unknown_key_is_named_with_a_suggestion() {
        let text = MINIMAL.replace("target_groups", "target_group");
        let e = parse(Path::new("k.yml"), &text).unwrap_err();
        assert_eq!(e.source, "k.yml");
        assert_eq!(e.field.as_deref(), Some("target_group"));
        assert_eq!(e.hint.as_deref(), Some("did you mean `target_groups`?"));
    }

    #[test]
    fn malformed_yaml_names_the_file_and_line() {
        let e = parse(Path::new("k.yml"), "cluster: [demo\n").unwrap_err();
        assert_eq!(e.source, "k.yml");
        assert!(e.message.contains("line"), "{e}");
    }

    #[test]
    fn json_configs_are_accepted() {
        let json = r#"{"cluster":"c","task_definition":"t","service_definition":"s","codedeploy":{"service_role":"r","target_groups":["a","b"],"production_listener":"l"}}"#;
        assert_eq!(parse(Path::new("k.json"), json).unwrap().cluster, "c");
    }
}
