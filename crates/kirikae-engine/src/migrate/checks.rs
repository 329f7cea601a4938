//! What a migration needs AWS to have, read-only: the service (its controller, one task set serving
//! and which group it serves from, no Service Connect), the CodeDeploy group with no deployment going
//! on, the group's traffic routing, and each listener (an Application Load Balancer's, forwarding only
//! to the pair with traffic on the serving group, no other rule forwarding to the pair). Every refusal
//! here happens before any change.

use aws_sdk_codedeploy::types::TrafficRoutingType;
use aws_sdk_ecs::types::Service;
use aws_sdk_elasticloadbalancingv2::types::ProtocolEnum;

use super::mapping::Routing;
use crate::aws::{code, failed};
use crate::config::ListenerRef;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::init::network;
use crate::setup::listener::{self, Found};

/// The service as DescribeServices answers it (`None` when it does not exist or is not ACTIVE).
pub async fn service(aws: &Clients, cluster: &str, name: &str) -> Result<Option<Service>, Error> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeServices", e))?;
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))
        .cloned())
}

/// The target group a CODE_DEPLOY service serves from: its one PRIMARY task set's. Two task sets mean
/// a CodeDeploy deployment is going on (or ended without cleaning up): AWS's migration needs none.
pub fn serving_group(service: &Service) -> Result<String, String> {
    let sets = service.task_sets();
    let primary: Vec<_> = sets
        .iter()
        .filter(|t| t.status() == Some("PRIMARY"))
        .collect();
    let draining: Vec<_> = sets
        .iter()
        .filter(|t| t.status() == Some("DRAINING"))
        .collect();
    if primary.len() == 1 && sets.len() == 1 + draining.len() && !draining.is_empty() {
        return Err(format!(
            "the last deployment's original task set {} is still draining (deleted, its tasks deregistering); AWS's migration needs the service with one task set",
            draining[0].id().unwrap_or("?")
        ));
    }
    if sets.len() != 1 || primary.len() != 1 {
        return Err(format!(
            "the service has {} task set(s) ({}); a CodeDeploy deployment is going on, and AWS's migration needs the service with one task set serving",
            sets.len(),
            sets.iter()
                .map(|t| format!("{} {}", t.id().unwrap_or("?"), t.status().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    primary[0]
        .load_balancers()
        .first()
        .and_then(|l| l.target_group_arn())
        .map(str::to_string)
        .ok_or_else(|| "the service's task set is behind no target group".to_string())
}

/// Whether the service uses Service Connect (ECS's own traffic shifting for it is not what this
/// migration sets up; and kirikae's `ecs:` block has no Service Connect settings).
pub fn uses_service_connect(service: &Service) -> bool {
    service.deployments().iter().any(|d| {
        d.service_connect_configuration()
            .is_some_and(|c| c.enabled())
    })
}

/// The CodeDeploy group as far as a migration cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// The application or the group does not exist (nothing deploys with it; nothing to delete).
    Missing,
    Idle,
    /// A deployment that has not ended.
    Deploying(String),
}

pub async fn group(aws: &Clients, application: &str, group: &str) -> Result<Group, Error> {
    match aws
        .codedeploy
        .list_deployments()
        .application_name(application)
        .deployment_group_name(group)
        .set_include_only_statuses(Some(crate::operate::active_statuses()))
        .send()
        .await
    {
        Ok(o) => Ok(o
            .deployments()
            .first()
            .map_or(Group::Idle, |d| Group::Deploying(d.clone()))),
        Err(e)
            if matches!(
                code(&e),
                Some("ApplicationDoesNotExistException" | "DeploymentGroupDoesNotExistException")
            ) =>
        {
            Ok(Group::Missing)
        }
        Err(e) => Err(failed("codedeploy:ListDeployments", e)),
    }
}

/// How the deployment config moves traffic (GetDeploymentConfig: predefined and custom ones alike).
pub async fn routing(aws: &Clients, cfg: &std::path::Path, name: &str) -> Result<Routing, Error> {
    let out = match aws
        .codedeploy
        .get_deployment_config()
        .deployment_config_name(name)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if code(&e) == Some("DeploymentConfigDoesNotExistException") => {
            return Err(ConfigError::in_file(
                cfg,
                format!("deployment config `{name}` does not exist"),
            )
            .field("codedeploy.deployment_config")
            .into());
        }
        Err(e) => return Err(failed("codedeploy:GetDeploymentConfig", e)),
    };
    let r = out
        .deployment_config_info()
        .and_then(|i| i.traffic_routing_config());
    Ok(match r.and_then(|r| r.r#type()) {
        Some(TrafficRoutingType::TimeBasedLinear) => {
            let l = r.and_then(|r| r.time_based_linear());
            Routing::Linear {
                percent: l.map_or(0, |l| l.linear_percentage()),
                minutes: l.map_or(0, |l| l.linear_interval()),
            }
        }
        Some(TrafficRoutingType::TimeBasedCanary) => {
            let c = r.and_then(|r| r.time_based_canary());
            Routing::Canary {
                percent: c.map_or(0, |c| c.canary_percentage()),
                minutes: c.map_or(0, |c| c.canary_interval()),
            }
        }
        _ => Routing::AllAtOnce,
    })
}

/// A listener as the migration finds it.
#[derive(Debug, Clone)]
pub struct ListenerState {
    pub arn: String,
    /// Its default rule's ARN (what `advancedConfiguration` names).
    pub default_rule: String,
    /// `(group ARN, weight)` of its default action.
    pub forwards: Vec<(String, Option<i32>)>,
    /// Already the weighted form ECS requires: both groups, 1 on the serving one, 0 on the other.
    pub weighted: bool,
}

/// Finds a configured listener and checks it is one ECS-native Blue/Green can take over: an
/// Application Load Balancer's, whose default action forwards only to the pair, production traffic (if
/// any weight) on the serving group, and whose other rules do not forward to the pair (ECS shifts the
/// one rule it is given).
pub async fn listener(
    aws: &Clients,
    cfg: &std::path::Path,
    field: &str,
    r: &ListenerRef,
    pair: &[String; 2],
    serving: &str,
    production: bool,
) -> Result<ListenerState, Error> {
    let bad = |message: String, hint: &str| -> Error {
        ConfigError::in_file(cfg, message)
            .field(field.to_string())
            .hint(hint.to_string())
            .into()
    };
    let l = match listener::find(aws, r).await? {
        Found::Exists(l) => l,
        Found::NoLoadBalancer(lb) => {
            return Err(bad(
                format!("load balancer `{lb}` does not exist"),
                "check the name and region",
            ));
        }
        Found::Missing { port, .. } => {
            return Err(bad(
                format!("{r}: no listener on port {port}"),
                "check the port",
            ));
        }
        Found::NoSuchArn(a) => {
            return Err(bad(
                format!("listener `{a}` does not exist"),
                "check the ARN and region",
            ));
        }
        Found::Rule(_) => {
            return Err(bad(
                format!("{r} is a listener rule; a CodeDeploy group names listeners"),
                "name the listener",
            ));
        }
    };
    if !matches!(l.protocol(), Some(ProtocolEnum::Http | ProtocolEnum::Https)) {
        return Err(bad(
            format!(
                "{r} is a {} listener: not implemented: kirikae migrate moves services behind an Application Load Balancer (HTTP/HTTPS listeners)",
                l.protocol().map_or("?", |p| p.as_str())
            ),
            "migrate a Network Load Balancer's service by hand (AWS's migration guide)",
        ));
    }
    let arn = l.listener_arn().unwrap_or_default().to_string();
    let forwards = network::forwards(&l);
    if forwards.is_empty() || forwards.iter().any(|(a, _)| !pair.contains(a)) {
        return Err(bad(
            format!("{r}'s default action does not forward only to the pair ({forwards:?})"),
            "ECS-native Blue/Green shifts traffic between the two groups of the pair; make the listener forward to them only",
        ));
    }
    let carries = |a: &str| {
        forwards
            .iter()
            .any(|(f, w)| f == a && w.is_none_or(|w| w > 0))
    };
    let other = pair
        .iter()
        .find(|a| a.as_str() != serving)
        .cloned()
        .unwrap_or_default();
    if production && (!carries(serving) || carries(&other)) {
        return Err(bad(
            format!(
                "{r} does not send production traffic to the group the service's task set serves from ({serving}) alone"
            ),
            "the listener and the service disagree: wait for CodeDeploy to finish, or fix the listener, then migrate",
        ));
    }
    let weighted = forwards.len() == 2
        && forwards.contains(&(serving.to_string(), Some(1)))
        && forwards.contains(&(other.clone(), Some(0)));
    let rules = aws
        .elbv2
        .describe_rules()
        .listener_arn(&arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeRules", e))?;
    let mut default_rule = None;
    for rule in rules.rules() {
        if rule.is_default() == Some(true) {
            default_rule = rule.rule_arn().map(str::to_string);
            continue;
        }
        if network::forwards_of(rule.actions())
            .iter()
            .any(|(a, _)| pair.contains(a))
        {
            return Err(bad(
                format!(
                    "{r} has rule {} forwarding to the pair besides its default action; ECS-native Blue/Green shifts the one rule it is given",
                    rule.rule_arn().unwrap_or("?")
                ),
                "not implemented: migrating a listener with several rules to the pair; move those rules by hand (AWS's migration guide), or remove them",
            ));
        }
    }
    let Some(default_rule) = default_rule else {
        return Err(bad(
            format!("{r} has no default rule"),
            "check the listener",
        ));
    };
    Ok(ListenerState {
        arn,
        default_rule,
        forwards,
        weighted,
    })
}
