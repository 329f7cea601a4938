//! Listeners: finding the configured ones (read-only), and creating the test listener on the configured
//! port, forwarding to the target group that does not serve production, with the production listener's
//! protocol (and, for HTTPS, its certificate and security policy). Tagged as created by kirikae.

use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersError;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersError;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Listener};

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

/// The test listener to create.
#[derive(Debug, Clone)]
pub struct NewListener {
    pub load_balancer_arn: String,
    pub port: i32,
    /// Protocol, certificates and security policy are the production listener's.
    pub like: Box<Listener>,
    /// The target group it forwards to (its name: it may be created by the same run).
    pub forward_to: String,
}

impl NewListener {
    pub fn protocol(&self) -> &str {
        self.like.protocol().map(|p| p.as_str()).unwrap_or("HTTP")
    }

    /// Creates it; returns its ARN.
    pub async fn create(&self, aws: &Clients, target_group_arn: &str) -> Result<String, Error> {
        let l = &self.like;
        let mut call = aws
            .elbv2
            .create_listener()
            .load_balancer_arn(&self.load_balancer_arn)
            .port(self.port)
            .set_protocol(l.protocol().cloned())
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(target_group_arn)
                    .build(),
            )
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
