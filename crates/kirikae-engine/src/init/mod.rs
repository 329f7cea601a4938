//! `kirikae init`: the files a team would write for a service that already runs — `kirikae.yml`,
//! `task-definition.json`, `service-definition.json` — read from AWS with read-only calls only:
//!
//! - [`task`]: the revision the service runs, in RegisterTaskDefinition's shape without what ECS fills in;
//! - [`service`]: CreateService's members without what kirikae sets itself or AWS's defaults, the AppSpec
//!   inputs as the last deployment's AppSpec spells them;
//! - [`group`]: for a CODE_DEPLOY service, the CodeDeploy deployment group that deploys it (its settings
//!   become `codedeploy:`) and that AppSpec;
//! - [`network`]: listeners by load balancer name and port; for a service behind one target group, the
//!   second group and test listener a Blue/Green config needs, proposed for `kirikae setup` to create;
//! - [`config`]: `kirikae.yml` with only what differs from kirikae's defaults, and comments.
//!
//! - [`native`]: for a service on ECS-native Blue/Green, the `ecs:` block instead of `codedeploy:`.
//!
//! What cannot be carried over is said ([`Init::notes`]). For a service kirikae deployed, `kirikae
//! deploy` on the files finds nothing to change (and `kirikae diff`, for a CODE_DEPLOY one).

pub mod config;
pub mod group;
pub mod json;
pub mod native;
pub mod network;
pub mod service;
pub mod task;

use std::path::{Path, PathBuf};

use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use aws_sdk_ecs::types::ServiceField;
use serde::Serialize;
use serde_json::Value;

use crate::aws::failed;
use crate::config::{Alarms, Hooks, ReadyAction, ReadyOption, Templater};
use crate::connection::Clients;
use crate::definitions::codec;
use crate::error::{ConfigError, Error};
use crate::group::GroupSettings;
use crate::plan::{self, DeployFlags, Plan};

pub const CONFIG_FILE: &str = "kirikae.yml";
pub const TASK_FILE: &str = "task-definition.json";
pub const SERVICE_FILE: &str = "service-definition.json";

/// Tags AWS or kirikae manage on a resource, which a file does not declare.
pub fn is_managed_tag(key: &str) -> bool {
    key.starts_with("kirikae:") || key.starts_with("aws:")
}

/// What `init` read, ready to be written.
#[derive(Debug, Clone, Serialize)]
pub struct Init {
    pub cluster: String,
    pub service: String,
    pub region: String,
    /// The service's deployment controller, as AWS names it: `CODE_DEPLOY` or `ECS`.
    pub controller: String,
    /// On the `ECS` controller, its deployment strategy: `ROLLING` (what setup moves to Blue/Green),
    /// `BLUE_GREEN`, `LINEAR` or `CANARY` (ECS-native Blue/Green, the config's `ecs:` block).
    pub strategy: Option<String>,
    /// The deployment group the config names, when one deploys the service.
    pub deployment_group: Option<String>,
    #[serde(skip)]
    pub files: Vec<(&'static str, String)>,
    /// What could not be carried over, and what is still missing for Blue/Green.
    pub notes: Vec<String>,
    /// Whether `kirikae setup` has something to create.
    pub needs_setup: bool,
}

/// Reads `cluster/service` and everything the files need. Only read calls.
pub async fn read(aws: &Clients, cluster: &str, service: &str) -> Result<Init, Error> {
    let svc = describe_service(aws, cluster, service).await?;
    let described = codec::encode(&svc).map_err(|e| Error::Conflict {
        message: format!("cannot read service {service} as JSON: {e}"),
        hint: None,
    })?;
    let kind = controller(&svc, service)?;
    let rolling = kind == service::Controller::Rolling;
    let lbs = svc.load_balancers();
    let tg_arn = match lbs {
        [one] => one.target_group_arn().unwrap_or_default().to_string(),
        [] => {
            return Err(ConfigError::new("--service", format!("service {service} has no load balancer: Blue/Green moves a listener's traffic between two target groups"))
                .hint("put the service behind an Application Load Balancer target group first (type ip for awsvpc tasks), then run kirikae init again")
                .into());
        }
        many => {
            return Err(ConfigError::new(
                "--service",
                format!(
                    "service {service} has {} load balancer entries; Blue/Green through CodeDeploy moves one",
                    many.len()
                ),
            )
            .into());
        }
    };
    let td_arn = svc.task_definition().unwrap_or_default().to_string();
    let task = task::read(aws, &td_arn).await?;
    let account = svc
        .service_arn()
        .and_then(|a| a.split(':').nth(4))
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let mut notes = Vec::new();
    let mut needs_setup = false;

    let found = if kind != service::Controller::CodeDeploy {
        None
    } else {
        group::find(aws, cluster, service).await?
    };
    let appspec = match &found {
        Some(f) => match group::last_appspec(aws, f).await {
            Ok(a) => a,
            Err(why) => {
                notes.push(format!("the last deployment's AppSpec could not be read ({why}): the AppSpec inputs come from the service as described, and hooks could not be carried over"));
                None
            }
        },
        None => None,
    };
    let hooks = appspec
        .as_ref()
        .map(|(_, doc)| hooks_of(doc))
        .unwrap_or_default();

    let native_block = if kind == service::Controller::Native {
        Some(native::read(aws, &described, service).await?)
    } else {
        None
    };
    let (mut text, group_name) = match &found {
        Some(f) => {
            let g = GroupSettings::from_info(&f.info);
            let name = f
                .info
                .deployment_group_name()
                .unwrap_or_default()
                .to_string();
            (
                group_config(aws, &g, f, &name, cluster, service, &mut notes).await?,
                Some(name),
            )
        }
        None if native_block.is_some() => {
            let block = native_block.expect("checked");
            let mut text = blank_config(aws, cluster, service, block.target_groups);
            text.ecs = Some(block.lines);
            (text, None)
        }
        None => {
            let p = network::propose(aws, &tg_arn).await?;
            needs_setup = !p.missing.is_empty();
            if needs_setup {
                notes.push(format!(
                    "not there yet: {}; `kirikae setup -c {CONFIG_FILE}` creates {}",
                    p.missing.join(", "),
                    if p.missing.len() == 1 { "it" } else { "them" }
                ));
            }
            let role = format!(
                "arn:aws:iam::{}:role/ecsCodeDeployRole",
                account.as_deref().unwrap_or("000000000000")
            );
            if !rolling {
                notes.push(format!(
                    "no CodeDeploy deployment group deploys {cluster}/{service}: kirikae.yml uses kirikae's default names and `kirikae deploy` creates the application and group; the service role {role} is AWS's usual name (`kirikae setup` creates it when missing)"
                ));
            }
            let mut text = blank_config(aws, cluster, service, p.target_groups);
            text.service_role = role;
            text.production_listener = p.production_listener;
            text.test_listener = Some(p.test_listener);
            (text, None)
        }
    };
    if rolling {
        notes.push(format!(
            "{cluster}/{service} runs with the ECS rolling update controller, and a service's controller cannot change to CODE_DEPLOY: set `service:` in {CONFIG_FILE} to a new name and `kirikae deploy` creates that service with the CODE_DEPLOY controller behind {} next to {service} (then delete {service}); or move {service} in place to ECS-native Blue/Green, which AWS allows: an `ecs:` block instead of `codedeploy:` (`kirikae setup` creates what it needs, `kirikae deploy` updates the service)",
            text.target_groups[0]
        ));
    }

    let recorded = svc
        .tags()
        .iter()
        .find(|t| t.key() == Some(crate::appspec::INPUTS_TAG))
        .and_then(|t| t.value());
    let sfile = service::build(&service::Source {
        described: &described,
        appspec: appspec.as_ref().map(|(_, d)| d),
        recorded_inputs: recorded,
        hooks: &hooks,
        controller: kind,
    });
    notes.extend(sfile.notes.iter().cloned());
    if kind == service::Controller::CodeDeploy {
        match recorded {
            None => notes.push(format!(
                "kirikae has not deployed {service} yet (no {} tag): the first `kirikae deploy` creates a Blue/Green deployment of the same task definition to record its AppSpec inputs",
                crate::appspec::INPUTS_TAG
            )),
            Some(_) if !sfile.inputs_match => notes.push(format!(
                "the AppSpec inputs recorded on {service} ({}) are not those written{}: a deploy would create a Blue/Green deployment with them; `kirikae diff` shows the difference",
                crate::appspec::INPUTS_TAG,
                if appspec.is_none() { " (before the first Blue/Green deployment, hooks cannot be read back)" } else { "" }
            )),
            Some(_) => {}
        }
    }

    text.hooks = hooks;
    text.images = task.images.clone();
    text.task_revision = task.revision.clone();
    text.header = vec![format!(
        "Written by `kirikae init --cluster {cluster} --service {service}` from what runs in {}.",
        aws.region
    )];
    if let Some(acct) = &account {
        let mut places = mentions(&task.json, acct, &aws.region);
        if !places.is_empty() {
            places = vec![format!("{TASK_FILE} ({})", places.join(", "))];
        }
        if text.service_role.contains(acct.as_str()) {
            places.push(format!("{CONFIG_FILE} (codedeploy.service_role)"));
        }
        if text
            .ecs
            .as_ref()
            .is_some_and(|lines| lines.iter().any(|l| l.contains(acct.as_str())))
        {
            places.push(format!("{CONFIG_FILE} (ecs)"));
        }
        text.account = Some(acct.clone());
        text.written_out = places;
    }
    for n in &notes {
        text.header.push(format!("Note: {n}"));
    }
    Ok(Init {
        cluster: cluster.to_string(),
        service: service.to_string(),
        region: aws.region.clone(),
        controller: match kind {
            service::Controller::CodeDeploy => "CODE_DEPLOY",
            service::Controller::Rolling | service::Controller::Native => "ECS",
        }
        .into(),
        strategy: (kind != service::Controller::CodeDeploy).then(|| {
            svc.deployment_configuration()
                .and_then(|d| d.strategy())
                .map_or("ROLLING", |s| s.as_str())
                .to_string()
        }),
        deployment_group: group_name,
        files: vec![
            (CONFIG_FILE, text.render()),
            (TASK_FILE, task.text()),
            (SERVICE_FILE, sfile.text()),
        ],
        notes,
        needs_setup,
    })
}

async fn describe_service(
    aws: &Clients,
    cluster: &str,
    service: &str,
) -> Result<aws_sdk_ecs::types::Service, Error> {
    let out = match aws
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .include(ServiceField::Tags)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(DescribeServicesError::ClusterNotFoundException(_))
            ) =>
        {
            return Err(ConfigError::new(
                "--cluster",
                format!("ECS cluster `{cluster}` does not exist in {}", aws.region),
            )
            .hint("check the name and --region")
            .into());
        }
        Err(e) => return Err(failed("ecs:DescribeServices", e)),
    };
    match out.services().first() {
        Some(s) if s.status() == Some("ACTIVE") => Ok(s.clone()),
        _ => Err(ConfigError::new(
            "--service",
            format!(
                "service `{service}` does not run in cluster {cluster} ({})",
                aws.region
            ),
        )
        .hint("kirikae init reads a running service; for a new one, start from the files in examples/ (kirikae deploy creates the service)")
        .into()),
    }
}

/// How the service deploys: CODE_DEPLOY, ECS's rolling update, or ECS-native Blue/Green; the other
/// controllers are refused.
fn controller(
    svc: &aws_sdk_ecs::types::Service,
    service: &str,
) -> Result<service::Controller, Error> {
    let kind = svc
        .deployment_controller()
        .map(|c| c.r#type().as_str())
        .unwrap_or("ECS");
    match kind {
        "CODE_DEPLOY" => Ok(service::Controller::CodeDeploy),
        "ECS" => {
            let strategy = svc
                .deployment_configuration()
                .and_then(|d| d.strategy())
                .map(|s| s.as_str())
                .unwrap_or("ROLLING");
            Ok(if strategy == "ROLLING" {
                service::Controller::Rolling
            } else {
                service::Controller::Native
            })
        }
        other => Err(ConfigError::new(
            "--service",
            format!("service {service} runs with the {other} deployment controller, which another tool drives: kirikae cannot carry it over"),
        )
        .into()),
    }
}

/// A config with kirikae's defaults, to fill in.
fn blank_config(
    aws: &Clients,
    cluster: &str,
    service: &str,
    target_groups: [String; 2],
) -> config::ConfigText {
    config::ConfigText {
        header: Vec::new(),
        region: aws.region.clone(),
        cluster: cluster.to_string(),
        service: service.to_string(),
        application: None,
        deployment_group: None,
        service_role: String::new(),
        deployment_config: crate::config::DEFAULT_DEPLOYMENT_CONFIG.into(),
        target_groups,
        production_listener: crate::config::ListenerRef::Arn(String::new()),
        test_listener: None,
        termination_wait_minutes: 2,
        ready: ReadyOption::default(),
        auto_rollback: vec!["DEPLOYMENT_FAILURE".into()],
        alarms: None,
        hooks: Hooks::default(),
        images: Vec::new(),
        task_revision: String::new(),
        account: None,
        written_out: Vec::new(),
        ecs: None,
    }
}

/// The deployment group's settings as `kirikae.yml` says them; what the config cannot say is a note.
async fn group_config(
    aws: &Clients,
    g: &GroupSettings,
    f: &group::Found,
    name: &str,
    cluster: &str,
    service: &str,
    notes: &mut Vec<String>,
) -> Result<config::ConfigText, Error> {
    let [blue, green] = match g.target_groups.as_slice() {
        [a, b] => [a.clone(), b.clone()],
        _ => {
            return Err(Error::Conflict {
                message: format!("deployment group {name} has no target group pair"),
                hint: Some("an ECS Blue/Green group names two target groups".into()),
            });
        }
    };
    let production_listener = network::by_port(aws, &g.production_listener).await?;
    let test_listener = match &g.test_listener {
        Some(arn) => Some(network::by_port(aws, arn).await?),
        None => None,
    };
    if g.termination_action.as_str() != "TERMINATE" {
        notes.push(format!(
            "group {name} keeps blue's tasks after a deployment ({}): kirikae's config always terminates them after termination_wait_minutes, so a deploy would change that",
            g.termination_action.as_str()
        ));
    }
    let ready_action = if g.ready_action.as_str() == "STOP_DEPLOYMENT" {
        ReadyAction::StopDeployment
    } else {
        ReadyAction::ContinueDeployment
    };
    let alarms = (!g.alarms.is_empty() || g.alarms_enabled).then(|| Alarms {
        names: g.alarms.clone(),
        ignore_poll_failure: g.ignore_poll_alarm_failure,
        enabled: g.alarms_enabled,
    });
    Ok(config::ConfigText {
        header: Vec::new(),
        region: aws.region.clone(),
        cluster: cluster.to_string(),
        service: service.to_string(),
        application: (f.application != Plan::default_application(cluster, service))
            .then(|| f.application.clone()),
        deployment_group: (name != Plan::default_deployment_group(cluster, service))
            .then(|| name.to_string()),
        service_role: g.service_role_arn.clone(),
        deployment_config: g.deployment_config.clone(),
        target_groups: [blue, green],
        production_listener,
        test_listener,
        termination_wait_minutes: g.termination_wait_minutes,
        ready: ReadyOption {
            action: ready_action,
            wait_minutes: if ready_action == ReadyAction::StopDeployment {
                g.ready_wait_minutes.max(0) as u32
            } else {
                0
            },
        },
        auto_rollback: g
            .auto_rollback_events
            .iter()
            .map(|e| e.as_str().to_string())
            .collect(),
        alarms,
        hooks: Hooks::default(),
        images: Vec::new(),
        task_revision: String::new(),
        account: None,
        written_out: Vec::new(),
        ecs: None,
    })
}

/// The AppSpec's hooks, by lifecycle event.
fn hooks_of(doc: &Value) -> Hooks {
    let mut h = Hooks::default();
    for entry in doc
        .get("Hooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        for (event, f) in entry {
            let f = f.as_str().map(str::to_string);
            match event.as_str() {
                "BeforeInstall" => h.before_install = f,
                "AfterInstall" => h.after_install = f,
                "AfterAllowTestTraffic" => h.after_allow_test_traffic = f,
                "BeforeAllowTraffic" => h.before_allow_traffic = f,
                "AfterAllowTraffic" => h.after_allow_traffic = f,
                _ => {}
            }
        }
    }
    h
}

/// Paths of string values that hold the account id or the region (`executionRoleArn`,
/// `containerDefinitions[0].image`).
fn mentions(v: &Value, account: &str, region: &str) -> Vec<String> {
    fn walk(v: &Value, path: &str, needles: &[&str], out: &mut Vec<String>) {
        match v {
            Value::String(s) if needles.iter().any(|n| s.contains(n)) => out.push(path.to_string()),
            Value::Object(m) => {
                for (k, c) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(c, &p, needles, out);
                }
            }
            Value::Array(items) => {
                for (i, c) in items.iter().enumerate() {
                    walk(c, &format!("{path}[{i}]"), needles, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &[account, region], &mut out);
    out
}

/// Writes the files into `dir` (created when missing). Without `force`, nothing is written when any of
/// them exists.
pub fn write(dir: &Path, init: &Init, force: bool) -> Result<Vec<PathBuf>, ConfigError> {
    let paths: Vec<PathBuf> = init.files.iter().map(|(n, _)| dir.join(n)).collect();
    if !force && let Some(existing) = paths.iter().find(|p| p.exists()) {
        return Err(ConfigError::in_file(
            existing,
            "already exists: kirikae init does not overwrite files",
        )
        .hint("--force overwrites kirikae.yml, task-definition.json and service-definition.json; --dir DIR writes them elsewhere"));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ConfigError::new(dir.display().to_string(), format!("cannot create: {e}")))?;
    for ((_, text), path) in init.files.iter().zip(&paths) {
        std::fs::write(path, text)
            .map_err(|e| ConfigError::in_file(path, format!("cannot write: {e}")))?;
    }
    Ok(paths)
}

/// Reads the written files back as `kirikae deploy` would (no AWS call): what init writes must be valid.
pub fn check_written(dir: &Path) -> Result<(), ConfigError> {
    let (path, flags, templater) = (
        dir.join(CONFIG_FILE),
        DeployFlags::default(),
        Templater::from_process_env(),
    );
    // An `ecs:` block is read by the native plan; a `codedeploy:` one by the CodeDeploy plan.
    if crate::native::plan::build(&path, &flags, &templater)?.is_some() {
        return Ok(());
    }
    plan::build(&path, &flags, &templater).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_come_from_the_appspec_by_event() {
        let doc = json!({"version": 0.0, "Resources": [],
            "Hooks": [{"AfterAllowTestTraffic": "CodeDeployHook_check"}, {"BeforeInstall": "prepare"}]});
        let h = hooks_of(&doc);
        assert_eq!(
            h.after_allow_test_traffic.as_deref(),
            Some("CodeDeployHook_check")
        );
        assert_eq!(h.before_install.as_deref(), Some("prepare"));
        assert_eq!(h.after_install, None);
    }

    #[test]
    fn where_the_account_and_region_are_written_out() {
        let td = json!({"executionRoleArn": "arn:aws:iam::123456789012:role/exec",
            "containerDefinitions": [{"name": "web", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1",
                "logConfiguration": {"options": {"awslogs-region": "eu-west-1"}}}]});
        assert_eq!(
            mentions(&td, "123456789012", "eu-west-1"),
            vec![
                "containerDefinitions[0].image",
                "containerDefinitions[0].logConfiguration.options.awslogs-region",
                "executionRoleArn"
            ]
        );
    }
}
