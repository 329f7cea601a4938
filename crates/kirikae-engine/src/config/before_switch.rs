//! `before_switch:` in kirikae.yml: a one-off task run with the **new** task definition before anything
//! switches — the database migration a team deploys Blue/Green for.
//!
//! ```yaml
//! before_switch:
//!   container: web                   # default: the service definition's load-balanced container
//!   command: [./manage.py, migrate]  # the container's command override (Docker's CMD)
//!   environment: {MIGRATE_LOCK: "1"} # optional: added to the container's environment
//! ```
//!
//! kirikae runs it with `RunTask` (the service definition's launch type or capacity provider strategy,
//! platform version and network configuration; `startedBy: kirikae`, `group: kirikae:before-switch`)
//! after the task definition is registered and before the deployment (or, for a new service, the
//! service) is created, and waits for it to stop: it passes when the container exits 0. Any other
//! ending creates nothing more (see [`crate::before_switch`]). Checked here, before any AWS call
//! ([`check`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::definitions::{ServiceDefinition, TaskDefinition};
use crate::error::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BeforeSwitch {
    /// The container whose command is overridden; `None`: the service definition's container.
    pub container: Option<String>,
    pub command: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

impl BeforeSwitch {
    /// The container it runs in.
    pub fn container_name<'a>(&'a self, sd: &'a ServiceDefinition) -> &'a str {
        self.container
            .as_deref()
            .unwrap_or_else(|| sd.container_name())
    }

    /// The command, said for a person (`./manage.py migrate`).
    pub fn command_said(&self) -> String {
        self.command.join(" ")
    }
}

/// Everything about `before_switch:` that needs no AWS call: a command, a container the task definition
/// has (ECS refuses RunTask's override for any other), and a network configuration for a task
/// definition that needs one (awsvpc: the service definition's, as the deployment's tasks get).
pub fn check(
    path: &Path,
    b: &BeforeSwitch,
    td: &TaskDefinition,
    sd: &ServiceDefinition,
) -> Result<(), ConfigError> {
    let err = |field: &str, msg: String| {
        ConfigError::in_file(path, msg).field(format!("before_switch.{field}"))
    };
    if b.command.is_empty() || b.command.iter().all(|w| w.trim().is_empty()) {
        return Err(err("command", "must name the command to run".into())
            .hint("e.g. command: [./manage.py, migrate]"));
    }
    let container = b.container_name(sd);
    let names = td.container_names();
    if !names.contains(&container) {
        let mut e = err(
            "container",
            format!(
                "task definition family {} has no container `{container}` (it has: {})",
                td.family(),
                names.join(", ")
            ),
        );
        if let Some(best) = crate::suggest::closest(container, names.iter().copied()) {
            e = e.hint(format!("did you mean `{best}`?"));
        }
        return Err(e);
    }
    for name in b.environment.keys() {
        if name.is_empty() {
            return Err(err(
                "environment",
                "variable names must not be empty".into(),
            ));
        }
    }
    let awsvpc = td
        .input
        .network_mode()
        .is_some_and(|m| m.as_str() == "awsvpc");
    if awsvpc && sd.input.network_configuration().is_none() {
        return Err(ConfigError::in_file(
            path,
            format!(
                "the task runs in network mode awsvpc, and {} has no networkConfiguration to run it with",
                sd.path.display()
            ),
        )
        .field("before_switch")
        .hint("add networkConfiguration (subnets, security groups) to the service definition"));
    }
    Ok(())
}
