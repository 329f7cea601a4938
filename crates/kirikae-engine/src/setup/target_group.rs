//! The second target group, copied from the first: protocol and version, port, VPC, target type, IP
//! address type, the whole health check, and every attribute whose value differs from a new group's
//! (deregistration delay, slow start, stickiness, algorithm, …). Tagged as created by kirikae.

use aws_sdk_elasticloadbalancingv2::types::{TargetGroup, TargetGroupAttribute};

use super::created_by_elb;
use crate::aws::failed;
use crate::connection::Clients;
use crate::error::Error;

/// What the copy is made from.
#[derive(Debug, Clone)]
pub struct Copy {
    pub name: String,
    pub source: TargetGroup,
    /// The source's attributes, `(key, value)`.
    pub attributes: Vec<(String, String)>,
}

/// Reads the source's attributes (read-only).
pub async fn plan_copy(aws: &Clients, name: &str, source: TargetGroup) -> Result<Copy, Error> {
    let arn = source.target_group_arn().unwrap_or_default();
    let attributes = aws
        .elbv2
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeTargetGroupAttributes", e))?
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect();
    Ok(Copy {
        name: name.to_string(),
        source,
        attributes,
    })
}

impl Copy {
    /// One line: what the copy has.
    pub fn describe(&self) -> String {
        let s = &self.source;
        let attr = |k: &str| {
            self.attributes
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let mut parts = vec![format!(
            "{}:{}",
            s.protocol().map(|p| p.as_str()).unwrap_or("?"),
            s.port().map_or("?".into(), |p| p.to_string())
        )];
        if let Some(vpc) = s.vpc_id() {
            parts.push(format!("VPC {vpc}"));
        }
        if let Some(t) = s.target_type() {
            parts.push(format!("target type {}", t.as_str()));
        }
        parts.push(format!(
            "health check {} {} every {} s",
            s.health_check_protocol()
                .map(|p| p.as_str())
                .unwrap_or("HTTP"),
            s.health_check_path().unwrap_or("/"),
            s.health_check_interval_seconds().unwrap_or(30)
        ));
        if let Some(d) = attr("deregistration_delay.timeout_seconds") {
            parts.push(format!("deregistration delay {d} s"));
        }
        format!(
            "a copy of {} ({})",
            s.target_group_name().unwrap_or_default(),
            parts.join(", ")
        )
    }

    /// Creates the group, then sets the attributes that differ from the new group's. Returns its ARN.
    pub async fn create(&self, aws: &Clients) -> Result<String, Error> {
        let s = &self.source;
        let out = aws
            .elbv2
            .create_target_group()
            .name(&self.name)
            .set_protocol(s.protocol().cloned())
            .set_protocol_version(s.protocol_version().map(str::to_string))
            .set_port(s.port())
            .set_vpc_id(s.vpc_id().map(str::to_string))
            .set_target_type(s.target_type().cloned())
            .set_ip_address_type(s.ip_address_type().cloned())
            .set_health_check_protocol(s.health_check_protocol().cloned())
            .set_health_check_port(s.health_check_port().map(str::to_string))
            .set_health_check_enabled(s.health_check_enabled())
            .set_health_check_path(s.health_check_path().map(str::to_string))
            .set_health_check_interval_seconds(s.health_check_interval_seconds())
            .set_health_check_timeout_seconds(s.health_check_timeout_seconds())
            .set_healthy_threshold_count(s.healthy_threshold_count())
            .set_unhealthy_threshold_count(s.unhealthy_threshold_count())
            .set_matcher(s.matcher().cloned())
            .tags(created_by_elb())
            .send()
            .await
            .map_err(|e| failed("elasticloadbalancing:CreateTargetGroup", e))?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_string();
        let now: Vec<(String, String)> = aws
            .elbv2
            .describe_target_group_attributes()
            .target_group_arn(&arn)
            .send()
            .await
            .map_err(|e| failed("elasticloadbalancing:DescribeTargetGroupAttributes", e))?
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
            .collect();
        let differing: Vec<TargetGroupAttribute> = self
            .attributes
            .iter()
            .filter(|(k, v)| now.iter().any(|(nk, nv)| nk == k && nv != v))
            .map(|(k, v)| TargetGroupAttribute::builder().key(k).value(v).build())
            .collect();
        if !differing.is_empty() {
            aws.elbv2
                .modify_target_group_attributes()
                .target_group_arn(&arn)
                .set_attributes(Some(differing))
                .send()
                .await
                .map_err(|e| failed("elasticloadbalancing:ModifyTargetGroupAttributes", e))?;
        }
        Ok(arn)
    }
}
