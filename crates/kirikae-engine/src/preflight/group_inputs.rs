//! Checks of what the deployment group will name, made before anything changes because CodeDeploy would
//! only refuse them later (after a task definition is registered, or a new service created): the
//! deployment config exists and is an ECS one, the service role exists and trusts CodeDeploy, the alarms
//! exist, and the hook functions can be invoked by the role. A check the caller has no permission for
//! becomes a warning, never a failure: kirikae needs no more than the deploy itself does.

use std::time::Duration;

use aws_sdk_codedeploy::operation::get_deployment_config::GetDeploymentConfigError;
use aws_sdk_codedeploy::types::{ComputePlatform, TrafficRoutingType};
use aws_sdk_iam::operation::get_role::GetRoleError;
use serde_json::Value;

use crate::aws::{code, failed};
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::plan::Plan;

/// The CodeDeploy managed policy for ECS: it lets CodeDeploy invoke only Lambda functions whose names
/// start with this.
const MANAGED_ECS_POLICY: &str = "AWSCodeDeployRoleForECS";
const MANAGED_HOOK_PREFIX: &str = "CodeDeployHook_";

/// Error codes that mean "the caller may not ask this", across the services checked here.
fn is_access_denied(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation")
    )
}

/// What the checks found beyond pass/fail.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// How long the deployment config shifts traffic for (linear and canary configs), when known.
    pub shifting: Option<Duration>,
    /// Things a person should know that do not stop the deploy.
    pub warnings: Vec<String>,
}

/// Runs the checks, saying each that passed in `passed`.
pub async fn check(plan: &Plan, aws: &Clients, passed: &mut Vec<String>) -> Result<Found, Error> {
    let mut found = Found::default();
    let cd = &plan.codedeploy;
    let before = found.warnings.len();
    found.shifting = deployment_config(plan, aws, &mut found.warnings).await?;
    if found.warnings.len() == before {
        passed.push(format!(
            "deployment config {} exists (ECS)",
            cd.deployment_config
        ));
    }
    let before = found.warnings.len();
    service_role(plan, aws, &mut found.warnings).await?;
    if found.warnings.len() == before {
        passed.push(format!(
            "service role {} exists and trusts codedeploy.amazonaws.com",
            role_name(&cd.service_role).unwrap_or(&cd.service_role)
        ));
    }
    let before = found.warnings.len();
    alarms(plan, aws, &mut found.warnings).await?;
    if let Some(a) = cd.alarms.as_ref().filter(|a| !a.names.is_empty())
        && found.warnings.len() == before
    {
        passed.push(format!("alarms {} exist", a.names.join(", ")));
    }
    Ok(found)
}

/// The config exists (predefined or custom) and is for ECS; returns how long it shifts traffic.
async fn deployment_config(
    plan: &Plan,
    aws: &Clients,
    warnings: &mut Vec<String>,
) -> Result<Option<Duration>, Error> {
    let name = &plan.codedeploy.deployment_config;
    let answer = aws
        .memo
        .once(format!("codedeploy:GetDeploymentConfig {name}"), || {
            aws.codedeploy
                .get_deployment_config()
                .deployment_config_name(name)
                .send()
        })
        .await;
    let info = match answer {
        Ok(o) => o.deployment_config_info().cloned(),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetDeploymentConfigError::DeploymentConfigDoesNotExistException(_))
            ) =>
        {
            let known = [
                "CodeDeployDefault.ECSAllAtOnce",
                "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
                "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
                "CodeDeployDefault.ECSCanary10Percent5Minutes",
                "CodeDeployDefault.ECSCanary10Percent15Minutes",
            ];
            let mut err = ConfigError::in_file(
                &plan.config_path,
                format!(
                    "deployment config `{name}` does not exist in {}",
                    aws.region
                ),
            )
            .field("codedeploy.deployment_config");
            err = match crate::suggest::closest(name, known) {
                Some(s) => err.hint(format!("did you mean `{s}`?")),
                None => err.hint(format!(
                    "use a predefined ECS config ({}) or create yours with aws deploy create-deployment-config --compute-platform ECS",
                    known.join(", ")
                )),
            };
            return Err(err.into());
        }
        Err(e) if is_access_denied(code(&e)) => {
            warnings.push(format!(
                "could not check deployment config `{name}` (no codedeploy:GetDeploymentConfig permission)"
            ));
            return Ok(None);
        }
        Err(e) => return Err(failed("codedeploy:GetDeploymentConfig", e)),
    };
    let Some(info) = info else { return Ok(None) };
    if let Some(p) = info.compute_platform()
        && p != &ComputePlatform::Ecs
    {
        return Err(ConfigError::in_file(
            &plan.config_path,
            format!(
                "deployment config `{name}` is for {}, not ECS",
                p.as_str()
            ),
        )
        .field("codedeploy.deployment_config")
        .hint("ECS deployment groups take ECS configs: CodeDeployDefault.ECS… or one created with --compute-platform ECS")
        .into());
    }
    Ok(info.traffic_routing_config().map(|r| {
        let minutes = match r.r#type() {
            Some(TrafficRoutingType::TimeBasedCanary) => r
                .time_based_canary()
                .map_or(0, |c| c.canary_interval().max(0) as u64),
            Some(TrafficRoutingType::TimeBasedLinear) => r.time_based_linear().map_or(0, |l| {
                let pct = l.linear_percentage().clamp(1, 100) as u64;
                let steps = 100u64.div_ceil(pct);
                steps.saturating_sub(1) * l.linear_interval().max(0) as u64
            }),
            _ => 0,
        };
        Duration::from_secs(60 * minutes)
    }))
}

/// The role's name from its ARN (`arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`), if it is a role ARN.
pub fn role_name(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("iam"), Some(_), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let path = resource.strip_prefix("role/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

/// Whether a trust policy lets `service` assume the role.
pub fn trusts(policy: &Value, service: &str) -> bool {
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => return false,
    };
    let has = |v: &Value, want: &str| match v {
        Value::String(s) => s == want || s == "*",
        Value::Array(list) => list.iter().any(|x| x.as_str() == Some(want)),
        _ => false,
    };
    statements.iter().any(|s| {
        s["Effect"] == "Allow"
            && (has(&s["Action"], "sts:AssumeRole") || has(&s["Action"], "sts:*"))
            && has(&s["Principal"]["Service"], service)
    })
}

/// The role exists and trusts CodeDeploy; with only the managed ECS policy, hooks must be named so it
/// may invoke them.
async fn service_role(plan: &Plan, aws: &Clients, warnings: &mut Vec<String>) -> Result<(), Error> {
    let arn = &plan.codedeploy.service_role;
    let bad = |message: String, hint: &str| -> Error {
        ConfigError::in_file(&plan.config_path, message)
            .field("codedeploy.service_role")
            .hint(hint.to_string())
            .into()
    };
    let Some(name) = role_name(arn) else {
        return Err(bad(
            format!("`{arn}` is not an IAM role ARN"),
            "give the role's ARN, e.g. arn:aws:iam::123456789012:role/ecsCodeDeployRole",
        ));
    };
    let role = match aws.iam.get_role().role_name(name).send().await {
        Ok(o) => o.role().cloned(),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetRoleError::NoSuchEntityException(_))
            ) =>
        {
            return Err(bad(
                format!("IAM role `{name}` does not exist"),
                "create it (trusting codedeploy.amazonaws.com, with the managed policy AWSCodeDeployRoleForECS), or fix the ARN",
            ));
        }
        Err(e) if is_access_denied(code(&e)) => {
            warnings.push(format!(
                "could not check service role `{name}` (no iam:GetRole permission): CodeDeploy refuses it later if it does not trust codedeploy.amazonaws.com"
            ));
            return Ok(());
        }
        Err(e) => return Err(failed("iam:GetRole", e)),
    };
    let Some(role) = role else { return Ok(()) };
    if role.arn() != arn.as_str() {
        return Err(bad(
            format!(
                "the role named `{name}` in this account is {}, not `{arn}`",
                role.arn()
            ),
            "check the account id and path in the ARN",
        ));
    }
    // IAM returns the trust policy URL-encoded.
    let document = role.assume_role_policy_document().unwrap_or_default();
    let decoded = url_decode(document);
    let policy: Value = serde_json::from_str(&decoded).unwrap_or(Value::Null);
    if !trusts(&policy, "codedeploy.amazonaws.com") {
        return Err(bad(
            format!(
                "IAM role `{name}` does not trust codedeploy.amazonaws.com, so CodeDeploy cannot assume it"
            ),
            "add a trust policy statement allowing the service principal codedeploy.amazonaws.com to sts:AssumeRole",
        ));
    }
    hooks(plan, aws, name, warnings).await;
    Ok(())
}

/// Hook functions the role's policies let CodeDeploy invoke: with only the managed ECS policy, names
/// must start with `CodeDeployHook_`. Only a warning (another policy may allow more).
async fn hooks(plan: &Plan, aws: &Clients, role: &str, warnings: &mut Vec<String>) {
    let hooks = plan.codedeploy.hooks.entries();
    if hooks.is_empty() {
        return;
    }
    let attached = match aws
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
    {
        Ok(o) => o.attached_policies().to_vec(),
        Err(e) => {
            tracing::debug!("could not list the role's policies: {e}");
            return;
        }
    };
    let names: Vec<&str> = attached.iter().filter_map(|p| p.policy_name()).collect();
    let only_managed = !names.is_empty() && names.iter().all(|n| *n == MANAGED_ECS_POLICY);
    if !only_managed {
        return;
    }
    for (event, function) in hooks {
        let name = function.rsplit(':').next().unwrap_or(function);
        if !name.starts_with(MANAGED_HOOK_PREFIX) {
            warnings.push(format!(
                "hook {event} calls `{name}`, but role `{role}` has only the managed policy {MANAGED_ECS_POLICY}, which lets CodeDeploy invoke only functions named {MANAGED_HOOK_PREFIX}*: rename the function or give the role lambda:InvokeFunction on it"
            ));
        }
    }
}

/// Every alarm the group names exists.
async fn alarms(plan: &Plan, aws: &Clients, warnings: &mut Vec<String>) -> Result<(), Error> {
    let Some(alarms) = plan
        .codedeploy
        .alarms
        .as_ref()
        .filter(|a| !a.names.is_empty())
    else {
        return Ok(());
    };
    let mut existing = std::collections::BTreeSet::new();
    // DescribeAlarms takes up to 100 names a call.
    for chunk in alarms.names.chunks(100) {
        match aws
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(o) => {
                existing.extend(
                    o.metric_alarms()
                        .iter()
                        .filter_map(|a| a.alarm_name().map(str::to_string)),
                );
                existing.extend(
                    o.composite_alarms()
                        .iter()
                        .filter_map(|a| a.alarm_name().map(str::to_string)),
                );
            }
            Err(e) if is_access_denied(code(&e)) => {
                warnings.push(
                    "could not check the alarms (no cloudwatch:DescribeAlarms permission)".into(),
                );
                return Ok(());
            }
            Err(e) => return Err(failed("cloudwatch:DescribeAlarms", e)),
        }
    }
    let missing: Vec<&str> = alarms
        .names
        .iter()
        .filter(|n| !existing.contains(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(ConfigError::in_file(
            &plan.config_path,
            format!(
                "CloudWatch alarm(s) {} do not exist in {}",
                missing.join(", "),
                aws.region
            ),
        )
        .field("codedeploy.alarms.names")
        .hint(
            "alarm names are exact and per region; create them first, or remove them from the list",
        )
        .into());
    }
    Ok(())
}

/// IAM returns policy documents URL-encoded (RFC 3986).
fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_names_come_from_role_arns_of_any_partition_and_path() {
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/ecsCodeDeployRole"),
            Some("ecsCodeDeployRole")
        );
        assert_eq!(
            role_name("arn:aws-cn:iam::123456789012:role/service-role/cd"),
            Some("cd")
        );
        assert_eq!(role_name("arn:aws:iam::123456789012:user/alice"), None);
        assert_eq!(role_name("ecsCodeDeployRole"), None);
    }

    #[test]
    fn a_trust_policy_must_let_the_service_assume_the_role() {
        let cd = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": ["ecs-tasks.amazonaws.com", "codedeploy.amazonaws.com"]},
            "Action": "sts:AssumeRole"}]});
        assert!(trusts(&cd, "codedeploy.amazonaws.com"));
        let tasks = json!({"Statement": {"Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": ["sts:AssumeRole"]}});
        assert!(!trusts(&tasks, "codedeploy.amazonaws.com"));
        let denied = json!({"Statement": [{"Effect": "Deny",
            "Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert!(!trusts(&denied, "codedeploy.amazonaws.com"));
    }

    #[test]
    fn policy_documents_are_decoded_as_iam_encodes_them() {
        assert_eq!(
            url_decode("%7B%22Version%22%3A%222012-10-17%22%7D"),
            r#"{"Version":"2012-10-17"}"#
        );
        assert_eq!(url_decode("{\"a\":1}"), "{\"a\":1}");
    }
}
