//! The load balancer side, read-only: listeners by name and port instead of ARNs, the listener that
//! serves a target group, and for a service with one target group, the pair and test listener a
//! Blue/Green config needs (proposed, for `kirikae setup` to create).

use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsError;
use aws_sdk_elasticloadbalancingv2::types::{Listener, TargetGroup};

use crate::aws::failed;
use crate::config::{ListenerByPort, ListenerRef};
use crate::connection::Clients;
use crate::error::{ConfigError, Error};

/// `(target group ARN, weight)` of a listener's default forward. AWS describes a plain forward both
/// ways (TargetGroupArn and a ForwardConfig of one group): the ForwardConfig is read when present.
pub fn forwards(l: &Listener) -> Vec<(String, Option<i32>)> {
    forwards_of(l.default_actions())
}

/// `(target group ARN, weight)` of forward actions (a listener's default actions, or a rule's).
pub fn forwards_of(
    actions: &[aws_sdk_elasticloadbalancingv2::types::Action],
) -> Vec<(String, Option<i32>)> {
    actions
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
        .collect()
}

/// Whether the listener sends traffic to `tg` (a forward with no weight, or a weight above 0).
pub fn serves(l: &Listener, tg: &str) -> bool {
    forwards(l)
        .iter()
        .any(|(a, w)| a == tg && w.is_none_or(|w| w > 0))
}

/// A target group by name; `None` when it does not exist.
pub async fn target_group(aws: &Clients, name: &str) -> Result<Option<TargetGroup>, Error> {
    match aws.elbv2.describe_target_groups().names(name).send().await {
        Ok(o) => Ok(o.target_groups().first().cloned()),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(DescribeTargetGroupsError::TargetGroupNotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(failed("elasticloadbalancing:DescribeTargetGroups", e)),
    }
}

async fn target_group_by_arn(aws: &Clients, arn: &str) -> Result<TargetGroup, Error> {
    aws.elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeTargetGroups", e))?
        .target_groups()
        .first()
        .cloned()
        .ok_or_else(|| Error::Conflict {
            message: format!("target group {arn} is gone"),
            hint: None,
        })
}

/// Every listener of a load balancer.
pub async fn listeners(aws: &Clients, lb_arn: &str) -> Result<Vec<Listener>, Error> {
    Ok(aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeListeners", e))?
        .listeners()
        .to_vec())
}

async fn load_balancer_name(aws: &Clients, lb_arn: &str) -> Result<String, Error> {
    Ok(aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(lb_arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeLoadBalancers", e))?
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_name())
        .unwrap_or_default()
        .to_string())
}

/// A listener ARN as `{load_balancer, port}`, as a person names it (the ARN when it cannot be read).
pub async fn by_port(aws: &Clients, listener_arn: &str) -> Result<ListenerRef, Error> {
    let out = aws
        .elbv2
        .describe_listeners()
        .listener_arns(listener_arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeListeners", e))?;
    let Some(l) = out.listeners().first() else {
        return Ok(ListenerRef::Arn(listener_arn.to_string()));
    };
    let (Some(lb), Some(port)) = (l.load_balancer_arn(), l.port()) else {
        return Ok(ListenerRef::Arn(listener_arn.to_string()));
    };
    Ok(ListenerRef::Port(ListenerByPort {
        load_balancer: load_balancer_name(aws, lb).await?,
        port: u16::try_from(port).unwrap_or_default(),
    }))
}

/// The pair and listeners for a service behind one target group.
#[derive(Debug, Clone)]
pub struct Proposed {
    pub target_groups: [String; 2],
    pub production_listener: ListenerRef,
    pub test_listener: ListenerRef,
    /// What does not exist yet (`kirikae setup` creates it).
    pub missing: Vec<String>,
}

/// Reads the service's target group and its load balancer; proposes the second group (`…-green`) and a
/// test listener (an existing one forwarding to either group, else the first free port from 8080).
pub async fn propose(aws: &Clients, tg_arn: &str) -> Result<Proposed, Error> {
    let tg = target_group_by_arn(aws, tg_arn).await?;
    let blue = tg.target_group_name().unwrap_or_default().to_string();
    let Some(lb_arn) = tg.load_balancer_arns().first() else {
        return Err(ConfigError::new(
            "--service",
            format!("the service's target group {blue} is not behind a load balancer"),
        )
        .hint("Blue/Green moves a listener's traffic between two target groups: forward a listener to it first")
        .into());
    };
    let lb = load_balancer_name(aws, lb_arn).await?;
    let all = listeners(aws, lb_arn).await?;
    let Some(prod) = all.iter().find(|l| serves(l, tg_arn)) else {
        return Err(ConfigError::new(
            "--service",
            format!(
                "no listener of load balancer {lb} forwards to the service's target group {blue}"
            ),
        )
        .hint("the production listener's default action must forward to it")
        .into());
    };
    let prod_port = prod.port().unwrap_or_default();
    let green = green_name(&blue);
    let mut missing = Vec::new();
    let green_arn = match target_group(aws, &green).await? {
        Some(g) => g.target_group_arn().map(str::to_string),
        None => {
            missing.push(format!("target group {green} (a copy of {blue})"));
            None
        }
    };
    let pair = |l: &&Listener| {
        forwards(l)
            .iter()
            .any(|(a, _)| a == tg_arn || Some(a.as_str()) == green_arn.as_deref())
    };
    let test_port = match all
        .iter()
        .filter(|l| l.port() != Some(prod_port))
        .find(pair)
        .and_then(|l| l.port())
    {
        Some(p) => p,
        None => {
            let used: Vec<i32> = all.iter().filter_map(|l| l.port()).collect();
            let port = (8080..=8099)
                .chain(9000..=9099)
                .find(|p| !used.contains(p))
                .unwrap_or(8080);
            missing.push(format!("test listener {lb}:{port} (forwarding to {green})"));
            port
        }
    };
    let at = |port: i32| {
        ListenerRef::Port(ListenerByPort {
            load_balancer: lb.clone(),
            port: u16::try_from(port).unwrap_or_default(),
        })
    };
    Ok(Proposed {
        target_groups: [blue, green],
        production_listener: at(prod_port),
        test_listener: at(test_port),
        missing,
    })
}

/// The second group's name: `web-blue` → `web-green`, else `NAME-green` (at most 32 characters, as ELB
/// allows).
pub fn green_name(blue: &str) -> String {
    if let Some(stem) = blue.strip_suffix("-blue") {
        return format!("{stem}-green");
    }
    let stem: String = blue.chars().take(32 - "-green".len()).collect();
    format!("{}-green", stem.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_group_is_named_after_the_first() {
        assert_eq!(green_name("web-blue"), "web-green");
        assert_eq!(green_name("web"), "web-green");
        let long = "a".repeat(32);
        assert_eq!(green_name(&long).len(), 32);
        assert!(green_name(&long).ends_with("-green"));
    }
}
