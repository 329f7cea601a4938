//! Read-only checks of what a native deploy needs AWS to have, before anything changes: the cluster, the
//! target group pair, the listener rules (forwarding as ECS needs them), the infrastructure role, the
//! service (missing, or with the ECS controller: a CODE_DEPLOY service is refused, never guessed at), no
//! service deployment already running, and whether there is anything to deploy. Only
//! Describe/Get/List calls.

use aws_sdk_ecs::types::{
    DeploymentControllerType, Service, ServiceDeploymentStatus, TaskDefinitionField,
};
use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, Rule};

use super::plan::NativePlan;
use crate::aws::failed;
use crate::config::ListenerRef;
use crate::connection::Clients;
use crate::definitions::task::SPEC_TAG;
use crate::error::{ConfigError, Error};
use crate::plan::TaskDefinitionChoice;

/// What AWS has, as far as this deploy is concerned.
#[derive(Debug, Clone)]
pub struct NativeRemote {
    /// The service as DescribeServices answered (when it exists).
    pub live: Option<Service>,
    /// `(name, ARN)`: the service's target group, then the alternate one.
    pub target_groups: Vec<(String, String)>,
    pub production_rule: String,
    pub test_rule: Option<String>,
    pub service: NativeService,
    /// The task definition to deploy when this run does not register one.
    pub existing_task_definition: Option<String>,
    /// The service's task definition, when it has exactly the file's content (reused, not registered).
    pub unchanged_task_definition: Option<String>,
    /// What the checks found worth saying, in order (`kirikae verify`-style lines).
    pub passed: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeService {
    Missing,
    Active {
        arn: String,
        task_definition: Option<String>,
        desired_count: i32,
        /// The strategy it deploys with now (ROLLING when it is not a Blue/Green one yet).
        strategy: String,
    },
}

/// The service deployment statuses of a deployment still going on (model: `ServiceDeploymentStatus`).
pub const ONGOING: &[ServiceDeploymentStatus] = &[
    ServiceDeploymentStatus::Pending,
    ServiceDeploymentStatus::InProgress,
    ServiceDeploymentStatus::StopRequested,
    ServiceDeploymentStatus::RollbackRequested,
    ServiceDeploymentStatus::RollbackInProgress,
];

/// Runs every check; the first failure is returned.
pub async fn check(plan: &NativePlan, aws: &Clients) -> Result<NativeRemote, Error> {
    let mut passed = Vec::new();
    let mut remote = check_noting(plan, aws, &mut passed).await?;
    remote.passed = passed;
    Ok(remote)
}

/// [`check`], saying each check that passed in `passed` as it passes (for `kirikae verify`: the
/// checks before the one that failed are shown too).
pub async fn check_noting(
    plan: &NativePlan,
    aws: &Clients,
    passed: &mut Vec<String>,
) -> Result<NativeRemote, Error> {
    let mut warnings = Vec::new();
    let cfg = plan.config_path.as_path();
    let bad = |field: &str, msg: String, hint: &str| -> Error {
        ConfigError::in_file(cfg, msg)
            .field(field.to_string())
            .hint(hint.to_string())
            .into()
    };

    let clusters = aws
        .ecs
        .describe_clusters()
        .clusters(&plan.cluster)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeClusters", e))?;
    if !clusters
        .clusters()
        .iter()
        .any(|c| c.status() == Some("ACTIVE"))
    {
        return Err(bad(
            "cluster",
            format!(
                "ECS cluster `{}` does not exist in {}",
                plan.cluster, aws.region
            ),
            "create the cluster first (kirikae deploys services into existing clusters), or check region",
        ));
    }
    passed.push(format!(
        "ECS cluster {} is active in {}",
        plan.cluster, aws.region
    ));

    // The service first: a controller mismatch is the most important thing to say.
    let (service, live) = service(plan, aws).await?;
    passed.push(match &service {
        NativeService::Missing => format!(
            "service {}/{} will be created (ECS controller, {})",
            plan.cluster,
            plan.service,
            plan.ecs.strategy.as_str()
        ),
        NativeService::Active { strategy, .. } => format!(
            "service {}/{} has the ECS controller ({strategy})",
            plan.cluster, plan.service
        ),
    });

    let mut target_groups = Vec::new();
    for (i, name) in plan.ecs.target_groups.iter().enumerate() {
        let field = format!("ecs.target_groups[{i}]");
        let req = aws.elbv2.describe_target_groups();
        let req = if name.starts_with("arn:") {
            req.target_group_arns(name)
        } else {
            req.names(name)
        };
        let tg = match req.send().await {
            Ok(o) => o.target_groups().first().cloned(),
            Err(e)
                if crate::aws::code(&e) == Some("TargetGroupNotFound")
                    || crate::aws::code(&e) == Some("TargetGroupNotFoundException") =>
            {
                None
            }
            Err(e) => return Err(failed("elasticloadbalancing:DescribeTargetGroups", e)),
        };
        let Some(tg) = tg else {
            return Err(bad(
                &field,
                format!("target group `{name}` does not exist in {}", aws.region),
                "create it first, or check the name and region",
            ));
        };
        target_groups.push((
            tg.target_group_name().unwrap_or(name).to_string(),
            tg.target_group_arn().unwrap_or_default().to_string(),
        ));
    }
    passed.push(format!(
        "target groups {} exist",
        plan.ecs.target_groups.join(" and ")
    ));
    let pair: Vec<&str> = target_groups.iter().map(|(_, a)| a.as_str()).collect();

    let production = rule(
        aws,
        cfg,
        "ecs.production_listener",
        &plan.ecs.production_listener,
    )
    .await?;
    let test = match &plan.ecs.test_listener {
        Some(l) => Some(rule(aws, cfg, "ecs.test_listener", l).await?),
        None => None,
    };
    let forwards = |r: &Rule| -> Vec<String> {
        r.actions()
            .iter()
            .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
            .flat_map(|a| {
                let mut v: Vec<String> = a
                    .target_group_arn()
                    .map(str::to_string)
                    .into_iter()
                    .collect();
                if let Some(fc) = a.forward_config() {
                    v.extend(
                        fc.target_groups()
                            .iter()
                            .filter_map(|t| t.target_group_arn().map(str::to_string)),
                    );
                }
                v
            })
            .collect()
    };
    let prod_forwards = forwards(&production);
    let test_forwards = test.as_ref().map(forwards).unwrap_or_default();
    // ECS rolls the deployment back with this reason when it is not so (AWS's migration guide).
    for (name, arn) in &target_groups {
        if !prod_forwards.contains(arn) && !test_forwards.contains(arn) {
            return Err(bad(
                "ecs.production_listener",
                format!(
                    "the production rule{} does not forward to {name}; ECS would roll the deployment back: \"Both targetGroup and alternateTargetGroup must be associated with the productionListenerRule or testListenerRule.\"",
                    if test.is_some() {
                        " (nor the test rule)"
                    } else {
                        ""
                    }
                ),
                "make the production listener's rule forward to both groups, weights 1 on the serving group and 0 on the other (AWS's migration guide)",
            ));
        }
    }
    if !prod_forwards.iter().any(|a| pair.contains(&a.as_str())) {
        return Err(bad(
            "ecs.production_listener",
            "the production rule forwards to neither group of ecs.target_groups".into(),
            "make it forward to both groups, weights 1/0",
        ));
    }
    passed.push(format!(
        "production listener rule forwards to the pair{}",
        if test.is_some() {
            "; test listener rule found"
        } else {
            ""
        }
    ));

    role(plan, aws, passed, &mut warnings).await?;

    // With --wait-for-active, a running one is waited for under the deploy lock instead.
    if matches!(service, NativeService::Active { .. }) && !plan.wait.wait_for_active {
        no_deployment_running(plan, aws).await?;
        passed.push(format!(
            "no service deployment is running on {}/{}",
            plan.cluster, plan.service
        ));
    }

    let existing_task_definition = match plan.task_definition_choice {
        TaskDefinitionChoice::Register => None,
        TaskDefinitionChoice::Latest => Some(
            task_definition(aws, plan.task_definition.family(), "--skip-task-definition").await?,
        ),
        TaskDefinitionChoice::Revision(n) => Some(
            task_definition(
                aws,
                &format!("{}:{n}", plan.task_definition.family()),
                "--revision",
            )
            .await?,
        ),
    };
    let unchanged_task_definition = match (&service, &existing_task_definition) {
        (
            NativeService::Active {
                task_definition: Some(current),
                ..
            },
            Some(arn),
        ) => (arn == current).then(|| current.clone()),
        (
            NativeService::Active {
                task_definition: Some(current),
                ..
            },
            None,
        ) => same_spec(plan, aws, current)
            .await?
            .then(|| current.clone()),
        _ => None,
    };
    Ok(NativeRemote {
        live,
        production_rule: production.rule_arn().unwrap_or_default().to_string(),
        test_rule: test.map(|r| r.rule_arn().unwrap_or_default().to_string()),
        target_groups,
        service,
        existing_task_definition,
        unchanged_task_definition,
        passed: Vec::new(),
        warnings,
    })
}

async fn service(
    plan: &NativePlan,
    aws: &Clients,
) -> Result<(NativeService, Option<Service>), Error> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(&plan.cluster)
        .services(&plan.service)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServices", e))?;
    let Some(s) = out
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE") || s.status() == Some("DRAINING"))
    else {
        return Ok((NativeService::Missing, None));
    };
    if s.status() == Some("DRAINING") {
        return Err(Error::Conflict {
            message: format!(
                "service {}/{} is being deleted (DRAINING)",
                plan.cluster, plan.service
            ),
            hint: Some("wait until it is INACTIVE, then deploy to create it again".into()),
        });
    }
    let controller = s
        .deployment_controller()
        .map(|c| c.r#type().clone())
        .unwrap_or(DeploymentControllerType::Ecs);
    match controller {
        DeploymentControllerType::Ecs => {}
        DeploymentControllerType::CodeDeploy => {
            return Err(ConfigError::in_file(
                &plan.config_path,
                format!(
                    "service {}/{} uses the CODE_DEPLOY deployment controller, but this config's `ecs:` block deploys with the ECS controller",
                    plan.cluster, plan.service
                ),
            )
            .field("ecs")
            .hint("deploy it with a `codedeploy:` block as before, or move it to the ECS controller first: AWS's in-place path makes the listener rules forward to both groups (1/0), then UpdateService sets the ECS controller: kirikae migrate -c on the config with the codedeploy: block does both")
            .into());
        }
        other => {
            return Err(ConfigError::in_file(
                &plan.config_path,
                format!(
                    "service {}/{} uses the {} deployment controller, but this config's `ecs:` block deploys with the ECS controller",
                    plan.cluster,
                    plan.service,
                    other.as_str()
                ),
            )
            .field("ecs")
            .hint("kirikae does not change a service's controller as a side effect of a deploy")
            .into());
        }
    }
    let state = NativeService::Active {
        arn: s.service_arn().unwrap_or_default().to_string(),
        task_definition: s.task_definition().map(str::to_string),
        desired_count: s.desired_count(),
        strategy: s
            .deployment_configuration()
            .and_then(|d| d.strategy())
            .map_or("ROLLING", |st| st.as_str())
            .to_string(),
    };
    Ok((state, Some(s.clone())))
}

/// The listener rule a `production_listener` / `test_listener` names: a rule ARN, or a listener (ARN,
/// or load balancer and port) meaning its default rule.
async fn rule(
    aws: &Clients,
    cfg: &std::path::Path,
    field: &str,
    r: &ListenerRef,
) -> Result<Rule, Error> {
    let bad = |msg: String, hint: &str| -> Error {
        ConfigError::in_file(cfg, msg)
            .field(field.to_string())
            .hint(hint.to_string())
            .into()
    };
    let listener_arn = match r {
        ListenerRef::Arn(arn) if arn.contains(":listener-rule/") => {
            return match aws.elbv2.describe_rules().rule_arns(arn).send().await {
                Ok(o) => o.rules().first().cloned().ok_or_else(|| {
                    bad(
                        format!("listener rule `{arn}` does not exist"),
                        "check the ARN and region",
                    )
                }),
                Err(e) if crate::aws::code(&e) == Some("RuleNotFound") => Err(bad(
                    format!("listener rule `{arn}` does not exist"),
                    "check the ARN and region",
                )),
                Err(e) => Err(failed("elasticloadbalancing:DescribeRules", e)),
            };
        }
        ListenerRef::Arn(arn) if arn.contains(":listener/") => arn.clone(),
        ListenerRef::Arn(arn) => {
            return Err(bad(
                format!("`{arn}` is neither a listener ARN nor a listener rule ARN"),
                "a listener (its default rule is used), a rule ARN, or {load_balancer: NAME, port: PORT}",
            ));
        }
        ListenerRef::Port(p) => {
            let lb = match aws
                .elbv2
                .describe_load_balancers()
                .names(&p.load_balancer)
                .send()
                .await
            {
                Ok(o) => o
                    .load_balancers()
                    .first()
                    .and_then(|l| l.load_balancer_arn())
                    .map(str::to_string),
                Err(e) if crate::aws::code(&e) == Some("LoadBalancerNotFound") => None,
                Err(e) => return Err(failed("elasticloadbalancing:DescribeLoadBalancers", e)),
            };
            let Some(lb) = lb else {
                return Err(bad(
                    format!("load balancer `{}` does not exist", p.load_balancer),
                    "check the name and region",
                ));
            };
            let listeners = aws
                .elbv2
                .describe_listeners()
                .load_balancer_arn(&lb)
                .send()
                .await
                .map_err(|e| failed("elasticloadbalancing:DescribeListeners", e))?;
            match listeners
                .listeners()
                .iter()
                .find(|l| l.port() == Some(i32::from(p.port)))
                .and_then(|l| l.listener_arn())
            {
                Some(a) => a.to_string(),
                None => {
                    return Err(bad(
                        format!(
                            "load balancer `{}` has no listener on port {}",
                            p.load_balancer, p.port
                        ),
                        "create the listener first, or check the port",
                    ));
                }
            }
        }
    };
    let rules = match aws
        .elbv2
        .describe_rules()
        .listener_arn(&listener_arn)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if crate::aws::code(&e) == Some("ListenerNotFound") => {
            return Err(bad(
                format!("listener `{listener_arn}` does not exist"),
                "check the ARN and region",
            ));
        }
        Err(e) => return Err(failed("elasticloadbalancing:DescribeRules", e)),
    };
    rules
        .rules()
        .iter()
        .find(|r| r.is_default() == Some(true))
        .cloned()
        .ok_or_else(|| {
            bad(
                format!("listener `{listener_arn}` has no default rule"),
                "name the rule's ARN instead",
            )
        })
}

/// The roles ECS will assume exist (GetRole): the infrastructure role, and each Lambda hook's role (ECS
/// refuses CreateService / UpdateService otherwise, after the task definition was registered). Without
/// permission to read them, a warning: ECS checks them itself when the service changes.
async fn role(
    plan: &NativePlan,
    aws: &Clients,
    passed: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let mut roles = vec![(
        "ecs.infrastructure_role".to_string(),
        plan.ecs.infrastructure_role.clone(),
        "infrastructure role",
        "create it with the managed policy AmazonECSInfrastructureRolePolicyForLoadBalancers and a trust policy for ecs.amazonaws.com",
    )];
    for (i, h) in plan.ecs.hooks.iter().enumerate() {
        if let Some(r) = &h.role {
            roles.push((
                format!("ecs.hooks[{i}].role"),
                r.clone(),
                "hook role",
                "create it with permission to invoke the function (lambda:InvokeFunction) and a trust policy for ecs.amazonaws.com",
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (field, arn, what, hint) in roles {
        let name = arn.rsplit('/').next().unwrap_or(&arn).to_string();
        if !seen.insert(name.clone()) {
            continue;
        }
        match aws.iam.get_role().role_name(&name).send().await {
            Ok(_) => passed.push(format!("{what} {name} exists")),
            Err(e) if crate::aws::code(&e) == Some("NoSuchEntity") => {
                return Err(ConfigError::in_file(
                    &plan.config_path,
                    format!("IAM role `{name}` does not exist"),
                )
                .field(field)
                .hint(hint)
                .into());
            }
            Err(e)
                if matches!(
                    crate::aws::code(&e),
                    Some("AccessDenied" | "AccessDeniedException")
                ) =>
            {
                warnings.push(format!(
                    "could not check {what} {name} (no iam:GetRole permission); ECS checks it when the service changes"
                ));
            }
            Err(e) => return Err(failed("iam:GetRole", e)),
        }
    }
    alarms(plan, aws, passed, warnings).await
}

/// The alarms the deployment watches exist (DescribeAlarms); an alarm ECS cannot find never fires.
pub(crate) async fn alarms(
    plan: &NativePlan,
    aws: &Clients,
    passed: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let Some(alarms) = plan.ecs.alarms.as_ref().filter(|a| a.enabled) else {
        return Ok(());
    };
    let out = match aws
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(alarms.names.clone()))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e)
            if matches!(
                crate::aws::code(&e),
                Some("AccessDenied" | "AccessDeniedException")
            ) =>
        {
            warnings.push(
                "could not check the alarms (no cloudwatch:DescribeAlarms permission)".into(),
            );
            return Ok(());
        }
        Err(e) => return Err(failed("cloudwatch:DescribeAlarms", e)),
    };
    let found: Vec<&str> = out
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .chain(out.composite_alarms().iter().filter_map(|a| a.alarm_name()))
        .collect();
    if let Some(missing) = alarms.names.iter().find(|n| !found.contains(&n.as_str())) {
        return Err(ConfigError::in_file(
            &plan.config_path,
            format!(
                "CloudWatch alarm `{missing}` does not exist in {}",
                aws.region
            ),
        )
        .field("ecs.alarms.names")
        .hint("create it first, or check the name and region")
        .into());
    }
    passed.push(format!("alarms {} exist", alarms.names.join(", ")));
    Ok(())
}

async fn no_deployment_running(plan: &NativePlan, aws: &Clients) -> Result<(), Error> {
    match super::prepare::active_deployment(aws, plan).await? {
        Some(active) => Err(super::prepare::active_refusal(plan, &active)),
        None => Ok(()),
    }
}

async fn task_definition(aws: &Clients, which: &str, flag: &str) -> Result<String, Error> {
    match aws
        .ecs
        .describe_task_definition()
        .task_definition(which)
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
                crate::aws::code(&e),
                Some("ClientException" | "InvalidParameterException")
            ) =>
        {
            Err(
                ConfigError::new(flag, format!("task definition `{which}` does not exist"))
                    .hint("register it first (deploy without --skip-task-definition / --revision)")
                    .into(),
            )
        }
        Err(e) => Err(failed("ecs:DescribeTaskDefinition", e)),
    }
}

/// Whether the service's task definition was registered from exactly the file's content (its
/// `kirikae:spec-sha256` tag), or has that content all the same (`preflight::same_content`: e.g. the
/// file `kirikae init` wrote from it).
async fn same_spec(plan: &NativePlan, aws: &Clients, arn: &str) -> Result<bool, Error> {
    let out = aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeTaskDefinition", e))?;
    let hash = plan.task_definition.spec_hash();
    Ok(out
        .tags()
        .iter()
        .any(|t| t.key() == Some(SPEC_TAG) && t.value() == Some(hash.as_str()))
        || crate::preflight::same_content::same(&plan.task_definition.json, &out))
}
