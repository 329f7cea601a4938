//! The role Blue/Green needs — CodeDeploy's service role (trusting `codedeploy.amazonaws.com`, with
//! the AWS managed policy `AWSCodeDeployRoleForECS`) or, for ECS-native Blue/Green, the infrastructure
//! role (trusting `ecs.amazonaws.com`, with `AmazonECSInfrastructureRolePolicyForLoadBalancers`): found
//! by the name in the config's ARN and checked to trust its service (an existing role is never
//! changed), or created with that trust, the config's path and the managed policy. Tagged as created by
//! kirikae.

use aws_sdk_iam::operation::get_role::GetRoleError;
use serde_json::{Value, json};

use super::CREATED_BY;
use crate::aws::failed;
use crate::connection::Clients;
use crate::error::Error;
use crate::preflight::group_inputs::{role_name, trusts};

/// Which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CodeDeploy,
    EcsInfrastructure,
}

impl Kind {
    /// The service principal that assumes it.
    pub fn principal(self) -> &'static str {
        match self {
            Kind::CodeDeploy => "codedeploy.amazonaws.com",
            Kind::EcsInfrastructure => "ecs.amazonaws.com",
        }
    }

    /// The AWS managed policy it needs (both live at the policy path `/`).
    pub fn managed_policy(self) -> &'static str {
        match self {
            Kind::CodeDeploy => "AWSCodeDeployRoleForECS",
            Kind::EcsInfrastructure => "AmazonECSInfrastructureRolePolicyForLoadBalancers",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Kind::CodeDeploy => {
                "CodeDeploy's service role for ECS Blue/Green deployments (created by kirikae setup)"
            }
            Kind::EcsInfrastructure => {
                "ECS's infrastructure role for load balancers in ECS-native Blue/Green (created by kirikae setup)"
            }
        }
    }
}

/// The role as the config names it.
#[derive(Debug, Clone)]
pub struct RoleRef {
    pub arn: String,
    pub name: String,
    /// `/` or `/service-role/`, …
    pub path: String,
    pub partition: String,
}

impl RoleRef {
    pub fn parse(arn: &str) -> Option<RoleRef> {
        let name = role_name(arn)?.to_string();
        let partition = arn.split(':').nth(1)?.to_string();
        let resource = arn.splitn(6, ':').nth(5)?;
        let inner = resource.strip_prefix("role")?;
        let path = inner.strip_suffix(name.as_str())?.to_string();
        Some(RoleRef {
            arn: arn.to_string(),
            name,
            path: if path.is_empty() { "/".into() } else { path },
            partition,
        })
    }

    pub fn policy_arn(&self, kind: Kind) -> String {
        format!(
            "arn:{}:iam::aws:policy/{}",
            self.partition,
            kind.managed_policy()
        )
    }
}

/// What the role is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// It exists and CodeDeploy may assume it.
    Trusted,
    /// It exists and does not trust CodeDeploy.
    Untrusted,
    Missing,
}

pub async fn state(aws: &Clients, role: &RoleRef, kind: Kind) -> Result<State, Error> {
    match aws.iam.get_role().role_name(&role.name).send().await {
        Ok(o) => {
            let doc = o
                .role()
                .and_then(|r| r.assume_role_policy_document())
                .unwrap_or_default();
            // IAM answers the trust policy URL-encoded.
            let decoded = percent_encoding::percent_decode_str(doc).decode_utf8_lossy();
            let policy: Value = serde_json::from_str(&decoded).unwrap_or(Value::Null);
            Ok(if trusts(&policy, kind.principal()) {
                State::Trusted
            } else {
                State::Untrusted
            })
        }
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetRoleError::NoSuchEntityException(_))
            ) =>
        {
            Ok(State::Missing)
        }
        Err(e) => Err(failed("iam:GetRole", e)),
    }
}

/// Creates the role and attaches the managed policy; returns the new role's ARN.
pub async fn create(aws: &Clients, role: &RoleRef, kind: Kind) -> Result<String, Error> {
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": kind.principal()},
            "Action": "sts:AssumeRole"
        }]
    });
    let (key, value) = CREATED_BY;
    let out = aws
        .iam
        .create_role()
        .role_name(&role.name)
        .path(&role.path)
        .assume_role_policy_document(trust.to_string())
        .description(kind.description())
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .expect("key and value are set"),
        )
        .send()
        .await
        .map_err(|e| failed("iam:CreateRole", e))?;
    aws.iam
        .attach_role_policy()
        .role_name(&role.name)
        .policy_arn(role.policy_arn(kind))
        .send()
        .await
        .map_err(|e| failed("iam:AttachRolePolicy", e))?;
    Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_path_and_partition_come_from_the_arn() {
        let r = RoleRef::parse("arn:aws:iam::123456789012:role/ecsCodeDeployRole").unwrap();
        assert_eq!(
            (r.name.as_str(), r.path.as_str()),
            ("ecsCodeDeployRole", "/")
        );
        assert_eq!(
            r.policy_arn(Kind::CodeDeploy),
            "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
        );
        assert_eq!(
            r.policy_arn(Kind::EcsInfrastructure),
            "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
        );
        let r = RoleRef::parse("arn:aws-cn:iam::123456789012:role/service-role/deployer").unwrap();
        assert_eq!(
            (r.name.as_str(), r.path.as_str()),
            ("deployer", "/service-role/")
        );
        assert_eq!(
            r.policy_arn(Kind::CodeDeploy),
            "arn:aws-cn:iam::aws:policy/AWSCodeDeployRoleForECS"
        );
        assert!(RoleRef::parse("arn:aws:iam::1:user/x").is_none());
    }
}
