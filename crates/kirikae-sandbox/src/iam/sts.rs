//! What STS decides when an AWS service assumes a role a customer passed to it (CodeDeploy with a
//! deployment group's service role): the ARN must name a role of the caller's own account that exists,
//! and the role's trust policy must let the service `sts:AssumeRole` it.

use super::{IamState, Role};

/// Why a service cannot assume a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`.
    Malformed,
    /// The role is in another account than the caller's.
    OtherAccount { account: String },
    /// No role with this name (and path) in the account.
    NoSuchRole { name: String },
    /// The role's trust policy does not let the service assume it.
    NotTrusted { name: String },
}

/// The role `role_arn` names, if AWS service `service` (e.g. `codedeploy.amazonaws.com`) acting for
/// the owner of `iam` may assume it.
pub fn assume_role<'a>(
    iam: &'a IamState,
    role_arn: &str,
    service: &str,
) -> Result<&'a Role, Refusal> {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let [arn, partition, "iam", "", account, resource] = parts.as_slice() else {
        return Err(Refusal::Malformed);
    };
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(Refusal::Malformed);
    };
    if *arn != "arn" || !partition.starts_with("aws") || path_and_name.is_empty() {
        return Err(Refusal::Malformed);
    }
    if *account != iam.account() {
        return Err(Refusal::OtherAccount {
            account: account.to_string(),
        });
    }
    let (path, name) = match path_and_name.rsplit_once('/') {
        Some((path, name)) => (format!("/{path}/"), name),
        None => ("/".to_string(), path_and_name),
    };
    let role = iam
        .role(name)
        .filter(|r| r.path == path)
        .ok_or_else(|| Refusal::NoSuchRole {
            name: name.to_string(),
        })?;
    if !role.trust.lets_service_assume(service) {
        return Err(Refusal::NotTrusted {
            name: role.name.clone(),
        });
    }
    Ok(role)
}
