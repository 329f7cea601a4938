//! From flags and files to a validated [`Plan`], without any AWS call: every input is read, templated and
//! checked here (names, container name and port, image overrides, wait options, notification URLs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::{
    self, CodeDeploySection, ListenerRef, LoadedConfig, Notifications, ReadyAction, Templater,
};
use crate::definitions::{ServiceDefinition, TaskDefinition};
use crate::error::ConfigError;
pub use crate::policy::OnStop;
use crate::suggest::closest;

/// ECS lifecycle events, in order (the test-traffic ones only exist with a test listener).
pub const LIFECYCLE_EVENTS: &[&str] = &[
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
];

/// Which task definition the deploy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskDefinitionChoice {
    /// Register the file's task definition (the default).
    #[default]
    Register,
    /// `--skip-task-definition`: the latest ACTIVE revision of the file's family.
    Latest,
    /// `--revision N`: that revision of the file's family.
    Revision(i32),
}

/// How long to wait, for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitMode {
    /// Until the deployment ends (blue terminated, or failed / rolled back).
    Complete,
    /// Return once the deployment (or service) is created.
    NoWait,
    /// Return once this lifecycle event has succeeded.
    Until(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct WaitOptions {
    pub mode: WaitMode,
    /// Give up waiting after this long (the deployment goes on in AWS). `None`: a default from the
    /// deployment group's waits.
    #[serde(serialize_with = "opt_secs")]
    pub timeout: Option<Duration>,
    /// Time between two polls while waiting (backs off when AWS throttles).
    #[serde(serialize_with = "secs")]
    pub poll_interval: Duration,
    /// `--on-interrupt`: what a signal does to the deployment (leave it running, or roll it back).
    pub on_interrupt: OnStop,
    /// `--on-timeout`: what the deadline does to the deployment.
    pub on_timeout: OnStop,
    /// `--auto-promote-after`: an approval gate promotes by itself this long after its checks pass.
    #[serde(serialize_with = "opt_secs")]
    pub auto_promote_after: Option<Duration>,
    /// `--wait-for-active`: queue behind another run's deploy lock or a deployment already running in
    /// the group (see [`crate::lock`]) instead of stopping.
    pub wait_for_active: bool,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            mode: WaitMode::Complete,
            timeout: None,
            poll_interval: Duration::from_secs(1),
            on_interrupt: OnStop::Leave,
            on_timeout: OnStop::Leave,
            auto_promote_after: None,
            wait_for_active: false,
        }
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Command-line choices that apply to every config of a run.
#[derive(Debug, Clone, Default)]
pub struct DeployFlags {
    /// `--image CONTAINER=IMAGE`.
    pub images: Vec<(String, String)>,
    pub task_definition: TaskDefinitionChoice,
    pub wait: WaitOptions,
    /// Create a deployment even when the service already runs exactly this task definition.
    pub force: bool,
    /// What to do when the deployment group in AWS differs from the config.
    pub group_drift: GroupDrift,
}

/// `--group-drift`: what a deploy does when the deployment group in AWS differs from the config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupDrift {
    /// Update the group to the config and say what changed.
    #[default]
    Update,
    /// Leave the group as it is and say what differs.
    Warn,
    /// Refuse the deploy before any change, saying what differs (exit 2).
    Fail,
}

/// Everything one service's deploy needs, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config_path: PathBuf,
    pub region: Option<String>,
    pub cluster: String,
    pub service: String,
    pub application: String,
    pub deployment_group: String,
    pub task_definition: TaskDefinition,
    pub task_definition_choice: TaskDefinitionChoice,
    pub force: bool,
    pub group_drift: GroupDrift,
    pub service_definition: ServiceDefinition,
    pub codedeploy: CodeDeploySection,
    pub wait: WaitOptions,
    /// `sync_desired_count`: an existing service's desired count follows the service definition.
    pub sync_desired_count: bool,
    pub notifications: Notifications,
    /// `gate:`: checks through the test listener (and an approval) before production traffic moves.
    pub gate: Option<config::gate::Gate>,
    /// `before_switch:`: a one-off task with the new task definition that must exit 0 before the
    /// deployment (or a new service) is created.
    pub before_switch: Option<config::before_switch::BeforeSwitch>,
}

impl Plan {
    /// `AppEcs-{cluster}-{service}` unless the config names it.
    pub fn default_application(cluster: &str, service: &str) -> String {
        format!("AppEcs-{cluster}-{service}")
    }

    pub fn default_deployment_group(cluster: &str, service: &str) -> String {
        format!("DgpEcs-{cluster}-{service}")
    }

    /// The CodeDeploy deployment target of an ECS deployment.
    pub fn target_id(&self) -> String {
        format!("{}:{}", self.cluster, self.service)
    }

    pub fn has_test_listener(&self) -> bool {
        self.codedeploy.test_listener.is_some()
    }

    /// The lifecycle events this deployment group's deployments go through.
    pub fn lifecycle_events(&self) -> Vec<&'static str> {
        LIFECYCLE_EVENTS
            .iter()
            .copied()
            .filter(|e| self.has_test_listener() || !e.contains("TestTraffic"))
            .collect()
    }
}

/// Reads and validates one config file and everything it points to.
pub fn build(
    config_path: &Path,
    flags: &DeployFlags,
    templater: &Templater,
) -> Result<Plan, ConfigError> {
    let loaded = config::load(config_path, templater)?;
    from_loaded(loaded, flags, templater)
}

fn from_loaded(
    loaded: LoadedConfig,
    flags: &DeployFlags,
    templater: &Templater,
) -> Result<Plan, ConfigError> {
    let path = loaded.path.clone();
    let cfg = &loaded.file;
    let err = |field: &str, msg: String| ConfigError::in_file(&path, msg).field(field.to_string());

    if cfg.cluster.trim().is_empty() {
        return Err(err("cluster", "must not be empty".into()));
    }
    let mut td = TaskDefinition::load(&loaded.resolve(&cfg.task_definition), templater)?;
    let sd = ServiceDefinition::load(&loaded.resolve(&cfg.service_definition), templater)?;

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
    if let Some(c) = sd.input.cluster().filter(|c| !c.is_empty()) {
        let name = c.rsplit('/').next().unwrap_or(c);
        if name != cfg.cluster {
            return Err(ConfigError::in_file(
                &sd.path,
                format!(
                    "is `{c}`, but {} deploys to cluster `{}`",
                    path.display(),
                    cfg.cluster
                ),
            )
            .field("cluster"));
        }
    }

    check_names(&path, cfg, &service)?;
    let cd = &cfg.codedeploy;
    check_codedeploy(&path, cd)?;

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
    check_container(&td, &sd)?;
    check_wait(&path, &flags.wait, cd)?;
    check_notifications(&path, &cfg.notifications)?;
    check_gate(&path, cfg.gate.as_ref(), cd, &flags.wait)?;
    if let Some(b) = &cfg.before_switch {
        config::before_switch::check(&path, b, &td, &sd)?;
    }

    let application = cd
        .application
        .clone()
        .unwrap_or_else(|| Plan::default_application(&cfg.cluster, &service));
    let deployment_group = cd
        .deployment_group
        .clone()
        .unwrap_or_else(|| Plan::default_deployment_group(&cfg.cluster, &service));
    Ok(Plan {
        config_path: path.clone(),
        region: cfg.region.clone().filter(|r| !r.is_empty()),
        cluster: cfg.cluster.clone(),
        service,
        application,
        deployment_group,
        task_definition: td,
        task_definition_choice: flags.task_definition,
        force: flags.force,
        group_drift: flags.group_drift,
        service_definition: sd,
        codedeploy: cd.clone(),
        wait: flags.wait.clone(),
        sync_desired_count: cfg.sync_desired_count,
        notifications: cfg.notifications.clone(),
        gate: cfg.gate.clone(),
        before_switch: cfg.before_switch.clone(),
    })
}

/// The gate's own checks, how the run waits for it, and `--auto-promote-after` without one.
fn check_gate(
    path: &Path,
    gate: Option<&config::gate::Gate>,
    cd: &CodeDeploySection,
    wait: &WaitOptions,
) -> Result<(), ConfigError> {
    let auto = wait.auto_promote_after.map(|d| d.as_secs().max(1));
    if auto.is_some() && wait.mode != WaitMode::Complete {
        return Err(ConfigError::new(
            "--auto-promote-after",
            "promotes while kirikae waits in Ready; --no-wait and --wait-until stop waiting before",
        ));
    }
    let Some(gate) = gate else {
        return match auto {
            Some(_) => Err(ConfigError::new(
                "--auto-promote-after",
                format!(
                    "promotes a deployment held for approval, and {} has no gate",
                    path.display()
                ),
            )
            .hint("add `gate: {approve: true}` to the config")),
            None => Ok(()),
        };
    };
    let waiting = match wait.mode {
        // --no-wait: the deployment holds in Ready, and `kirikae promote` runs the checks.
        WaitMode::Complete | WaitMode::NoWait => Ok(()),
        WaitMode::Until(_) => Err("--wait-until"),
    };
    config::gate::check(path, gate, cd, waiting, auto)
}

/// CodeDeploy names: 1-100 characters of `[A-Za-z0-9+=,.@_-]`.
fn check_names(path: &Path, cfg: &config::ConfigFile, service: &str) -> Result<(), ConfigError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    let names = [
        (
            "codedeploy.application",
            cfg.codedeploy.application.clone(),
            Plan::default_application(&cfg.cluster, service),
        ),
        (
            "codedeploy.deployment_group",
            cfg.codedeploy.deployment_group.clone(),
            Plan::default_deployment_group(&cfg.cluster, service),
        ),
    ];
    for (field, given, default) in names {
        let name = given.unwrap_or(default);
        if !ok(&name) {
            return Err(ConfigError::in_file(
                path,
                format!("`{name}` is not a valid CodeDeploy name"),
            )
            .field(field)
            .hint("1-100 characters: letters, digits and + = , . @ _ -"));
        }
    }
    Ok(())
}

fn check_codedeploy(path: &Path, cd: &CodeDeploySection) -> Result<(), ConfigError> {
    let err = |field: &str, msg: &str| {
        ConfigError::in_file(path, msg.to_string()).field(format!("codedeploy.{field}"))
    };
    if cd.service_role.trim().is_empty() {
        return Err(err(
            "service_role",
            "must be the ARN of the IAM role CodeDeploy uses for ECS",
        ));
    }
    if cd.deployment_config.trim().is_empty() {
        return Err(err("deployment_config", "must not be empty"));
    }
    if cd.target_groups.len() != 2 || cd.target_groups.iter().any(|t| t.trim().is_empty()) {
        return Err(err(
            "target_groups",
            "needs exactly two target group names (blue and green)",
        ));
    }
    if cd.target_groups[0] == cd.target_groups[1] {
        return Err(err(
            "target_groups",
            "names the same target group twice; Blue/Green needs two",
        ));
    }
    for (field, l) in [
        ("production_listener", Some(&cd.production_listener)),
        ("test_listener", cd.test_listener.as_ref()),
    ] {
        match l {
            Some(ListenerRef::Arn(a)) if !a.starts_with("arn:") => {
                return Err(err(
                    field,
                    "must be a listener ARN (arn:…:listener/…) or {load_balancer: NAME, port: PORT}",
                ));
            }
            Some(ListenerRef::Port(p)) if p.load_balancer.trim().is_empty() => {
                return Err(err(field, "load_balancer must not be empty"));
            }
            _ => {}
        }
    }
    if cd.test_listener.as_ref() == Some(&cd.production_listener) {
        return Err(err(
            "test_listener",
            "is the production listener; the test listener must be another one",
        ));
    }
    if cd.termination_wait_minutes > 2880 {
        return Err(err(
            "termination_wait_minutes",
            "must be at most 2880 (two days)",
        ));
    }
    if cd.ready.wait_minutes > 2880 {
        return Err(err("ready.wait_minutes", "must be at most 2880 (two days)"));
    }
    if cd.ready.action == ReadyAction::StopDeployment && cd.ready.wait_minutes == 0 {
        return Err(err(
            "ready.wait_minutes",
            "must be more than 0 with STOP_DEPLOYMENT (how long CodeDeploy waits to be continued)",
        ));
    }
    if let Some(alarms) = &cd.alarms {
        if alarms.names.len() > 10 {
            return Err(err("alarms.names", "at most 10 alarms"));
        }
        if alarms.enabled && alarms.names.is_empty() {
            return Err(err("alarms.names", "is empty while alarms are enabled"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for n in &alarms.names {
            if n.is_empty() || n.len() > 255 || !seen.insert(n) {
                return Err(err(
                    "alarms.names",
                    &format!("`{n}` is empty, longer than 255 characters, or repeated"),
                ));
            }
        }
    }
    if cd.hooks.after_allow_test_traffic.is_some() && cd.test_listener.is_none() {
        return Err(err(
            "hooks.AfterAllowTestTraffic",
            "never runs without a test_listener",
        ));
    }
    Ok(())
}

/// The load balancer's container name and port must exist in the task definition.
pub(crate) fn check_container(
    td: &TaskDefinition,
    sd: &ServiceDefinition,
) -> Result<(), ConfigError> {
    let name = sd.container_name();
    let Some(ports) = td.container_ports(name) else {
        let names = td.container_names();
        let mut e = ConfigError::in_file(
            &sd.path,
            format!(
                "container `{name}` is not in {} (containers: {})",
                td.path.display(),
                names.join(", ")
            ),
        )
        .field("loadBalancers[0].containerName");
        if let Some(best) = closest(name, names.iter().copied()) {
            e = e.hint(format!("did you mean `{best}`?"));
        }
        return Err(e);
    };
    let port = sd.container_port();
    if !ports.contains(&port) {
        let listed: Vec<String> = ports.iter().map(i32::to_string).collect();
        return Err(ConfigError::in_file(
            &sd.path,
            format!(
                "container `{name}` has no port mapping for {port} in {} (ports: {})",
                td.path.display(),
                if listed.is_empty() {
                    "none".to_string()
                } else {
                    listed.join(", ")
                }
            ),
        )
        .field("loadBalancers[0].containerPort"));
    }
    Ok(())
}

fn check_wait(path: &Path, wait: &WaitOptions, cd: &CodeDeploySection) -> Result<(), ConfigError> {
    if let WaitMode::Until(event) = &wait.mode {
        let Some(known) = LIFECYCLE_EVENTS
            .iter()
            .find(|e| e.eq_ignore_ascii_case(event))
        else {
            let mut e = ConfigError::new(
                "--wait-until",
                format!("`{event}` is not an ECS lifecycle event"),
            )
            .hint(format!("one of {}", LIFECYCLE_EVENTS.join(", ")));
            if let Some(best) = closest(event, LIFECYCLE_EVENTS.iter().copied()) {
                e = e.hint(format!("did you mean `{best}`?"));
            }
            return Err(e);
        };
        if known.contains("TestTraffic") && cd.test_listener.is_none() {
            return Err(ConfigError::new(
                "--wait-until",
                format!(
                    "{known} only happens with a test listener, and {} has none",
                    path.display()
                ),
            )
            .hint("add codedeploy.test_listener, or wait for another event"));
        }
    }
    Ok(())
}

pub(crate) fn check_notifications(path: &Path, n: &Notifications) -> Result<(), ConfigError> {
    let check = |field: &str, url: &str| {
        // Never echo the URL: it is a secret.
        if url.is_empty() || url.starts_with("https://") || url.starts_with("http://") {
            Ok(())
        } else {
            Err(ConfigError::in_file(path, "is not an http(s) URL").field(field.to_string()))
        }
    };
    if let Some(s) = &n.slack {
        check("notifications.slack.webhook_url", &s.webhook_url)?;
    }
    if let Some(w) = &n.webhook {
        check("notifications.webhook.url", &w.url)?;
    }
    Ok(())
}

/// Normalises a `--wait-until` argument to the event's exact name.
pub fn lifecycle_event_name(arg: &str) -> Option<&'static str> {
    LIFECYCLE_EVENTS
        .iter()
        .copied()
        .find(|e| e.eq_ignore_ascii_case(arg))
}
