//! ELBv2's errors, with AWS's messages where they are known. Codes are the exception shape names; the
//! codec turns them into the modeled wire codes (`TargetGroupNotFoundException` → `TargetGroupNotFound`).

use crate::protocol::ApiError;

pub fn load_balancers_not_found(which: &[String]) -> ApiError {
    ApiError::new(
        "LoadBalancerNotFoundException",
        format!("Load balancers '[{}]' not found", which.join(", ")),
    )
}

pub fn load_balancer_not_found(arn: &str) -> ApiError {
    load_balancers_not_found(&[arn.to_string()])
}

/// What `DescribeTargetGroups` says when any name or ARN is unknown (the whole call fails).
pub fn target_groups_not_found() -> ApiError {
    ApiError::new(
        "TargetGroupNotFoundException",
        "One or more target groups not found",
    )
}

/// What calls that take one target group ARN (and listener actions) say.
pub fn target_group_not_found(arn: &str) -> ApiError {
    ApiError::new(
        "TargetGroupNotFoundException",
        format!("Target groups '{arn}' not found"),
    )
}

pub fn listeners_not_found() -> ApiError {
    ApiError::new(
        "ListenerNotFoundException",
        "One or more listeners not found",
    )
}

pub fn rules_not_found() -> ApiError {
    ApiError::new("RuleNotFoundException", "One or more rules not found")
}

pub fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationError", message)
}

pub fn invalid_configuration(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidConfigurationRequestException", message)
}

/// Load balancer and target group names: 1-32 alphanumerics or hyphens, no hyphen at either end.
/// `what` is "Load balancer" or "Target group", as AWS's messages start.
pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(validation(format!("{what} name cannot be empty")));
    }
    if name.len() > 32 {
        return Err(validation(format!(
            "{what} name '{name}' cannot be longer than '32' characters"
        )));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(validation(format!(
            "{what} name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(validation(format!(
            "{what} name '{name}' cannot begin or end with '-'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        assert!(check_name("Target group", "web-blue-1").is_ok());
        for bad in ["", "-a", "a-", "a_b", "a.b", &"x".repeat(33)] {
            assert_eq!(
                check_name("Target group", bad).unwrap_err().code,
                "ValidationError",
                "{bad}"
            );
        }
    }
}
