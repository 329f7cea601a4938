//! AWS IAM, roles only (awsQuery, API version 2010-05-08). IAM is global: its state is kept per account,
//! not per region, and its calls act on the signer's account whatever region they were signed for.
//!
//! What it is for: CodeDeploy checks a deployment group's service role the way AWS does (the role must
//! exist in the caller's account and trust `codedeploy.amazonaws.com`), and clients can create, read and
//! delete the roles they name. Every account starts with the roles AWS's ECS guides tell users to create
//! ([`DEFAULT_ROLES`]), so clients that name them without creating them keep working.
//!
//! What it is not: no users, groups, inline or customer managed policies, and no permission evaluation.
//! The one thing read from a policy is whether a role's trust policy lets a service assume it
//! ([`sts::assume_role`]); attached managed policies are recorded, never evaluated.
//!
//! Module map: [`roles`] (the operations), [`policy`] (trust policy documents: validation as AWS does it,
//! and the assume check), [`managed`] (the AWS managed policies that can be attached), [`sts`] (what
//! another service gets when it assumes a role).

mod managed;
pub mod policy;
mod roles;
pub mod sts;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::protocol::ApiError;

pub use roles::Role;

/// The roles every account starts with: `(name, service the role trusts, AWS managed policy attached)`.
/// The names are the ones AWS's guides use: the CodeDeploy service role for ECS Blue/Green
/// (`ecsCodeDeployRole`), the task execution role (`ecsTaskExecutionRole`), and the infrastructure role
/// ECS's own Blue/Green deployments use to manage load balancers (`ecsInfrastructureRoleForLoadBalancers`).
pub const DEFAULT_ROLES: [(&str, &str, &str); 3] = [
    (
        "ecsCodeDeployRole",
        "codedeploy.amazonaws.com",
        "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS",
    ),
    (
        "ecsTaskExecutionRole",
        "ecs-tasks.amazonaws.com",
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    ),
    (
        "ecsInfrastructureRoleForLoadBalancers",
        "ecs.amazonaws.com",
        "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
    ),
];

/// Said in the default roles' `Description`, so that whoever reads them knows where they came from.
pub const DEFAULT_ROLE_DESCRIPTION: &str = "Created by the kirikae sandbox in every account, as AWS's ECS guides name it; in AWS, create it yourself";

/// One account's IAM.
pub struct IamState {
    account: String,
    /// Roles by lower-cased name: IAM role names are unique regardless of case.
    roles: BTreeMap<String, Role>,
}

impl IamState {
    /// An account's IAM as it starts: the [`DEFAULT_ROLES`], created `now`.
    pub fn new(account: &str, now: f64) -> IamState {
        let mut iam = IamState {
            account: account.to_string(),
            roles: BTreeMap::new(),
        };
        for (name, service, policy) in DEFAULT_ROLES {
            let document = policy::trust_document(service);
            let trust = policy::parse_trust(&document).expect("default trust policies are valid");
            let mut role = Role::new(&iam.account, name, "/", document, trust, now);
            role.description = Some(DEFAULT_ROLE_DESCRIPTION.to_string());
            role.attached.push(policy.to_string());
            iam.roles.insert(name.to_lowercase(), role);
        }
        iam
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The role named `name` (in any case), if it exists.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&name.to_lowercase())
    }
}

pub fn handle(iam: &mut IamState, now: f64, op: &str, input: &Value) -> Result<Value, ApiError> {
    match op {
        "CreateRole" => roles::create(iam, now, input),
        "GetRole" => roles::get(iam, input),
        "ListRoles" => roles::list(iam, input),
        "DeleteRole" => roles::delete(iam, input),
        "UpdateAssumeRolePolicy" => roles::update_assume_role_policy(iam, input),
        "AttachRolePolicy" => roles::attach_policy(iam, input),
        "DetachRolePolicy" => roles::detach_policy(iam, input),
        "ListAttachedRolePolicies" => roles::list_attached_policies(iam, input),
        _ => Err(ApiError::new(
            "InvalidAction",
            format!(
                "iam:{op} is not implemented in the kirikae sandbox (it emulates IAM roles only: CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy, AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies)"
            ),
        )),
    }
}

/// A string member of the (already validated) input.
fn str_of<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

/// IAM's answer to a constraint the model states as a pattern (the codec checks the others).
fn pattern_violation(member: &str, value: &str, pattern: &str) -> ApiError {
    ApiError::new(
        "ValidationError",
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
        ),
    )
}

/// One page of `items` after `Marker` (an opaque offset), and the marker of the next page.
fn page<T>(items: Vec<T>, input: &Value) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match str_of(input, "Marker") {
        None => 0,
        Some(m) => m
            .strip_prefix("kirikae-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::new("InvalidInputException", "Invalid Marker."))?,
    };
    let max = input
        .get("MaxItems")
        .and_then(Value::as_u64)
        .map_or(100, |m| m as usize);
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| format!("kirikae-{end}"));
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}
