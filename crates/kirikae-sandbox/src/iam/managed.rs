//! The AWS managed policies a role can have attached in the sandbox: those an ECS Blue/Green setup uses,
//! plus a few common broad ones. Their ARNs are AWS's, path included (`AWSCodeDeployRoleForECS` and
//! `AmazonECSInfrastructureRolePolicyForLoadBalancers` live at `/`, `AmazonECSTaskExecutionRolePolicy` at
//! `/service-role/`), so an ARN with the wrong path is refused with `NoSuchEntity`, as AWS refuses it.
//! Their permissions are never evaluated.

const PREFIX: &str = "arn:aws:iam::aws:policy";

/// Path and name of each known AWS managed policy.
const KNOWN: &[&str] = &[
    // CodeDeploy
    "/AWSCodeDeployRoleForECS",
    "/AWSCodeDeployRoleForECSLimited",
    "/service-role/AWSCodeDeployRole",
    "/service-role/AWSCodeDeployRoleForLambda",
    "/service-role/AWSCodeDeployRoleForLambdaLimited",
    "/AWSCodeDeployFullAccess",
    "/AWSCodeDeployReadOnlyAccess",
    "/AWSCodeDeployDeployerAccess",
    // ECS
    "/service-role/AmazonECSTaskExecutionRolePolicy",
    "/AmazonECSInfrastructureRolePolicyForLoadBalancers",
    "/service-role/AmazonEC2ContainerServiceRole",
    "/service-role/AmazonEC2ContainerServiceforEC2Role",
    "/AmazonECS_FullAccess",
    "/AmazonEC2ContainerRegistryReadOnly",
    // Load balancing, CloudWatch, Lambda (AppSpec hooks)
    "/ElasticLoadBalancingFullAccess",
    "/ElasticLoadBalancingReadOnly",
    "/CloudWatchReadOnlyAccess",
    "/CloudWatchLogsFullAccess",
    "/service-role/AWSLambdaBasicExecutionRole",
    // Broad ones
    "/AdministratorAccess",
    "/PowerUserAccess",
    "/ReadOnlyAccess",
];

/// Whether `arn` names an AWS managed policy the sandbox knows (the only ones that can be attached).
pub fn exists(arn: &str) -> bool {
    arn.strip_prefix(PREFIX)
        .is_some_and(|rest| KNOWN.contains(&rest))
}

/// Name and path of any policy ARN (`arn:aws:iam::ACCOUNT:policy/PATH/NAME`), known or not.
pub fn name_and_path(arn: &str) -> (String, String) {
    let resource = arn.split_once(":policy").map_or("", |(_, r)| r);
    match resource.rsplit_once('/') {
        Some((path, name)) => (name.to_string(), format!("{path}/")),
        None => (resource.to_string(), "/".to_string()),
    }
}

/// Whether `arn` is shaped like a policy ARN at all (else IAM answers `InvalidInput`).
pub fn is_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[5]
            .strip_prefix("policy/")
            .is_some_and(|r| !r.is_empty() && !r.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_policies_by_their_real_arns_only() {
        assert!(exists("arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"));
        assert!(exists(
            "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECSLimited"
        ));
        assert!(exists(
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
        ));
        assert!(exists(
            "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
        ));
        // The paths people often guess are not where AWS keeps them.
        assert!(!exists(
            "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForECS"
        ));
        assert!(!exists(
            "arn:aws:iam::aws:policy/service-role/AmazonECSInfrastructureRolePolicyForLoadBalancers"
        ));
        assert!(!exists("arn:aws:iam::aws:policy/NoSuchPolicy"));
        assert!(!exists(
            "arn:aws:iam::000000000000:policy/AWSCodeDeployRoleForECS"
        ));
    }

    #[test]
    fn policy_arn_shape() {
        assert!(is_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(is_policy_arn("arn:aws:iam::123456789012:policy/team/mine"));
        assert!(!is_policy_arn("AdministratorAccess"));
        assert!(!is_policy_arn("arn:aws:iam::aws:role/x"));
        assert!(!is_policy_arn("arn:aws:iam::aws:policy/"));
        assert_eq!(
            name_and_path("arn:aws:iam::123456789012:policy/team/mine"),
            ("mine".to_string(), "/team/".to_string())
        );
    }
}
