//! Read-only checks against AWS, after the local plan is valid and before anything is changed: the
//! cluster, target groups and listeners exist and fit together, the application is an ECS one, the
//! service (if it exists) is a CODE_DEPLOY one, no other deployment is running. Only Describe/Get/List calls
//! are made here.

use aws_sdk_codedeploy::operation::get_application::GetApplicationError;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupError;
use aws_sdk_codedeploy::types::{
    AutoRollbackEvent, ComputePlatform, DeploymentReadyAction, InstanceAction,
};
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersError;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersError;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsError;
use aws_sdk_elasticloadbalancingv2::types::Listener;
use serde::Serialize;

use crate::aws::failed;
use crate::config::{ListenerRef, ReadyAction};
use crate::connection::Clients;
use crate::definitions::task::SPEC_TAG;
use crate::error::{ConfigError, Error};
use crate::group::GroupSettings;
use crate::plan::{Plan, TaskDefinitionChoice};

pub mod group_inputs;
pub(crate) mod same_content;

/// What AWS already has, as far as this deploy is concerned.
#[derive(Debug, Clone, Serialize)]
pub struct Remote {
    /// `(name, ARN)` of the two target groups, in config order.
    pub target_groups: Vec<(String, String)>,
    pub production_listener: String,
    pub test_listener: Option<String>,
    pub application_exists: bool,
    /// The existing deployment group's settings.
    pub group: Option<GroupSettings>,
    pub service: ServiceState,
    /// The task definition to deploy when it is not registered by this run (`--skip-task-definition`,
    /// `--revision`).
    pub existing_task_definition: Option<String>,
    /// The service's current task definition, when it has exactly the content this run would register
    /// (it is reused instead).
    pub unchanged_task_definition: Option<String>,
    /// The service's current task definition, when it and the AppSpec inputs are exactly what this run
    /// would deploy: then there is nothing to deploy (unless `--force`).
    pub up_to_date: Option<String>,
    /// The target group of the pair the production listener forwards all its traffic to.
    pub production_target_group: Option<String>,
    /// How long the deployment config shifts traffic (linear, canary), in seconds, when known.
    pub shifting_seconds: Option<u64>,
    /// What a person should know that does not stop the deploy (e.g. a check without permission).
    pub warnings: Vec<String>,
}

/// What UpdateService may change on a service with the CODE_DEPLOY controller besides its desired count
/// (AWS: the rest — task definition, network, platform version, load balancers — needs a deployment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdatableSettings {
    pub health_check_grace_period_seconds: Option<i32>,
    pub enable_ecs_managed_tags: bool,
    /// `TASK_DEFINITION`, `SERVICE`, `NONE`.
    pub propagate_tags: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServiceState {
    Missing,
    Active {
        arn: String,
        task_definition: Option<String>,
        desired_count: i32,
        running_count: i32,
        /// The AppSpec inputs last deployed (the `kirikae:appspec-sha256` tag), when recorded.
        deployed_inputs: Option<String>,
        /// The settings UpdateService may change on a CODE_DEPLOY service, as they are.
        settings: UpdatableSettings,
    },
}

impl Remote {
    /// The target group a new service is created behind: the one the production listener forwards its
    /// traffic to (a service definition naming the other one is refused by the checks), else the
    /// service definition's, else the first of the pair.
    pub fn initial_target_group_arn(&self, plan: &Plan) -> String {
        self.production_target_group
            .clone()
            .or_else(|| {
                plan.service_definition
                    .target_group_arn()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| self.target_groups[0].1.clone())
    }
}

/// Runs every check; the first failure is returned.
pub async fn check(plan: &Plan, aws: &Clients) -> Result<Remote, Error> {
    check_noting(plan, aws, &mut Vec::new()).await
}

/// [`check`], saying each check that passed in `passed` (for `kirikae verify`), in order.
pub async fn check_noting(
    plan: &Plan,
    aws: &Clients,
    passed: &mut Vec<String>,
) -> Result<Remote, Error> {
    let cfg = plan.config_path.as_path();
    check_cluster(plan, aws).await?;
    passed.push(format!(
        "ECS cluster {} is active in {}",
        plan.cluster, aws.region
    ));
    let target_groups = target_groups(plan, aws).await?;
    passed.push(format!(
        "target groups {} exist",
        plan.codedeploy.target_groups.join(" and ")
    ));
    let tg_arns: Vec<&str> = target_groups.iter().map(|(_, a)| a.as_str()).collect();
    if let Some(arn) = plan.service_definition.target_group_arn()
        && !tg_arns.contains(&arn)
    {
        return Err(ConfigError::in_file(
            &plan.service_definition.path,
            format!(
                "`{arn}` is not one of codedeploy.target_groups ({})",
                plan.codedeploy.target_groups.join(", ")
            ),
        )
        .field("loadBalancers[0].targetGroupArn")
        .hint("remove it (kirikae uses the first target group) or name one of the pair")
        .into());
    }
    let (production_listener, production_forwards) = listener(
        aws,
        cfg,
        "codedeploy.production_listener",
        &plan.codedeploy.production_listener,
        &tg_arns,
    )
    .await?;
    passed.push(format!(
        "production listener {} forwards to the pair",
        plan.codedeploy.production_listener
    ));
    let test_listener = match &plan.codedeploy.test_listener {
        Some(l) => Some(
            listener(aws, cfg, "codedeploy.test_listener", l, &tg_arns)
                .await?
                .0,
        ),
        None => None,
    };
    if let Some(l) = &plan.codedeploy.test_listener {
        passed.push(format!("test listener {l} forwards to the pair"));
    }
    let inputs = group_inputs::check(plan, aws, passed).await?;

    let application_exists = application(plan, aws).await?;
    let group = if application_exists {
        deployment_group(plan, aws).await?
    } else {
        None
    };
    passed.push(match (&application_exists, &group) {
        (true, Some(_)) => format!(
            "CodeDeploy application {} and deployment group {} exist (ECS)",
            plan.application, plan.deployment_group
        ),
        (true, None) => format!(
            "CodeDeploy application {} exists (ECS); deployment group {} will be created",
            plan.application, plan.deployment_group
        ),
        _ => format!(
            "CodeDeploy application {} and deployment group {} will be created",
            plan.application, plan.deployment_group
        ),
    });
    let service = service(plan, aws).await?;
    passed.push(match &service {
        ServiceState::Missing => format!(
            "service {}/{} will be created (CODE_DEPLOY controller)",
            plan.cluster, plan.service
        ),
        ServiceState::Active { .. } => format!(
            "service {}/{} exists with the CODE_DEPLOY controller",
            plan.cluster, plan.service
        ),
    });
    let existing_task_definition = match plan.task_definition_choice {
        TaskDefinitionChoice::Register => None,
        TaskDefinitionChoice::Latest => {
            let family = plan.task_definition.family().to_string();
            Some(describe_task_definition(plan, aws, family, "--skip-task-definition").await?)
        }
        TaskDefinitionChoice::Revision(n) => {
            let which = format!("{}:{n}", plan.task_definition.family());
            Some(describe_task_definition(plan, aws, which, "--revision").await?)
        }
    };
    // The service's task definition, when it has exactly this content (then it is reused, not
    // registered again); up to date when the AppSpec inputs are also those last deployed.
    let unchanged_task_definition = match &service {
        ServiceState::Active {
            task_definition: Some(current),
            ..
        } => match &existing_task_definition {
            Some(arn) => (arn == current).then(|| current.clone()),
            None => registered_from_same_file(plan, aws, current)
                .await?
                .then(|| current.clone()),
        },
        _ => None,
    };
    let appspec_inputs =
        crate::appspec::inputs_hash(&plan.service_definition, &plan.codedeploy.hooks);
    let up_to_date = match &service {
        ServiceState::Active {
            deployed_inputs, ..
        } if deployed_inputs.as_deref() == Some(appspec_inputs.as_str()) => {
            unchanged_task_definition.clone()
        }
        _ => None,
    };
    let deploying = up_to_date.is_none() || plan.force;
    // With --wait-for-active, a running deployment is waited for under the deploy lock instead.
    if group.is_some()
        && matches!(service, ServiceState::Active { .. })
        && deploying
        && !plan.wait.wait_for_active
    {
        no_active_deployment(plan, aws).await?;
        passed.push(format!(
            "no other deployment is active in {}",
            plan.deployment_group
        ));
    }
    let production_target_group = if service == ServiceState::Missing {
        let tg = production_target(plan, &target_groups, &production_forwards)?;
        let name = target_groups
            .iter()
            .find(|(_, a)| *a == tg)
            .map_or(tg.as_str(), |(n, _)| n.as_str());
        passed.push(format!(
            "the new service starts behind {name}, where the production listener forwards"
        ));
        Some(tg)
    } else {
        None
    };
    Ok(Remote {
        target_groups,
        production_listener,
        test_listener,
        application_exists,
        group,
        service,
        existing_task_definition,
        unchanged_task_definition,
        up_to_date,
        production_target_group,
        shifting_seconds: inputs.shifting.map(|d| d.as_secs()),
        warnings: inputs.warnings,
    })
}

/// The deployment group the config declares, with listeners resolved.
pub fn desired_group(plan: &Plan, remote: &Remote) -> GroupSettings {
    let cd = &plan.codedeploy;
    let mut events: Vec<AutoRollbackEvent> = cd
        .auto_rollback
        .iter()
        .map(|e| AutoRollbackEvent::from(e.as_str()))
        .collect();
    crate::group::sort_events(&mut events);
    let alarms = cd.alarms.clone();
    GroupSettings {
        service_role_arn: cd.service_role.clone(),
        deployment_config: cd.deployment_config.clone(),
        target_groups: cd.target_groups.clone(),
        production_listener: remote.production_listener.clone(),
        test_listener: remote.test_listener.clone(),
        termination_action: InstanceAction::Terminate,
        termination_wait_minutes: cd.termination_wait_minutes as i32,
        ready_action: DeploymentReadyAction::from(cd.ready.action.as_str()),
        ready_wait_minutes: if cd.ready.action == ReadyAction::StopDeployment {
            cd.ready.wait_minutes as i32
        } else {
            0
        },
        auto_rollback_events: events,
        alarms_enabled: alarms
            .as_ref()
            .is_some_and(|a| a.enabled && !a.names.is_empty()),
        alarms: alarms.as_ref().map(|a| a.names.clone()).unwrap_or_default(),
        ignore_poll_alarm_failure: alarms.as_ref().is_some_and(|a| a.ignore_poll_failure),
        cluster: plan.cluster.clone(),
        service: plan.service.clone(),
    }
}

async fn check_cluster(plan: &Plan, aws: &Clients) -> Result<(), Error> {
    let out = aws
        .memo
        .once(format!("ecs:DescribeClusters {}", plan.cluster), || {
            aws.ecs.describe_clusters().clusters(&plan.cluster).send()
        })
        .await
        .map_err(|e| failed("ecs:DescribeClusters", e))?;
    let active = out.clusters().iter().any(|c| c.status() == Some("ACTIVE"));
    if !active {
        return Err(ConfigError::in_file(&plan.config_path, format!("ECS cluster `{}` does not exist in {}", plan.cluster, aws.region))
            .field("cluster")
            .hint("create the cluster first (kirikae deploys services into existing clusters), or check region")
            .into());
    }
    Ok(())
}

async fn target_groups(plan: &Plan, aws: &Clients) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let awsvpc = plan
        .task_definition
        .input
        .network_mode()
        .is_some_and(|m| m.as_str() == "awsvpc");
    for (i, name) in plan.codedeploy.target_groups.iter().enumerate() {
        let field = format!("codedeploy.target_groups[{i}]");
        let resp = aws
            .memo
            .once(format!("elbv2:DescribeTargetGroups {name}"), || {
                aws.elbv2.describe_target_groups().names(name).send()
            })
            .await;
        let tg = match resp {
            Ok(o) => o.target_groups().first().cloned(),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DescribeTargetGroupsError::TargetGroupNotFoundException(_))
                ) =>
            {
                None
            }
            Err(e) => return Err(failed("elasticloadbalancing:DescribeTargetGroups", e)),
        };
        let Some(tg) = tg else {
            return Err(ConfigError::in_file(&plan.config_path, format!("target group `{name}` does not exist in {}", aws.region))
                .field(field)
                .hint("target groups are given by name; create both (Blue/Green needs two) before deploying")
                .into());
        };
        if awsvpc && tg.target_type().is_some_and(|t| t.as_str() != "ip") {
            return Err(ConfigError::in_file(
                &plan.config_path,
                format!(
                    "target group `{name}` has target type {}, but awsvpc tasks register by IP",
                    tg.target_type().map(|t| t.as_str()).unwrap_or("?")
                ),
            )
            .field(field)
            .hint("use target groups created with TargetType ip")
            .into());
        }
        out.push((
            name.clone(),
            tg.target_group_arn().unwrap_or_default().to_string(),
        ));
    }
    Ok(out)
}

/// Resolves a listener reference to its ARN and checks it forwards to one of the pair (CodeDeploy shifts
/// traffic by rewriting that forward).
async fn listener(
    aws: &Clients,
    cfg: &std::path::Path,
    field: &str,
    r: &ListenerRef,
    tg_arns: &[&str],
) -> Result<(String, Vec<(String, Option<i32>)>), Error> {
    let not_found = |msg: String, hint: &str| -> Error {
        ConfigError::in_file(cfg, msg)
            .field(field.to_string())
            .hint(hint.to_string())
            .into()
    };
    let listener: Listener = match r {
        ListenerRef::Arn(arn) => {
            match aws
                .memo
                .once(format!("elbv2:DescribeListeners {arn}"), || {
                    aws.elbv2.describe_listeners().listener_arns(arn).send()
                })
                .await
            {
                Ok(o) => match o.listeners().first() {
                    Some(l) => l.clone(),
                    None => {
                        return Err(not_found(
                            format!("listener `{arn}` does not exist"),
                            "check the ARN and region",
                        ));
                    }
                },
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(DescribeListenersError::ListenerNotFoundException(_))
                    ) =>
                {
                    return Err(not_found(
                        format!("listener `{arn}` does not exist"),
                        "check the ARN and region",
                    ));
                }
                Err(e) => return Err(failed("elasticloadbalancing:DescribeListeners", e)),
            }
        }
        ListenerRef::Port(p) => {
            let lb = match aws
                .memo
                .once(
                    format!("elbv2:DescribeLoadBalancers {}", p.load_balancer),
                    || {
                        aws.elbv2
                            .describe_load_balancers()
                            .names(&p.load_balancer)
                            .send()
                    },
                )
                .await
            {
                Ok(o) => o
                    .load_balancers()
                    .first()
                    .and_then(|l| l.load_balancer_arn())
                    .map(str::to_string),
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(DescribeLoadBalancersError::LoadBalancerNotFoundException(_))
                    ) =>
                {
                    None
                }
                Err(e) => return Err(failed("elasticloadbalancing:DescribeLoadBalancers", e)),
            };
            let Some(lb) = lb else {
                return Err(not_found(
                    format!("load balancer `{}` does not exist", p.load_balancer),
                    "check the name and region",
                ));
            };
            let listeners = aws
                .memo
                .once(format!("elbv2:DescribeListeners {lb}"), || {
                    aws.elbv2.describe_listeners().load_balancer_arn(&lb).send()
                })
                .await
                .map_err(|e| failed("elasticloadbalancing:DescribeListeners", e))?;
            match listeners
                .listeners()
                .iter()
                .find(|l| l.port() == Some(i32::from(p.port)))
            {
                Some(l) => l.clone(),
                None => {
                    let ports: Vec<String> = listeners
                        .listeners()
                        .iter()
                        .filter_map(|l| l.port())
                        .map(|p| p.to_string())
                        .collect();
                    return Err(not_found(
                        format!(
                            "load balancer `{}` has no listener on port {} (ports: {})",
                            p.load_balancer,
                            p.port,
                            if ports.is_empty() {
                                "none".into()
                            } else {
                                ports.join(", ")
                            }
                        ),
                        "create the listener first; CodeDeploy shifts traffic on existing listeners",
                    ));
                }
            }
        }
    };
    // (target group, weight). AWS describes a plain forward both ways (TargetGroupArn and a
    // ForwardConfig of one group): the ForwardConfig, with its weights, is the one to read when present.
    let forwards: Vec<(String, Option<i32>)> = listener
        .default_actions()
        .iter()
        .flat_map(|a| match a.forward_config() {
            Some(f) if !f.target_groups().is_empty() => f
                .target_groups()
                .iter()
                .filter_map(|t| Some((t.target_group_arn()?.to_string(), t.weight())))
                .collect::<Vec<_>>(),
            _ => a
                .target_group_arn()
                .map(|t| (t.to_string(), None))
                .into_iter()
                .collect(),
        })
        .collect();
    if !forwards.iter().any(|(a, _)| tg_arns.contains(&a.as_str())) {
        return Err(ConfigError::in_file(cfg, format!("listener `{r}` does not forward to either target group of the pair"))
            .field(field.to_string())
            .hint("its default action must forward to the target group the service is behind (CodeDeploy rewrites that forward)")
            .into());
    }
    Ok((
        listener.listener_arn().unwrap_or_default().to_string(),
        forwards,
    ))
}

/// The group of the pair the production listener sends its traffic to: a new service starts there, so
/// that its tasks serve production at once (and CodeDeploy's first deployment finds blue where traffic
/// is). A listener that splits traffic across both is refused: CodeDeploy needs one.
fn production_target(
    plan: &Plan,
    pair: &[(String, String)],
    forwards: &[(String, Option<i32>)],
) -> Result<String, Error> {
    let name = |arn: &str| {
        pair.iter()
            .find(|(_, a)| a == arn)
            .map_or(arn.to_string(), |(n, _)| n.clone())
    };
    let serving: Vec<&(String, Option<i32>)> = forwards
        .iter()
        .filter(|(arn, w)| pair.iter().any(|(_, a)| a == arn) && w.is_none_or(|w| w > 0))
        .collect();
    let target = match serving.as_slice() {
        [(arn, _)] => arn.clone(),
        [] => pair[0].1.clone(),
        many => {
            let split: Vec<String> = many
                .iter()
                .map(|(arn, w)| {
                    format!(
                        "{} ({})",
                        name(arn),
                        w.map_or("?".into(), |w| w.to_string())
                    )
                })
                .collect();
            return Err(ConfigError::in_file(
                &plan.config_path,
                format!(
                    "the production listener splits its traffic across {}",
                    split.join(" and ")
                ),
            )
            .field("codedeploy.production_listener")
            .hint("CodeDeploy shifts traffic from one target group to the other: make the listener forward 100% to one of the pair")
            .into());
        }
    };
    if let Some(named) = plan.service_definition.target_group_arn()
        && named != target
    {
        return Err(ConfigError::in_file(
            &plan.service_definition.path,
            format!(
                "the service would start behind `{}`, but the production listener forwards to `{}`: its tasks would get no traffic",
                name(named),
                name(&target)
            ),
        )
        .field("loadBalancers[0].targetGroupArn")
        .hint("remove targetGroupArn (kirikae starts the service behind the group the listener forwards to) or name that group")
        .into());
    }
    Ok(target)
}

async fn application(plan: &Plan, aws: &Clients) -> Result<bool, Error> {
    match aws
        .codedeploy
        .get_application()
        .application_name(&plan.application)
        .send()
        .await
    {
        Ok(o) => {
            let platform = o.application().and_then(|a| a.compute_platform());
            if platform != Some(&ComputePlatform::Ecs) {
                return Err(ConfigError::in_file(
                    &plan.config_path,
                    format!(
                        "CodeDeploy application `{}` exists with compute platform {}, not ECS",
                        plan.application,
                        platform.map(|p| p.as_str()).unwrap_or("Server")
                    ),
                )
                .field("codedeploy.application")
                .hint("an application serves one platform; name another one in codedeploy.application")
                .into());
            }
            Ok(true)
        }
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetApplicationError::ApplicationDoesNotExistException(_))
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(failed("codedeploy:GetApplication", e)),
    }
}

async fn deployment_group(plan: &Plan, aws: &Clients) -> Result<Option<GroupSettings>, Error> {
    match aws
        .codedeploy
        .get_deployment_group()
        .application_name(&plan.application)
        .deployment_group_name(&plan.deployment_group)
        .send()
        .await
    {
        Ok(o) => {
            let Some(info) = o.deployment_group_info() else {
                return Ok(None);
            };
            if info
                .compute_platform()
                .is_some_and(|p| p != &ComputePlatform::Ecs)
            {
                return Err(ConfigError::in_file(
                    &plan.config_path,
                    format!(
                        "deployment group `{}` is not an ECS one",
                        plan.deployment_group
                    ),
                )
                .field("codedeploy.deployment_group")
                .into());
            }
            Ok(Some(GroupSettings::from_info(info)))
        }
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetDeploymentGroupError::DeploymentGroupDoesNotExistException(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(failed("codedeploy:GetDeploymentGroup", e)),
    }
}

async fn service(plan: &Plan, aws: &Clients) -> Result<ServiceState, Error> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(&plan.cluster)
        .services(&plan.service)
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServices", e))?;
    let Some(svc) = out.services().first() else {
        return Ok(ServiceState::Missing);
    };
    match svc.status() {
        Some("INACTIVE") | None => return Ok(ServiceState::Missing),
        Some("DRAINING") => {
            return Err(Error::Conflict {
                message: format!("service `{}` is being deleted (DRAINING)", plan.service),
                hint: Some("wait until it is INACTIVE, then deploy again to recreate it".into()),
            });
        }
        _ => {}
    }
    let controller = svc
        .deployment_controller()
        .map(|c| c.r#type().as_str())
        .unwrap_or("ECS");
    if controller != "CODE_DEPLOY" {
        return Err(ConfigError::in_file(
            &plan.config_path,
            format!("service `{}` exists with the {controller} deployment controller; Blue/Green through CodeDeploy needs CODE_DEPLOY", plan.service),
        )
        .field("service")
        .hint(if controller == "ECS" {
            "its Blue/Green deployments are ECS's own: replace the config's `codedeploy:` block with an `ecs:` block (README: ECS-native Blue/Green)"
        } else {
            "the controller cannot be changed in place: deploy under a new service name, or recreate the service"
        })
        .into());
    }
    Ok(ServiceState::Active {
        arn: svc.service_arn().unwrap_or_default().to_string(),
        task_definition: svc.task_definition().map(str::to_string),
        desired_count: svc.desired_count(),
        running_count: svc.running_count(),
        deployed_inputs: svc
            .tags()
            .iter()
            .find(|t| t.key() == Some(crate::appspec::INPUTS_TAG))
            .and_then(|t| t.value())
            .map(str::to_string),
        settings: UpdatableSettings {
            health_check_grace_period_seconds: svc.health_check_grace_period_seconds(),
            enable_ecs_managed_tags: svc.enable_ecs_managed_tags(),
            propagate_tags: svc.propagate_tags().map(|p| p.as_str().to_string()),
        },
    })
}

async fn no_active_deployment(plan: &Plan, aws: &Clients) -> Result<(), Error> {
    // Named with who started it and from where (crate::lock words it as under the deploy lock).
    match crate::lock::active_deployment(aws, plan).await? {
        Some(active) => Err(crate::lock::active_refusal(plan, &active)),
        None => Ok(()),
    }
}

/// Whether `arn` was registered by kirikae from a file identical to this run's (its spec tag matches),
/// or has the same content all the same ([`same_content`]).
async fn registered_from_same_file(plan: &Plan, aws: &Clients, arn: &str) -> Result<bool, Error> {
    let out = aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeTaskDefinition", e))?;
    let hash = plan.task_definition.spec_hash();
    Ok(out
        .tags()
        .iter()
        .any(|t| t.key() == Some(SPEC_TAG) && t.value() == Some(hash.as_str()))
        || same_content::same(&plan.task_definition.json, &out))
}

async fn describe_task_definition(
    plan: &Plan,
    aws: &Clients,
    which: String,
    flag: &str,
) -> Result<String, Error> {
    match aws
        .ecs
        .describe_task_definition()
        .task_definition(&which)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap_or_default()
            .to_string()),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(
                    DescribeTaskDefinitionError::ClientException(_)
                        | DescribeTaskDefinitionError::InvalidParameterException(_)
                )
            ) =>
        {
            Err(ConfigError::new(
                flag,
                format!(
                    "task definition `{which}` does not exist (family from {})",
                    plan.task_definition.path.display()
                ),
            )
            .hint("register it first (deploy without --skip-task-definition / --revision)")
            .into())
        }
        Err(e) => Err(failed("ecs:DescribeTaskDefinition", e)),
    }
}
