//! `kirikae migrate`: a CodeDeploy Blue/Green service moved to ECS-native Blue/Green in place, as AWS's
//! migration guide does it ("reuse the same Elastic Load Balancing resources"): the production (and
//! test) listener's default rule forwards to both groups, weight 1 on the group serving now and 0 on
//! the other (traffic goes where it went); then `UpdateService` sets the ECS controller, the strategy
//! and the load balancer's advanced configuration (alternate group = the one not serving, the listener
//! rules, the infrastructure role). The CodeDeploy application and group are left in place, or
//! deleted once the service moved ([`delete_codedeploy`]); `kirikae.yml` gets an `ecs:` block instead of
//! `codedeploy:` ([`rewrite`]).
//!
//! First a [`Migration`] from read-only calls ([`checks`]): every refusal (a deployment going on, Service
//! Connect, the infrastructure role missing or not trusting ecs.amazonaws.com, a listener not as
//! required, a setting with no ECS equivalent — [`mapping`]) comes before any change. Then [`execute`]
//! makes the changes; the service deployment `UpdateService` starts (a load balancer change starts
//! one, of the same task definition) is followed by the caller as `kirikae deploy` follows one.

pub mod checks;
pub mod guard;
pub mod mapping;
pub mod rewrite;

use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType, LoadBalancer};
use serde::Serialize;

use crate::aws::failed;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::native::NativePlan;
use crate::native::preflight::{NativeRemote, NativeService};
use crate::plan::Plan;
use crate::setup::listener::{Forward, Rewrite};
use crate::setup::role;

pub use crate::setup::Step;

/// The infrastructure role's name when `--infrastructure-role` is not given (the name AWS's
/// documentation and console use).
pub const DEFAULT_ROLE_NAME: &str = "ecsInfrastructureRoleForLoadBalancers";

/// The command's choices.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--infrastructure-role ARN`; else [`DEFAULT_ROLE_NAME`] in the service's account.
    pub infrastructure_role: Option<String>,
    /// `--delete-codedeploy`: delete the group (and the application, when it has no other group)
    /// once the service moved.
    pub delete_codedeploy: bool,
}

/// Where the service stands.
#[derive(Debug, Clone)]
pub enum Standing {
    /// On CODE_DEPLOY: these changes move it.
    Move(Box<Moves>),
    /// Already on the ECS controller: nothing to change in AWS.
    Moved { strategy: String },
}

/// The changes, in order.
#[derive(Debug, Clone)]
pub struct Moves {
    /// Default actions rewritten to the weighted 1/0 form (production first).
    pub rewrites: Vec<Rewrite>,
    /// The target groups by name, for the rewrites.
    pub arns: Vec<(String, String)>,
    pub deployment_configuration: Option<aws_sdk_ecs::types::DeploymentConfiguration>,
    pub load_balancers: Vec<LoadBalancer>,
    /// With a gate that has checks: the test listener's URL they go to (the move's own service
    /// deployment pauses at the gate too, and migrate runs it there as deploy does).
    pub test_url: Option<String>,
}

/// A planned migration: what was found, what will change, and the new config.
#[derive(Debug, Clone)]
pub struct Migration {
    pub cluster: String,
    pub service: String,
    pub steps: Vec<Step>,
    /// What the `ecs:` block does not carry over, or does otherwise.
    pub notes: Vec<String>,
    pub standing: Standing,
    /// The CodeDeploy application and group, when they exist.
    pub codedeploy: Option<(String, String)>,
    pub delete_codedeploy: bool,
    pub new_config: rewrite::Rewritten,
    /// How long the service deployment the move starts may take without a person (bakes, hooks).
    pub expected_minutes: u64,
    /// The config's gate, carried over: run at the move's own pause as deploy runs it.
    pub gate: Option<crate::config::gate::Gate>,
}

impl Migration {
    pub fn changes_anything(&self) -> bool {
        matches!(self.standing, Standing::Move(_))
            || (self.delete_codedeploy && self.codedeploy.is_some())
    }
}

/// A step line.
fn step(resource: String, action: &'static str, detail: String) -> Step {
    Step {
        resource,
        action,
        detail,
    }
}

/// The plan for a config with a `codedeploy:` block, from read-only calls; every refusal is an error.
pub async fn plan(plan: &Plan, options: &Options, aws: &Clients) -> Result<Migration, Error> {
    let cfg = plan.config_path.as_path();
    let target = format!("{}/{}", plan.cluster, plan.service);
    let refuse = |field: &str, message: String, hint: String| -> Error {
        ConfigError::in_file(cfg, message)
            .field(field.to_string())
            .hint(hint)
            .into()
    };
    let mut steps = Vec::new();
    let Some(service) = checks::service(aws, &plan.cluster, &plan.service).await? else {
        return Err(refuse(
            "service",
            format!("service {target} does not exist in {}: there is nothing to migrate", aws.region),
            "a new service starts on ECS-native Blue/Green with an `ecs:` block (kirikae deploy creates it)".into(),
        ));
    };
    let controller = service
        .deployment_controller()
        .map(|c| c.r#type().clone())
        .unwrap_or(DeploymentControllerType::Ecs);
    let live_role = service
        .load_balancers()
        .first()
        .and_then(|l| l.advanced_configuration())
        .and_then(|a| a.role_arn())
        .map(str::to_string);
    let role_arn = options
        .infrastructure_role
        .clone()
        .or_else(|| live_role.clone())
        .unwrap_or_else(|| default_role(service.service_arn().unwrap_or_default()));
    let codedeploy = match checks::group(aws, &plan.application, &plan.deployment_group).await? {
        checks::Group::Missing => None,
        checks::Group::Deploying(id) if controller == DeploymentControllerType::CodeDeploy => {
            return Err(Error::Conflict {
                message: format!(
                    "CodeDeploy deployment {id} is going on in {}/{}: AWS's migration needs no deployment in progress",
                    plan.application, plan.deployment_group
                ),
                hint: Some(format!(
                    "let it end (kirikae watch -c {}), then migrate; nothing was changed",
                    cfg.display()
                )),
            });
        }
        _ => Some((plan.application.clone(), plan.deployment_group.clone())),
    };
    let routing = checks::routing(aws, cfg, &plan.codedeploy.deployment_config).await?;
    let mut mapped = mapping::map(&plan.codedeploy, routing, &role_arn)
        .map_err(|(field, message, hint)| refuse(&field, message, hint))?;
    if let Some(gate) = &plan.gate {
        mapping::carry_gate(&mut mapped);
        crate::native::gate::check(cfg, gate, &mapped.ecs, &crate::plan::WaitOptions::default())?;
    }
    if let Err((field, message, hint)) = crate::native::config::check(&mapped.ecs) {
        let mut e =
            ConfigError::in_file(cfg, format!("the ecs: block would be invalid: {message}"))
                .field(field);
        if let Some(h) = hint {
            e = e.hint(h);
        }
        return Err(e.into());
    }
    let mut notes = mapped.notes.clone();
    let comment = match &codedeploy {
        Some((app, group)) => vec![format!(
            "Moved from CodeDeploy application {app}, deployment group {group} by kirikae migrate (ECS runs the Blue/Green deployments now)."
        )],
        None => vec![
            "Moved from CodeDeploy by kirikae migrate (ECS runs the Blue/Green deployments now)."
                .into(),
        ],
    };
    let original = crate::config::read_text(cfg)?;
    let is_json = cfg
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let new_config = rewrite::rewrite(&original, is_json, &mapped.ecs, &comment).map_err(|e| {
        Error::from(
            ConfigError::in_file(cfg, format!("cannot write the ecs: block into it: {e}"))
                .hint("kirikae migrate --print shows the block; edit the file by hand"),
        )
    })?;
    if !new_config.kept_as_written {
        notes.push(format!(
            "{} is written again from its parsed content: comments are not kept, templates only where they were inside values",
            cfg.display()
        ));
    }
    if original.contains("{{") {
        notes.push("the ecs: block is written with the values as rendered; template it again where the codedeploy: block was templated".into());
    }
    let native = native_plan(plan, mapped.ecs.clone());
    let expected_minutes = native.expected_minutes();

    let standing = match controller {
        DeploymentControllerType::Ecs => {
            let strategy = service
                .deployment_configuration()
                .and_then(|d| d.strategy())
                .map_or("ROLLING", |s| s.as_str())
                .to_string();
            steps.push(step(
                format!("service {target}"),
                "exists",
                format!("already on the ECS controller ({strategy}): nothing to migrate"),
            ));
            Standing::Moved { strategy }
        }
        DeploymentControllerType::CodeDeploy => {
            let moves = plan_moves(
                plan, &native, &service, &role_arn, &mut steps, &mut notes, aws,
            )
            .await?;
            Standing::Move(Box::new(moves))
        }
        other => {
            return Err(refuse(
                "service",
                format!(
                    "service {target} uses the {} deployment controller; kirikae migrate moves CODE_DEPLOY services",
                    other.as_str()
                ),
                "another tool drives this service".into(),
            ));
        }
    };
    match (&codedeploy, options.delete_codedeploy) {
        (Some((app, group)), true) => steps.push(step(
            format!("CodeDeploy application {app}, deployment group {group}"),
            "delete",
            "deleted once the service has moved (the application only when it has no other group)".into(),
        )),
        (Some((app, group)), false) => steps.push(step(
            format!("CodeDeploy application {app}, deployment group {group}"),
            "note",
            "left in place (CodeDeploy can no longer deploy the service once it moved); --delete-codedeploy deletes them".into(),
        )),
        (None, _) => steps.push(step(
            format!(
                "CodeDeploy application {}, deployment group {}",
                plan.application, plan.deployment_group
            ),
            "note",
            "do not exist: nothing to delete".into(),
        )),
    }
    if matches!(standing, Standing::Move(_)) {
        notes.push("whatever else creates CodeDeploy deployments for this service (a pipeline, a script) must stop: AWS's migration guide turns CodeDeploy's automation off".into());
    }
    Ok(Migration {
        cluster: plan.cluster.clone(),
        service: plan.service.clone(),
        steps,
        notes,
        standing,
        codedeploy,
        delete_codedeploy: options.delete_codedeploy,
        new_config,
        expected_minutes,
        gate: plan.gate.clone(),
    })
}

/// A config that already has an `ecs:` block: nothing to migrate when the service has the ECS
/// controller (or does not exist yet: `kirikae deploy` creates it so); a CODE_DEPLOY service is refused
/// (migrate reads the `codedeploy:` block: the group whose deployments must be off, the settings).
pub async fn already_native(plan: &NativePlan, aws: &Clients) -> Result<String, Error> {
    let target = format!("{}/{}", plan.cluster, plan.service);
    let Some(service) = checks::service(aws, &plan.cluster, &plan.service).await? else {
        return Ok(format!(
            "{} has an ecs: block and service {target} does not exist yet: nothing to migrate (kirikae deploy creates it with the ECS controller)",
            plan.config_path.display()
        ));
    };
    match service.deployment_controller().map(|c| c.r#type()) {
        None | Some(DeploymentControllerType::Ecs) => Ok(format!(
            "{} has an ecs: block and service {target} has the ECS controller ({}): nothing to migrate",
            plan.config_path.display(),
            service
                .deployment_configuration()
                .and_then(|d| d.strategy())
                .map_or("ROLLING", |s| s.as_str())
        )),
        Some(other) => Err(ConfigError::in_file(
            &plan.config_path,
            format!(
                "has an ecs: block, but service {target} uses the {} controller",
                other.as_str()
            ),
        )
        .field("ecs")
        .hint("kirikae migrate reads the codedeploy: block the service was deployed with: run it on that config")
        .into()),
    }
}

/// The infrastructure role in the service's account and partition.
fn default_role(service_arn: &str) -> String {
    let parts: Vec<&str> = service_arn.splitn(6, ':').collect();
    let (partition, account) = match parts.as_slice() {
        [_, p, _, _, a, _] => (*p, *a),
        _ => ("aws", "000000000000"),
    };
    format!("arn:{partition}:iam::{account}:role/{DEFAULT_ROLE_NAME}")
}

/// The config as `kirikae deploy` will read it once it has the `ecs:` block.
fn native_plan(plan: &Plan, ecs: crate::native::config::EcsSection) -> NativePlan {
    NativePlan {
        config_path: plan.config_path.clone(),
        region: plan.region.clone(),
        cluster: plan.cluster.clone(),
        service: plan.service.clone(),
        task_definition: plan.task_definition.clone(),
        task_definition_choice: plan.task_definition_choice,
        service_definition: plan.service_definition.clone(),
        ecs,
        force: false,
        wait: plan.wait.clone(),
        sync_desired_count: plan.sync_desired_count,
        notifications: plan.notifications.clone(),
        gate: plan.gate.clone(),
        before_switch: plan.before_switch.clone(),
    }
}

/// The service on CODE_DEPLOY: where it serves from, the listeners, the role; then the changes.
async fn plan_moves(
    plan: &Plan,
    native: &NativePlan,
    service: &aws_sdk_ecs::types::Service,
    role_arn: &str,
    steps: &mut Vec<Step>,
    notes: &mut Vec<String>,
    aws: &Clients,
) -> Result<Moves, Error> {
    let cfg = plan.config_path.as_path();
    let target = format!("{}/{}", plan.cluster, plan.service);
    let conflict = |message: String, hint: &str| Error::Conflict {
        message,
        hint: Some(hint.to_string()),
    };
    if checks::uses_service_connect(service)
        || !plan.service_definition.json["serviceConnectConfiguration"].is_null()
    {
        return Err(conflict(
            format!(
                "service {target} uses Service Connect: not implemented: kirikae migrate moves services behind a load balancer's listeners"
            ),
            "follow AWS's migration guide for Service Connect by hand",
        ));
    }
    let serving_arn = checks::serving_group(service).map_err(|m| {
        conflict(
            format!("{target}: {m}"),
            "migrate once the service has one task set (aws ecs describe-services shows taskSets); nothing was changed",
        )
    })?;
    // The pair, by name and ARN.
    let mut arns = Vec::new();
    for (i, name) in plan.codedeploy.target_groups.iter().enumerate() {
        let Some(tg) = crate::init::network::target_group(aws, name).await? else {
            return Err(
                ConfigError::in_file(cfg, format!("target group `{name}` does not exist"))
                    .field(format!("codedeploy.target_groups[{i}]"))
                    .into(),
            );
        };
        arns.push((
            name.clone(),
            tg.target_group_arn().unwrap_or_default().to_string(),
        ));
    }
    let pair = [arns[0].1.clone(), arns[1].1.clone()];
    let Some(serving) = arns.iter().position(|(_, a)| *a == serving_arn) else {
        return Err(ConfigError::in_file(
            cfg,
            format!("service {target} serves from target group {serving_arn}, which is not one of codedeploy.target_groups"),
        )
        .field("codedeploy.target_groups")
        .into());
    };
    let (serving_name, other_name) = (arns[serving].0.clone(), arns[1 - serving].0.clone());
    steps.push(step(
        format!("service {target}"),
        "exists",
        format!("CODE_DEPLOY controller, one task set serving from {serving_name}; no deployment going on"),
    ));
    let weighted = Forward::Weighted {
        serving: serving_name.clone(),
        other: other_name.clone(),
    };
    let mut rewrites = Vec::new();
    let production = checks::listener(
        aws,
        cfg,
        "codedeploy.production_listener",
        &plan.codedeploy.production_listener,
        &pair,
        &serving_arn,
        true,
    )
    .await?;
    let test = match &plan.codedeploy.test_listener {
        Some(r) => Some(
            checks::listener(
                aws,
                cfg,
                "codedeploy.test_listener",
                r,
                &pair,
                &serving_arn,
                false,
            )
            .await?,
        ),
        None => None,
    };
    for (name, r, found) in [
        (
            "production listener",
            Some(&plan.codedeploy.production_listener),
            Some(&production),
        ),
        (
            "test listener",
            plan.codedeploy.test_listener.as_ref(),
            test.as_ref(),
        ),
    ] {
        let (Some(r), Some(found)) = (r, found) else {
            continue;
        };
        if found.weighted {
            steps.push(step(
                format!("{name} {r}"),
                "exists",
                format!("forwards to both groups, weight 1 on {serving_name}, 0 on {other_name}"),
            ));
        } else {
            let effect = if name == "production listener" {
                format!("production traffic still all goes to {serving_name}")
            } else {
                format!(
                    "test traffic goes to {serving_name} until the next deployment's test traffic shift"
                )
            };
            steps.push(step(
                format!("{name} {r}"),
                "modify",
                format!(
                    "default action rewritten {} — the form ECS-native Blue/Green requires; {effect}",
                    weighted.describe()
                ),
            ));
            rewrites.push(Rewrite {
                listener_arn: found.arn.clone(),
                forward: weighted.clone(),
            });
        }
    }
    // The infrastructure role ECS manages the listeners with.
    let Some(role_ref) = role::RoleRef::parse(role_arn) else {
        return Err(ConfigError::new(
            "--infrastructure-role",
            format!("`{role_arn}` is not an IAM role ARN"),
        )
        .into());
    };
    let role_hint = format!(
        "create it with a trust policy for ecs.amazonaws.com and the managed policy {} (kirikae setup creates it for a config with this `ecs:` block: kirikae migrate --print shows it), or name another with --infrastructure-role ARN",
        role::Kind::EcsInfrastructure.managed_policy()
    );
    match role::state(aws, &role_ref, role::Kind::EcsInfrastructure).await? {
        role::State::Trusted => steps.push(step(
            format!("IAM role {}", role_ref.name),
            "exists",
            "trusts ecs.amazonaws.com".into(),
        )),
        role::State::Untrusted => {
            return Err(ConfigError::new(
                "--infrastructure-role",
                format!("IAM role `{}` does not trust ecs.amazonaws.com: ECS could not manage the listeners with it", role_ref.name),
            )
            .hint(role_hint)
            .into());
        }
        role::State::Missing => {
            return Err(ConfigError::new(
                "--infrastructure-role",
                format!("IAM role `{}` does not exist: ECS-native Blue/Green manages the listeners with it", role_ref.name),
            )
            .hint(role_hint)
            .into());
        }
    }
    // The alarms the deployment will watch exist (as `kirikae deploy` checks them on the new config).
    let mut passed = Vec::new();
    let mut warnings = Vec::new();
    crate::native::preflight::alarms(native, aws, &mut passed, &mut warnings)
        .await
        .map_err(|e| match e {
            Error::Config(c) => Error::Config(c.field("codedeploy.alarms.names")),
            other => other,
        })?;
    for p in passed {
        steps.push(step(p, "exists", String::new()));
    }
    notes.extend(warnings);
    // What UpdateService sends: exactly what `kirikae deploy` will want with the new config, so the
    // first deploy after the move finds the same settings. The serving group first: it stays the
    // service's group, the other becomes the alternate.
    let remote = NativeRemote {
        live: None,
        target_groups: vec![arns[serving].clone(), arns[1 - serving].clone()],
        production_rule: production.default_rule.clone(),
        test_rule: test.as_ref().map(|t| t.default_rule.clone()),
        service: NativeService::Active {
            arn: service.service_arn().unwrap_or_default().to_string(),
            task_definition: service.task_definition().map(str::to_string),
            desired_count: service.desired_count(),
            strategy: "CODE_DEPLOY".into(),
        },
        existing_task_definition: None,
        unchanged_task_definition: None,
        passed: Vec::new(),
        warnings: Vec::new(),
    };
    let desired = crate::native::settings::desired(native, &remote, None)?;
    let test_url = crate::native::gate::test_url(native, remote.test_rule.as_deref(), aws).await?;
    steps.push(step(
        format!("service {target}"),
        "modify",
        format!(
            "UpdateService: deployment controller ECS, strategy {}, bake {} min, {serving_name} serving and {other_name} the alternate group, role {}; ECS starts a service deployment of the task definition that runs ({}), which moves the service to {other_name} with no downtime",
            native.ecs.strategy.as_str(),
            native.ecs.bake_time_minutes,
            role_ref.name,
            service
                .task_definition()
                .map_or("?", crate::deploy::short_arn)
        ),
    ));
    Ok(Moves {
        rewrites,
        arns,
        deployment_configuration: desired.deployment_configuration().cloned(),
        load_balancers: desired.load_balancers().to_vec(),
        test_url,
    })
}

/// What [`execute`] changed, the service deployment it started, and the error that stopped it.
#[derive(Debug)]
pub struct Executed {
    pub changed: Vec<String>,
    /// The service deployment UpdateService started (`None` when it started none, or failed).
    pub deployment: Option<String>,
    /// UpdateService succeeded: the service is on the ECS controller.
    pub moved: bool,
    pub error: Option<Error>,
}

/// The listeners' rewrites, then UpdateService; stops at the first failure, saying what was changed.
pub async fn execute(m: &Migration, aws: &Clients) -> Executed {
    let mut done = Executed {
        changed: Vec::new(),
        deployment: None,
        moved: false,
        error: None,
    };
    let Standing::Move(moves) = &m.standing else {
        return done;
    };
    let lookup = |name: &str| {
        moves
            .arns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    };
    for rw in &moves.rewrites {
        if let Err(e) = rw.apply(aws, &lookup).await {
            done.error = Some(e);
            return done;
        }
        done.changed.push(format!(
            "listener {}: default action {}",
            rw.listener_arn,
            rw.forward.describe()
        ));
    }
    let out = aws
        .ecs
        .update_service()
        .cluster(&m.cluster)
        .service(&m.service)
        .deployment_controller(
            DeploymentController::builder()
                .r#type(DeploymentControllerType::Ecs)
                .build()
                .expect("type is set"),
        )
        .set_deployment_configuration(moves.deployment_configuration.clone())
        .set_load_balancers(Some(moves.load_balancers.clone()))
        .send()
        .await;
    match out {
        Ok(o) => {
            done.moved = true;
            done.changed.push(format!(
                "service {}/{}: deployment controller ECS",
                m.cluster, m.service
            ));
            done.deployment = o
                .service()
                .and_then(|s| s.current_service_deployment())
                .map(str::to_string);
        }
        Err(e) => done.error = Some(failed("ecs:UpdateService", e)),
    }
    done
}

/// `--delete-codedeploy`, once the service moved: the deployment group, then the application when no
/// other group is left in it. Returns what was deleted.
pub async fn delete_codedeploy(
    aws: &Clients,
    application: &str,
    group: &str,
) -> Result<Vec<String>, Error> {
    let mut deleted = Vec::new();
    aws.codedeploy
        .delete_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await
        .map_err(|e| failed("codedeploy:DeleteDeploymentGroup", e))?;
    deleted.push(format!("CodeDeploy deployment group {group}"));
    let left = aws
        .codedeploy
        .list_deployment_groups()
        .application_name(application)
        .send()
        .await
        .map_err(|e| failed("codedeploy:ListDeploymentGroups", e))?;
    if left.deployment_groups().is_empty() {
        aws.codedeploy
            .delete_application()
            .application_name(application)
            .send()
            .await
            .map_err(|e| failed("codedeploy:DeleteApplication", e))?;
        deleted.push(format!("CodeDeploy application {application}"));
    }
    Ok(deleted)
}

/// The JSON form of the plan, for `--output json`.
#[derive(Debug, Serialize)]
pub struct PlanDoc<'a> {
    pub steps: &'a [Step],
    pub notes: &'a [String],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_role_is_in_the_services_account() {
        assert_eq!(
            default_role("arn:aws:ecs:us-east-1:123456789012:service/demo/web"),
            "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers"
        );
    }
}
