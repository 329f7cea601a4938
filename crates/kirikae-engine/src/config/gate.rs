//! `gate:` in kirikae.yml: what green must pass through the **test listener** before production traffic
//! moves, and whether a person approves the switch.
//!
//! ```yaml
//! gate:
//!   http:                              # requests through the test listener
//!     - path: /health                  # default /
//!       method: GET                    # default GET
//!       status: 200                    # expected status, default 200
//!       body: '"version":"v2"'         # optional: a regular expression the body must match
//!       requests: 20                   # default 10
//!       duration_seconds: 10           # spread them over this long (default: one after another)
//!       max_failure_ratio: 0.0         # share of requests allowed to fail, default 0
//!       timeout_seconds: 5             # per request, default 5
//!   command: ./smoke-test.sh           # run by `sh -c` in the config's directory, with KIRIKAE_TEST_URL,
//!   command_timeout_seconds: 300       #   KIRIKAE_DEPLOYMENT_ID and the images in its environment
//!   approve: true                      # then hold in Ready until `kirikae promote` (or --auto-promote-after)
//!   test_url: https://test.example.com:8443   # optional: how to reach the test listener (HTTPS listeners)
//! ```
//!
//! The gate runs while CodeDeploy waits in Ready, so it needs the group's ready wait
//! (`codedeploy.ready: {action: STOP_DEPLOYMENT, wait_minutes: N}`): N is the longest the gate and the
//! approval may take before CodeDeploy stops the deployment itself. Both are checked here, before any
//! AWS call ([`check`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CodeDeploySection, ReadyAction};
use crate::error::ConfigError;

/// The methods an HTTP check may use.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    #[serde(default)]
    pub http: Vec<HttpCheck>,
    pub command: Option<String>,
    #[serde(default = "default_command_timeout")]
    pub command_timeout_seconds: u32,
    /// Hold in Ready after the checks pass until someone promotes (or `--auto-promote-after`).
    #[serde(default)]
    pub approve: bool,
    /// The test listener's base URL, when `http://DNS:PORT` of the load balancer does not reach it (an
    /// HTTPS listener's certificate names a domain, not the load balancer).
    pub test_url: Option<String>,
}

fn default_command_timeout() -> u32 {
    300
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_status")]
    pub status: u16,
    /// A regular expression the response body must match.
    pub body: Option<String>,
    #[serde(default = "default_requests")]
    pub requests: u32,
    /// Spread the requests evenly over this long; 0: one after another.
    #[serde(default)]
    pub duration_seconds: u32,
    #[serde(default)]
    pub max_failure_ratio: f64,
    #[serde(default = "default_request_timeout")]
    pub timeout_seconds: u32,
}

fn default_path() -> String {
    "/".into()
}
fn default_method() -> String {
    "GET".into()
}
fn default_status() -> u16 {
    200
}
fn default_requests() -> u32 {
    10
}
fn default_request_timeout() -> u32 {
    5
}

impl HttpCheck {
    /// `GET /health → 200`, said for a person.
    pub fn said(&self) -> String {
        let body = self
            .body
            .as_ref()
            .map(|b| format!(" matching /{b}/"))
            .unwrap_or_default();
        format!("{} {} → {}{body}", self.method, self.path, self.status)
    }

    /// The longest this check may take: its spread, or every request timing out one after another.
    pub fn longest_seconds(&self) -> u64 {
        let spread = u64::from(self.duration_seconds);
        spread
            + u64::from(self.timeout_seconds)
            + if spread == 0 {
                u64::from(self.requests.saturating_sub(1)) * u64::from(self.timeout_seconds)
            } else {
                0
            }
    }
}

impl Gate {
    /// Whether it checks green (HTTP or a command), as opposed to an approval only.
    pub fn has_checks(&self) -> bool {
        !self.http.is_empty() || self.command.is_some()
    }

    /// The longest the checks may take, in seconds.
    pub fn longest_seconds(&self) -> u64 {
        self.http
            .iter()
            .map(HttpCheck::longest_seconds)
            .sum::<u64>()
            + self
                .command
                .as_ref()
                .map_or(0, |_| u64::from(self.command_timeout_seconds))
    }
}

/// Everything about the gate that needs no AWS call. `waiting`: the run follows the deployment at least
/// to Ready (`Err(flag)` for `--wait-until`, which stops before the gate decides; `--no-wait` is fine: the
/// deployment holds in Ready and `kirikae promote` runs the checks); `auto_promote_after`: the flag, in
/// seconds.
pub fn check(
    path: &Path,
    gate: &Gate,
    cd: &CodeDeploySection,
    waiting: Result<(), &str>,
    auto_promote_after: Option<u64>,
) -> Result<(), ConfigError> {
    let err = |field: &str, msg: String| ConfigError::in_file(path, msg).field(field.to_string());
    if !gate.has_checks() && !gate.approve {
        return Err(err(
            "gate",
            "checks nothing: give it `http` checks, a `command`, or `approve: true`".into(),
        ));
    }
    if cd.test_listener.is_none() {
        return Err(err(
            "gate",
            "runs against the test listener, and codedeploy has no test_listener".into(),
        )
        .hint("add codedeploy.test_listener (a second listener forwarding to the pair), where green is served before production moves"));
    }
    if cd.ready.action != ReadyAction::StopDeployment {
        return Err(err(
            "codedeploy.ready",
            "must be {action: STOP_DEPLOYMENT, wait_minutes: N} with a gate: the gate runs while CodeDeploy waits in Ready; with CONTINUE_DEPLOYMENT production traffic moves before it can decide".into(),
        )
        .hint("N bounds how long the gate (and an approval) may take before CodeDeploy stops the deployment itself"));
    }
    let ready_seconds = u64::from(cd.ready.wait_minutes) * 60;
    if gate.longest_seconds() >= ready_seconds {
        return Err(err(
            "gate",
            format!(
                "may take up to {} s, but CodeDeploy stops the deployment after ready.wait_minutes ({} min) in Ready",
                gate.longest_seconds(),
                cd.ready.wait_minutes
            ),
        )
        .hint("raise codedeploy.ready.wait_minutes, or shorten the checks (requests, duration_seconds, timeouts)"));
    }
    if let Some(after) = auto_promote_after {
        if !gate.approve {
            return Err(ConfigError::new(
                "--auto-promote-after",
                format!(
                    "promotes a deployment held for approval, and the gate of {} has no `approve: true`",
                    path.display()
                ),
            ));
        }
        if gate.longest_seconds() + after >= ready_seconds {
            return Err(ConfigError::new(
                "--auto-promote-after",
                format!(
                    "{after} s after the checks is past ready.wait_minutes ({} min) of {}: CodeDeploy would stop the deployment first",
                    cd.ready.wait_minutes,
                    path.display()
                ),
            ));
        }
    }
    if let Err(flag) = waiting
        && gate.has_checks()
    {
        return Err(ConfigError::new(
            flag,
            format!(
                "the gate of {} runs while kirikae waits for Ready; {flag} stops waiting before it can decide",
                path.display()
            ),
        )
        .hint("drop the flag (kirikae runs the gate, then shifts production or rolls back), or use --no-wait: the deployment holds in Ready and `kirikae promote` runs the gate's checks before it shifts production"));
    }
    check_fields(path, gate)
}

/// The gate's own fields (test URL, command, HTTP checks), whichever controller runs it.
pub fn check_fields(path: &Path, gate: &Gate) -> Result<(), ConfigError> {
    let err = |field: &str, msg: String| ConfigError::in_file(path, msg).field(field.to_string());
    if let Some(url) = &gate.test_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(err("gate.test_url", "is not an http(s) URL".into()));
    }
    if gate.command.as_ref().is_some_and(|c| c.trim().is_empty()) {
        return Err(err("gate.command", "is empty".into()));
    }
    if gate.command.is_some() && !(1..=7200).contains(&gate.command_timeout_seconds) {
        return Err(err(
            "gate.command_timeout_seconds",
            "must be 1 to 7200".into(),
        ));
    }
    for (i, c) in gate.http.iter().enumerate() {
        let field = |f: &str| format!("gate.http[{i}].{f}");
        if !c.path.starts_with('/') {
            return Err(err(
                &field("path"),
                format!("`{}` must start with /", c.path),
            ));
        }
        if !METHODS.contains(&c.method.as_str()) {
            return Err(err(
                &field("method"),
                format!("`{}` is not one of {}", c.method, METHODS.join(", ")),
            ));
        }
        if !(100..=599).contains(&c.status) {
            return Err(err(
                &field("status"),
                "must be an HTTP status (100-599)".into(),
            ));
        }
        if let Some(b) = &c.body
            && let Err(e) = regex_lite::Regex::new(b)
        {
            return Err(err(
                &field("body"),
                format!("is not a regular expression: {e}"),
            ));
        }
        if !(1..=10_000).contains(&c.requests) {
            return Err(err(&field("requests"), "must be 1 to 10000".into()));
        }
        if !(0.0..=1.0).contains(&c.max_failure_ratio) {
            return Err(err(
                &field("max_failure_ratio"),
                "must be between 0 and 1 (the share of requests allowed to fail)".into(),
            ));
        }
        if !(1..=300).contains(&c.timeout_seconds) {
            return Err(err(&field("timeout_seconds"), "must be 1 to 300".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ListenerRef, ReadyOption};

    fn cd(test_listener: bool, ready: ReadyAction, minutes: u32) -> CodeDeploySection {
        CodeDeploySection {
            application: None,
            deployment_group: None,
            service_role: "r".into(),
            deployment_config: "c".into(),
            target_groups: vec!["a".into(), "b".into()],
            production_listener: ListenerRef::Arn("arn:p".into()),
            test_listener: test_listener.then(|| ListenerRef::Arn("arn:t".into())),
            termination_wait_minutes: 0,
            ready: ReadyOption {
                action: ready,
                wait_minutes: minutes,
            },
            auto_rollback: Vec::new(),
            alarms: None,
            hooks: Default::default(),
        }
    }

    fn gate(yaml: &str) -> Gate {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn refused(g: &Gate, cd: &CodeDeploySection) -> ConfigError {
        check(Path::new("k.yml"), g, cd, Ok(()), None).unwrap_err()
    }

    #[test]
    fn defaults() {
        let g = gate("http: [{}]");
        assert_eq!(g.http[0].said(), "GET / → 200");
        assert_eq!(g.http[0].requests, 10);
        assert!(!g.approve);
        assert_eq!(g.command_timeout_seconds, 300);
    }

    #[test]
    fn needs_a_test_listener_and_the_ready_wait() {
        let g = gate("http: [{}]");
        let e = refused(&g, &cd(false, ReadyAction::StopDeployment, 60));
        assert_eq!(e.field.as_deref(), Some("gate"));
        assert!(e.message.contains("no test_listener"), "{e}");
        let e = refused(&g, &cd(true, ReadyAction::ContinueDeployment, 0));
        assert_eq!(e.field.as_deref(), Some("codedeploy.ready"));
        assert!(
            check(
                Path::new("k.yml"),
                &g,
                &cd(true, ReadyAction::StopDeployment, 60),
                Ok(()),
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn must_fit_in_the_ready_wait() {
        let g = gate("http: [{duration_seconds: 100}]\ncommand: x\ncommand_timeout_seconds: 50");
        let e = refused(&g, &cd(true, ReadyAction::StopDeployment, 2));
        assert!(e.message.contains("up to 155 s"), "{e}");
    }

    #[test]
    fn refuses_what_cannot_work() {
        let ok = cd(true, ReadyAction::StopDeployment, 60);
        assert!(refused(&gate("{}"), &ok).message.contains("checks nothing"));
        assert!(
            refused(&gate("http: [{body: '(['}]"), &ok)
                .message
                .contains("not a regular expression")
        );
        assert_eq!(
            refused(&gate("http: [{path: health}]"), &ok)
                .field
                .as_deref(),
            Some("gate.http[0].path")
        );
        assert_eq!(
            refused(&gate("http: [{max_failure_ratio: 2}]"), &ok)
                .field
                .as_deref(),
            Some("gate.http[0].max_failure_ratio")
        );
        let e = check(
            Path::new("k.yml"),
            &gate("http: [{}]"),
            &ok,
            Err("--wait-until"),
            None,
        )
        .unwrap_err();
        assert_eq!(e.source, "--wait-until");
        // An approval only never needs kirikae to wait.
        assert!(
            check(
                Path::new("k.yml"),
                &gate("approve: true"),
                &ok,
                Err("--wait-until"),
                None
            )
            .is_ok()
        );
        let e = check(
            Path::new("k.yml"),
            &gate("http: [{}]"),
            &ok,
            Ok(()),
            Some(60),
        )
        .unwrap_err();
        assert_eq!(e.source, "--auto-promote-after");
    }
}
