//! `kirikae.yml` as a person would write it: only what differs from kirikae's defaults, listeners by
//! load balancer name and port, comments where a reader needs them (the images as they run and how
//! `--image` replaces them, where the account and region are written out and how to template them,
//! what was not carried over).

use std::fmt::Write as _;

use crate::config::{
    Alarms, DEFAULT_DEPLOYMENT_CONFIG, Hooks, ListenerRef, ReadyAction, ReadyOption,
};

/// Everything the config says, gathered from AWS.
#[derive(Debug, Clone)]
pub struct ConfigText {
    /// Comment lines at the top (without `# `).
    pub header: Vec<String>,
    pub region: String,
    pub cluster: String,
    pub service: String,
    /// `None` when it is kirikae's default name.
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    pub service_role: String,
    pub deployment_config: String,
    pub target_groups: [String; 2],
    pub production_listener: ListenerRef,
    pub test_listener: Option<ListenerRef>,
    pub termination_wait_minutes: i32,
    pub ready: ReadyOption,
    /// AppSpec / CodeDeploy names, sorted.
    pub auto_rollback: Vec<String>,
    pub alarms: Option<Alarms>,
    pub hooks: Hooks,
    /// `(container, image)` as they run.
    pub images: Vec<(String, String)>,
    /// `family:revision` the task definition file was read from.
    pub task_revision: String,
    /// Where the account id and region are written out in the files (for the templating hint).
    pub account: Option<String>,
    pub written_out: Vec<String>,
    /// For a service on ECS-native Blue/Green: the `ecs:` block's lines, written instead of
    /// `codedeploy:` (whose fields are then unused).
    pub ecs: Option<Vec<String>>,
}

impl ConfigText {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            let _ = writeln!(out, "# {line}");
        }
        if let Some(account) = &self.account
            && !self.written_out.is_empty()
        {
            let _ = writeln!(
                out,
                "# Account {account} and region {} are written out in {}.",
                self.region,
                self.written_out.join(", ")
            );
            // Written without braces: every file is rendered as a template, comments included.
            let _ = writeln!(
                out,
                "# To deploy the same files to another account or region, template them (all three files are templates):"
            );
            let _ = writeln!(
                out,
                "#   must_env \"AWS_ACCOUNT_ID\" and env \"AWS_REGION\" \"{}\", each between double braces.",
                self.region
            );
        }
        let _ = writeln!(out, "region: {}", scalar(&self.region));
        let _ = writeln!(out, "cluster: {}", scalar(&self.cluster));
        let _ = writeln!(out, "service: {}", scalar(&self.service));
        let _ = writeln!(
            out,
            "task_definition: task-definition.json     # read from {}",
            self.task_revision
        );
        for (container, image) in &self.images {
            let _ = writeln!(
                out,
                "#   {container} runs {image}; deploy another image with --image {container}=IMAGE"
            );
        }
        let _ = writeln!(out, "service_definition: service-definition.json");
        if let Some(lines) = &self.ecs {
            out.push_str("ecs:\n");
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
            return out;
        }
        out.push_str("codedeploy:\n");
        if let Some(a) = &self.application {
            let _ = writeln!(out, "  application: {}", scalar(a));
        }
        if let Some(g) = &self.deployment_group {
            let _ = writeln!(out, "  deployment_group: {}", scalar(g));
        }
        let _ = writeln!(out, "  service_role: {}", scalar(&self.service_role));
        if self.deployment_config != DEFAULT_DEPLOYMENT_CONFIG {
            let _ = writeln!(
                out,
                "  deployment_config: {}",
                scalar(&self.deployment_config)
            );
        }
        let _ = writeln!(
            out,
            "  target_groups: [{}, {}]",
            scalar(&self.target_groups[0]),
            scalar(&self.target_groups[1])
        );
        let _ = writeln!(
            out,
            "  production_listener: {}",
            listener(&self.production_listener)
        );
        if let Some(t) = &self.test_listener {
            let _ = writeln!(out, "  test_listener: {}", listener(t));
        }
        if self.termination_wait_minutes != 2 {
            let _ = writeln!(
                out,
                "  termination_wait_minutes: {}",
                self.termination_wait_minutes
            );
        }
        if self.ready != ReadyOption::default() {
            match self.ready.action {
                ReadyAction::StopDeployment => {
                    let _ = writeln!(
                        out,
                        "  ready: {{action: STOP_DEPLOYMENT, wait_minutes: {}}}",
                        self.ready.wait_minutes
                    );
                }
                ReadyAction::ContinueDeployment => {
                    out.push_str("  ready: {action: CONTINUE_DEPLOYMENT}\n");
                }
            }
        }
        if self.auto_rollback != ["DEPLOYMENT_FAILURE"] {
            let _ = writeln!(out, "  auto_rollback: [{}]", self.auto_rollback.join(", "));
        }
        if let Some(a) = &self.alarms {
            let names: Vec<String> = a.names.iter().map(|n| scalar(n)).collect();
            let mut parts = vec![format!("names: [{}]", names.join(", "))];
            if a.ignore_poll_failure {
                parts.push("ignore_poll_failure: true".into());
            }
            if !a.enabled {
                parts.push("enabled: false".into());
            }
            let _ = writeln!(out, "  alarms: {{{}}}", parts.join(", "));
        }
        let hooks = self.hooks.entries();
        if !hooks.is_empty() {
            let list: Vec<String> = hooks
                .iter()
                .map(|(event, f)| format!("{event}: {}", scalar(f)))
                .collect();
            let _ = writeln!(out, "  hooks: {{{}}}", list.join(", "));
        }
        out
    }
}

fn listener(l: &ListenerRef) -> String {
    match l {
        ListenerRef::Arn(a) => scalar(a),
        ListenerRef::Port(p) => format!(
            "{{load_balancer: {}, port: {}}}",
            scalar(&p.load_balancer),
            p.port
        ),
    }
}

/// A JSON value in YAML's flow style: `{key: value, …}`, `[a, b]`, scalars as [`scalar`] writes them.
pub fn flow(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), flow(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::String(s) => scalar(s),
        other => other.to_string(),
    }
}

/// A YAML scalar: plain when it is unambiguous (names, ARNs), else double-quoted (JSON's quoting is
/// YAML's).
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:@+=-".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !s.contains(": ")
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ListenerByPort;

    fn text() -> ConfigText {
        ConfigText {
            header: vec!["Written by kirikae init.".into()],
            region: "us-east-1".into(),
            cluster: "demo".into(),
            service: "web".into(),
            application: None,
            deployment_group: Some("web-dg".into()),
            service_role: "arn:aws:iam::123456789012:role/ecsCodeDeployRole".into(),
            deployment_config: DEFAULT_DEPLOYMENT_CONFIG.into(),
            target_groups: ["web-blue".into(), "web-green".into()],
            production_listener: ListenerRef::Port(ListenerByPort {
                load_balancer: "web-alb".into(),
                port: 80,
            }),
            test_listener: None,
            termination_wait_minutes: 5,
            ready: ReadyOption {
                action: ReadyAction::StopDeployment,
                wait_minutes: 30,
            },
            auto_rollback: vec![],
            alarms: Some(Alarms {
                names: vec!["web-5xx".into()],
                ignore_poll_failure: false,
                enabled: true,
            }),
            hooks: Hooks {
                after_allow_test_traffic: Some("CodeDeployHook_check".into()),
                ..Hooks::default()
            },
            images: vec![("web".into(), "kirikae/demo:v1".into())],
            task_revision: "web:3".into(),
            account: Some("123456789012".into()),
            written_out: vec!["kirikae.yml (codedeploy.service_role)".into()],
            ecs: None,
        }
    }

    #[test]
    fn what_it_writes_parses_back_as_written() {
        let rendered = text().render();
        let file: crate::config::ConfigFile = serde_yaml_ng::from_str(&rendered).unwrap();
        let cd = &file.codedeploy;
        assert_eq!(file.region.as_deref(), Some("us-east-1"));
        assert_eq!(cd.application, None);
        assert_eq!(cd.deployment_group.as_deref(), Some("web-dg"));
        assert_eq!(cd.target_groups, vec!["web-blue", "web-green"]);
        assert_eq!(cd.termination_wait_minutes, 5);
        assert_eq!(cd.ready.action, ReadyAction::StopDeployment);
        assert_eq!(cd.ready.wait_minutes, 30);
        assert!(cd.auto_rollback.is_empty());
        assert_eq!(cd.alarms.as_ref().unwrap().names, vec!["web-5xx"]);
        assert_eq!(
            cd.hooks.after_allow_test_traffic.as_deref(),
            Some("CodeDeployHook_check")
        );
        assert!(rendered.contains("--image web=IMAGE"), "{rendered}");
        assert!(
            rendered.contains("must_env \"AWS_ACCOUNT_ID\" and"),
            "{rendered}"
        );
        assert!(
            !rendered.contains("{{"),
            "templates render comments too:\n{rendered}"
        );
    }

    #[test]
    fn defaults_are_left_out() {
        let mut t = text();
        t.termination_wait_minutes = 2;
        t.ready = ReadyOption::default();
        t.auto_rollback = vec!["DEPLOYMENT_FAILURE".into()];
        t.alarms = None;
        t.hooks = Hooks::default();
        let rendered = t.render();
        for key in [
            "termination_wait_minutes",
            "ready",
            "auto_rollback",
            "alarms",
            "hooks",
            "deployment_config",
            "application:",
        ] {
            assert!(!rendered.contains(key), "{key} in\n{rendered}");
        }
    }

    #[test]
    fn flow_style_reads_back_as_the_value() {
        let v =
            serde_json::json!({"names": ["a", "yes"], "n": 1.5, "on": true, "d": {"x": "8080"}});
        let text = flow(&v);
        let back: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, v, "{text}");
    }

    #[test]
    fn ambiguous_scalars_are_quoted() {
        assert_eq!(scalar("web-blue"), "web-blue");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("8080"), "\"8080\"");
        assert_eq!(scalar("a b"), "\"a b\"");
    }
}
