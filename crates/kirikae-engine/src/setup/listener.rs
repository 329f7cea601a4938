//! Listeners: finding the configured ones (read-only); creating the test listener on the configured
//! port with the production listener's protocol (and, for HTTPS, its certificate and security policy),
//! forwarding to the target group that does not serve production (CodeDeploy) or to both, weights 1 on
//! the serving group and 0 on the other (ECS-native); rewriting the production listener's default action
//! to that weighted form, which ECS-native Blue/Green requires and which sends traffic exactly where it
//! went. Created listeners are tagged as created by kirikae.

use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersError;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersError;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, Listener, TargetGroupTuple,
};

use super::created_by_elb;
use crate::aws::failed;
use crate::config::ListenerRef;
use crate::connection::Clients;
use crate::error::Error;
use crate::init::network;

/// A configured listener as found.
#[derive(Debug, Clone)]
pub enum Found {
    Exists(Box<Listener>),
    /// A listener rule's ARN (ECS-native names rules): its forward actions.
    Rule(Vec<(String, Option<i32>)>),
    /// The load balancer exists and has no listener on the port.
    Missing {
        load_balancer_arn: String,
        port: i32,
    },
    /// The load balancer does not exist.
    NoLoadBalancer(String),
    /// An ARN that names no listener.
    NoSuchArn(String),
}

pub async fn find(aws: &Clients, r: &ListenerRef) -> Result<Found, Error> {
    match r {
        ListenerRef::Arn(arn) if arn.contains(":listener-rule/") => {
            match aws.elbv2.describe_rules().rule_arns(arn).send().await {
                Ok(o) => Ok(o
                    .rules()
                    .first()
                    .map(|r| Found::Rule(network::forwards_of(r.actions())))
                    .unwrap_or_else(|| Found::NoSuchArn(arn.clone()))),
                Err(e) if crate::aws::code(&e) == Some("RuleNotFound") => {
                    Ok(Found::NoSuchArn(arn.clone()))
                }
                Err(e) => Err(failed("elasticloadbalancing:DescribeRules", e)),
            }
        }
        ListenerRef::Arn(arn) => {
            match aws
                .elbv2
                .describe_listeners()
                .listener_arns(arn)
                .send()
                .await
            {
                Ok(o) => Ok(o
                    .listeners()
                    .first()
                    .map(|l| Found::Exists(Box::new(l.clone())))
                    .unwrap_or_else(|| Found::NoSuchArn(arn.clone()))),
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(DescribeListenersError::ListenerNotFoundException(_))
                    ) =>
                {
                    Ok(Found::NoSuchArn(arn.clone()))
                }
                Err(e) => Err(failed("elasticloadbalancing:DescribeListeners", e)),
            }
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
                return Ok(Found::NoLoadBalancer(p.load_balancer.clone()));
            };
            let port = i32::from(p.port);
            Ok(network::listeners(aws, &lb)
                .await?
                .into_iter()
                .find(|l| l.port() == Some(port))
                .map(|l| Found::Exists(Box::new(l)))
                .unwrap_or(Found::Missing {
                    load_balancer_arn: lb,
                    port,
                }))
        }
    }
}

/// Where a listener's default action sends traffic. Groups are named: one may be created by the same run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// All of it to one group.
    To(String),
    /// To both groups, weight 1 on `serving` and 0 on `other`.
    Weighted { serving: String, other: String },
}

impl Forward {
    pub fn describe(&self) -> String {
        match self {
            Forward::To(g) => format!("forwarding to {g}"),
            Forward::Weighted { serving, other } => {
                format!("forwarding to {serving} (weight 1) and {other} (weight 0)")
            }
        }
    }

    /// The action, with the groups' ARNs looked up by name in `arns`.
    fn action(&self, arns: &dyn Fn(&str) -> String) -> Action {
        match self {
            Forward::To(g) => Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(arns(g))
                .build(),
            Forward::Weighted { serving, other } => {
                let tuple = |name: &str, weight: i32| {
                    TargetGroupTuple::builder()
                        .target_group_arn(arns(name))
                        .weight(weight)
                        .build()
                };
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(tuple(serving, 1))
                            .target_groups(tuple(other, 0))
                            .build(),
                    )
                    .build()
            }
        }
    }
}

/// The test listener to create.
#[derive(Debug, Clone)]
pub struct NewListener {
    pub load_balancer_arn: String,
    pub port: i32,
    /// Protocol, certificates and security policy are the production listener's.
    pub like: Box<Listener>,
    pub forward: Forward,
}

impl NewListener {
    pub fn protocol(&self) -> &str {
        self.like.protocol().map(|p| p.as_str()).unwrap_or("HTTP")
    }

    /// Creates it; returns its ARN.
    pub async fn create(
        &self,
        aws: &Clients,
        arns: &dyn Fn(&str) -> String,
    ) -> Result<String, Error> {
        let l = &self.like;
        let mut call = aws
            .elbv2
            .create_listener()
            .load_balancer_arn(&self.load_balancer_arn)
            .port(self.port)
            .set_protocol(l.protocol().cloned())
            .default_actions(self.forward.action(arns))
            .tags(created_by_elb());
        if !l.certificates().is_empty() {
            call = call
                .set_certificates(Some(l.certificates().to_vec()))
                .set_ssl_policy(l.ssl_policy().map(str::to_string));
        }
        let out = call
            .send()
            .await
            .map_err(|e| failed("elasticloadbalancing:CreateListener", e))?;
        Ok(out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .unwrap_or_default()
            .to_string())
    }
}

/// The production listener's default action, rewritten to the weighted form.
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub listener_arn: String,
    pub forward: Forward,
}

impl Rewrite {
    pub async fn apply(&self, aws: &Clients, arns: &dyn Fn(&str) -> String) -> Result<(), Error> {
        aws.elbv2
            .modify_listener()
            .listener_arn(&self.listener_arn)
            .default_actions(self.forward.action(arns))
            .send()
            .await
            .map_err(|e| failed("elasticloadbalancing:ModifyListener", e))?;
        Ok(())
    }
}
