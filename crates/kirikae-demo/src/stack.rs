//! `demo-stack.json`: what a team has before adopting kirikae (an ECS cluster, an Application Load
//! Balancer with its listeners, two target groups), provisioned through the AWS SDK as their Terraform
//! would. Provisioning is idempotent: what exists is kept (create calls that AWS makes idempotent are
//! simply made again; listeners are looked up by port first).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use kirikae_engine::aws::failed;
use kirikae_engine::config::Templater;
use kirikae_engine::connection::Clients;
use kirikae_engine::error::{ConfigError, Error};
use kirikae_engine::sdk::elbv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, ProtocolEnum, TargetGroupAttribute,
    TargetTypeEnum,
};
use serde::Deserialize;

/// The file, with the member names of the ECS (camelCase) and ELBv2 (PascalCase) APIs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StackFile {
    /// What the file is for (free text).
    #[serde(default)]
    pub description: String,
    pub cluster: Cluster,
    pub target_groups: Vec<TargetGroup>,
    pub load_balancer: LoadBalancer,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    pub cluster_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TargetGroup {
    pub name: String,
    pub protocol: String,
    pub port: i32,
    pub target_type: String,
    pub vpc_id: String,
    pub health_check_path: Option<String>,
    pub health_check_interval_seconds: Option<i32>,
    pub health_check_timeout_seconds: Option<i32>,
    pub healthy_threshold_count: Option<i32>,
    pub unhealthy_threshold_count: Option<i32>,
    /// Target group attributes (`ModifyTargetGroupAttributes`), e.g. the deregistration delay.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct LoadBalancer {
    pub name: String,
    pub scheme: Option<String>,
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Listener {
    pub port: i32,
    pub protocol: String,
    /// The name of the target group the listener forwards to until the first deployment.
    pub default_target_group: String,
}

/// Reads and templates the file.
pub fn load(path: &Path, templater: &Templater) -> Result<StackFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::in_file(path, format!("cannot read: {e}")))?;
    let text = templater.render(path, &text)?;
    let stack: StackFile = serde_json::from_str(&text)
        .map_err(|e| ConfigError::in_file(path, format!("is not a demo stack: {e}")))?;
    for l in &stack.listeners {
        if !stack
            .target_groups
            .iter()
            .any(|t| t.name == l.default_target_group)
        {
            return Err(ConfigError::in_file(
                path,
                format!(
                    "listener {} forwards to `{}`, which is not in targetGroups",
                    l.port, l.default_target_group
                ),
            )
            .field("listeners"));
        }
    }
    Ok(stack)
}

/// What exists once provisioned.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub cluster: String,
    pub load_balancer: String,
    pub dns_name: String,
    /// `(port, ARN)`.
    pub listeners: Vec<(i32, String)>,
    pub target_groups: Vec<String>,
}

impl fmt::Display for Provisioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports: Vec<String> = self
            .listeners
            .iter()
            .map(|(p, _)| format!(":{p}"))
            .collect();
        write!(
            f,
            "cluster {}, load balancer {} at {} (listeners {}), target groups {}",
            self.cluster,
            self.load_balancer,
            self.dns_name,
            ports.join(" "),
            self.target_groups.join(", ")
        )
    }
}

/// Creates what is missing, keeps what exists.
pub async fn provision(aws: &Clients, stack: &StackFile) -> Result<Provisioned, Error> {
    aws.ecs
        .create_cluster()
        .cluster_name(&stack.cluster.cluster_name)
        .send()
        .await
        .map_err(|e| failed("ecs:CreateCluster", e))?;
    let mut target_groups = Vec::new();
    for tg in &stack.target_groups {
        target_groups.push((tg.name.clone(), target_group(aws, tg).await?));
    }
    let lb = &stack.load_balancer;
    let out = aws
        .elbv2
        .create_load_balancer()
        .name(&lb.name)
        .set_scheme(lb.scheme.as_deref().map(LoadBalancerSchemeEnum::from))
        .set_subnets(Some(lb.subnets.clone()))
        .set_security_groups((!lb.security_groups.is_empty()).then(|| lb.security_groups.clone()))
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:CreateLoadBalancer", e))?;
    let lb_arn = first(out.load_balancers(), |l| l.load_balancer_arn());
    let dns_name = first(out.load_balancers(), |l| l.dns_name());
    let existing = aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeListeners", e))?;
    let mut listeners = Vec::new();
    for l in &stack.listeners {
        let found = existing
            .listeners()
            .iter()
            .find(|e| e.port() == Some(l.port))
            .and_then(|e| e.listener_arn());
        let arn = match found {
            Some(arn) => arn.to_string(),
            None => {
                let tg_arn = target_groups
                    .iter()
                    .find(|(n, _)| *n == l.default_target_group)
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default();
                create_listener(aws, &lb_arn, l, &tg_arn).await?
            }
        };
        listeners.push((l.port, arn));
    }
    Ok(Provisioned {
        cluster: stack.cluster.cluster_name.clone(),
        load_balancer: lb.name.clone(),
        dns_name,
        listeners,
        target_groups: target_groups.into_iter().map(|(n, _)| n).collect(),
    })
}

async fn target_group(aws: &Clients, tg: &TargetGroup) -> Result<String, Error> {
    let out = aws
        .elbv2
        .create_target_group()
        .name(&tg.name)
        .protocol(ProtocolEnum::from(tg.protocol.as_str()))
        .port(tg.port)
        .target_type(TargetTypeEnum::from(tg.target_type.as_str()))
        .vpc_id(&tg.vpc_id)
        .set_health_check_path(tg.health_check_path.clone())
        .set_health_check_interval_seconds(tg.health_check_interval_seconds)
        .set_health_check_timeout_seconds(tg.health_check_timeout_seconds)
        .set_healthy_threshold_count(tg.healthy_threshold_count)
        .set_unhealthy_threshold_count(tg.unhealthy_threshold_count)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:CreateTargetGroup", e))?;
    let arn = first(out.target_groups(), |t| t.target_group_arn());
    if !tg.attributes.is_empty() {
        let attributes = tg
            .attributes
            .iter()
            .map(|(k, v)| TargetGroupAttribute::builder().key(k).value(v).build())
            .collect();
        aws.elbv2
            .modify_target_group_attributes()
            .target_group_arn(&arn)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| failed("elasticloadbalancing:ModifyTargetGroupAttributes", e))?;
    }
    Ok(arn)
}

async fn create_listener(
    aws: &Clients,
    lb_arn: &str,
    l: &Listener,
    tg_arn: &str,
) -> Result<String, Error> {
    let out = aws
        .elbv2
        .create_listener()
        .load_balancer_arn(lb_arn)
        .protocol(ProtocolEnum::from(l.protocol.as_str()))
        .port(l.port)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg_arn)
                .build(),
        )
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:CreateListener", e))?;
    Ok(first(out.listeners(), |l| l.listener_arn()))
}

/// A field of the first item of an answer's list (create calls answer a list of one), or "".
fn first<T>(items: &[T], field: impl Fn(&T) -> Option<&str>) -> String {
    items
        .first()
        .and_then(field)
        .unwrap_or_default()
        .to_string()
}

/// Where a listener answers.
#[derive(Debug, Clone)]
pub struct Address {
    pub socket: SocketAddr,
    /// The `Host` header (the load balancer's DNS name and port).
    pub host: String,
    pub url: String,
}

/// A listener's address: its load balancer's DNS name and its port, resolved.
pub async fn listener_address(aws: &Clients, listener_arn: &str) -> Result<Address, Error> {
    let out = aws
        .elbv2
        .describe_listeners()
        .listener_arns(listener_arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeListeners", e))?;
    let listener = out.listeners().first();
    let port = listener.and_then(|l| l.port()).unwrap_or(80);
    let lb_arn = listener
        .and_then(|l| l.load_balancer_arn())
        .unwrap_or_default();
    let lbs = aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(lb_arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeLoadBalancers", e))?;
    let dns = first(lbs.load_balancers(), |l| l.dns_name());
    let host = format!("{dns}:{port}");
    let socket = tokio::net::lookup_host(host.as_str())
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::Conflict {
            message: format!("the production listener's address {host} does not resolve"),
            hint: None,
        })?;
    Ok(Address {
        url: format!("http://{host}/"),
        socket,
        host,
    })
}

/// For ECS-native Blue/Green: each listener's default rule forwards to both target groups, weight 1 on
/// the one it forwarded to and 0 on the other — how AWS's guide sets a service up for ECS to move the
/// weights (`kirikae demo --controller ecs`).
pub async fn forward_to_both(aws: &Clients, provisioned: &Provisioned) -> Result<(), Error> {
    use kirikae_engine::sdk::elbv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
    };
    let groups = aws
        .elbv2
        .describe_target_groups()
        .set_names(Some(provisioned.target_groups.clone()))
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeTargetGroups", e))?;
    let arn_of = |name: &str| {
        groups
            .target_groups()
            .iter()
            .find(|t| t.target_group_name() == Some(name))
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_string()
    };
    let mut config = ForwardActionConfig::builder();
    for (i, name) in provisioned.target_groups.iter().enumerate() {
        config = config.target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(arn_of(name))
                .weight(if i == 0 { 1 } else { 0 })
                .build(),
        );
    }
    let action = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(config.build())
        .build();
    for (_, listener) in &provisioned.listeners {
        aws.elbv2
            .modify_listener()
            .listener_arn(listener)
            .default_actions(action.clone())
            .send()
            .await
            .map_err(|e| failed("elasticloadbalancing:ModifyListener", e))?;
    }
    Ok(())
}
