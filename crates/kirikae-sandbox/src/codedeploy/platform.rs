//! What CodeDeploy does to ECS, ELBv2 and CloudWatch, as the calls its service role allows
//! (`ecs:DescribeServices/CreateTaskSet/UpdateServicePrimaryTaskSet/DeleteTaskSet`,
//! `elasticloadbalancing:Describe*/ModifyListener/ModifyRule`, `cloudwatch:DescribeAlarms`), and
//! assuming that service role in the first place (IAM's trust check, as STS makes it).
//!
//! The lifecycle talks to a [`Platform`]; [`Live`] sends each call through the other service's own
//! `handle`, with the same input a real client would send, so CodeDeploy depends only on their API
//! contract. Tests substitute a fake.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::protocol::ApiError;
use crate::world::Ctx;

/// An ECS service as `DescribeServices` shows it (the members CodeDeploy reads).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceView {
    pub service_arn: String,
    pub service_name: String,
    pub cluster_arn: String,
    pub status: String,
    pub desired_count: i64,
    pub deployment_controller: Option<DeploymentController>,
    pub task_sets: Vec<TaskSetView>,
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub platform_version: Option<String>,
    pub network_configuration: Option<Value>,
    pub load_balancers: Vec<Value>,
}

impl ServiceView {
    pub fn controller(&self) -> &str {
        self.deployment_controller
            .as_ref()
            .map_or("ECS", |c| c.kind.as_str())
    }
    pub fn primary(&self) -> Option<&TaskSetView> {
        self.task_sets.iter().find(|t| t.status == "PRIMARY")
    }
    pub fn task_set(&self, id: &str) -> Option<&TaskSetView> {
        self.task_sets
            .iter()
            .find(|t| t.id == id || t.task_set_arn == id)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeploymentController {
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// An ECS task set (the members CodeDeploy reads).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskSetView {
    pub id: String,
    pub task_set_arn: String,
    pub status: String,
    pub task_definition: String,
    pub computed_desired_count: i64,
    pub pending_count: i64,
    pub running_count: i64,
    pub stability_status: String,
    pub external_id: Option<String>,
    pub load_balancers: Vec<Value>,
}

impl TaskSetView {
    pub fn target_group_arn(&self) -> Option<&str> {
        self.load_balancers.first()?.get("targetGroupArn")?.as_str()
    }
    pub fn steady(&self) -> bool {
        self.stability_status == "STEADY_STATE"
            && self.running_count >= self.computed_desired_count
            && self.pending_count == 0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TargetGroupView {
    pub arn: String,
    pub name: String,
}

/// A listener's rule (the default one included) and its actions.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleView {
    pub arn: String,
    pub is_default: bool,
    pub actions: Vec<Value>,
}

pub trait Platform {
    /// `Ok(None)` when the cluster or service does not exist.
    fn describe_service(
        &mut self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceView>, ApiError>;
    /// Target groups by name; any unknown name fails the call (as ELBv2 does).
    fn target_groups(&mut self, names: &[String]) -> Result<Vec<TargetGroupView>, ApiError>;
    /// A listener's default actions; fails when it does not exist.
    fn listener_actions(&mut self, arn: &str) -> Result<Vec<Value>, ApiError>;
    /// A listener's rules, the default one included.
    fn listener_rules(&mut self, listener_arn: &str) -> Result<Vec<RuleView>, ApiError>;
    fn modify_listener(&mut self, arn: &str, actions: Vec<Value>) -> Result<(), ApiError>;
    fn modify_rule(&mut self, arn: &str, actions: Vec<Value>) -> Result<(), ApiError>;
    fn create_task_set(&mut self, input: Value) -> Result<TaskSetView, ApiError>;
    fn update_primary_task_set(
        &mut self,
        cluster: &str,
        service: &str,
        task_set: &str,
    ) -> Result<(), ApiError>;
    fn delete_task_set(
        &mut self,
        cluster: &str,
        service: &str,
        task_set: &str,
    ) -> Result<(), ApiError>;
    /// `(name, StateValue)` of the named alarms that exist.
    fn alarm_states(&mut self, names: &[String]) -> Result<Vec<(String, String)>, ApiError>;
    /// Assume the service role `role_arn`, as CodeDeploy does when a group names it:
    /// `InvalidRoleException` unless it is a role of the caller's account that trusts CodeDeploy.
    fn assume_role(&mut self, role_arn: &str) -> Result<(), ApiError>;
}

/// The service principal CodeDeploy assumes roles as.
pub const CODEDEPLOY_PRINCIPAL: &str = "codedeploy.amazonaws.com";

/// CodeDeploy assuming `role_arn` in the account whose IAM is `iam`, with AWS's answer when it cannot.
pub fn assume_service_role(iam: &crate::iam::IamState, role_arn: &str) -> Result<(), ApiError> {
    use crate::iam::sts::{self, Refusal};
    let refusal = match sts::assume_role(iam, role_arn, CODEDEPLOY_PRINCIPAL) {
        Ok(_) => return Ok(()),
        Err(r) => r,
    };
    // AWS's words first; the reason in brackets is the sandbox's (AWS does not say).
    let message = match refusal {
        Refusal::Malformed => {
            "The service role ARN was specified in an invalid format.".to_string()
        }
        Refusal::OtherAccount { account } => format!(
            "Cross-account pass role is not allowed. (The role is in account {account}; the caller is account {}.)",
            iam.account()
        ),
        Refusal::NoSuchRole { name } => format!(
            "Cannot assume role provided. (No role named {name} exists in account {}.)",
            iam.account()
        ),
        Refusal::NotTrusted { name } => format!(
            "Cannot assume role provided. (The trust policy of role {name} does not allow {CODEDEPLOY_PRINCIPAL} to sts:AssumeRole.)"
        ),
    };
    Err(ApiError::new("InvalidRoleException", message))
}

/// The real thing: each call goes through the service's own operation handler (ECS's task set
/// operations as CodeDeploy's, which ECS accepts on CODE_DEPLOY services; clients may not make them).
pub struct Live<'a, 'b> {
    pub cx: &'a mut Ctx<'b>,
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(v.clone())
        .map_err(|e| ApiError::new("InternalFailure", format!("unexpected {what} answer: {e}")))
}

impl Platform for Live<'_, '_> {
    fn assume_role(&mut self, role_arn: &str) -> Result<(), ApiError> {
        assume_service_role(&self.cx.account.iam, role_arn)
    }

    fn describe_service(
        &mut self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceView>, ApiError> {
        let out = match crate::ecs::handle(
            self.cx,
            "DescribeServices",
            &json!({"cluster": cluster, "services": [service]}),
        ) {
            Ok(out) => out,
            Err(e) if e.code == "ClusterNotFoundException" => return Ok(None),
            Err(e) => return Err(e),
        };
        match out
            .get("services")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
        {
            Some(s) => parse(s, "DescribeServices").map(Some),
            None => Ok(None),
        }
    }

    fn target_groups(&mut self, names: &[String]) -> Result<Vec<TargetGroupView>, ApiError> {
        let out =
            crate::elbv2::handle(self.cx, "DescribeTargetGroups", &json!({ "Names": names }))?;
        Ok(out
            .get("TargetGroups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|tg| TargetGroupView {
                arn: tg
                    .get("TargetGroupArn")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                name: tg
                    .get("TargetGroupName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect())
    }

    fn listener_actions(&mut self, arn: &str) -> Result<Vec<Value>, ApiError> {
        let out = crate::elbv2::handle(
            self.cx,
            "DescribeListeners",
            &json!({ "ListenerArns": [arn] }),
        )?;
        let listener = out
            .get("Listeners")
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|l| l.get("ListenerArn").and_then(Value::as_str) == Some(arn))
            })
            .ok_or_else(|| {
                ApiError::new(
                    "ListenerNotFoundException",
                    format!("One or more listeners not found: {arn}"),
                )
            })?;
        Ok(listener
            .get("DefaultActions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    fn listener_rules(&mut self, listener_arn: &str) -> Result<Vec<RuleView>, ApiError> {
        let out = crate::elbv2::handle(
            self.cx,
            "DescribeRules",
            &json!({ "ListenerArn": listener_arn }),
        )?;
        Ok(out
            .get("Rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| RuleView {
                arn: r
                    .get("RuleArn")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                is_default: r.get("IsDefault").and_then(Value::as_bool).unwrap_or(false),
                actions: r
                    .get("Actions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect())
    }

    fn modify_listener(&mut self, arn: &str, actions: Vec<Value>) -> Result<(), ApiError> {
        crate::elbv2::handle(
            self.cx,
            "ModifyListener",
            &json!({ "ListenerArn": arn, "DefaultActions": actions }),
        )
        .map(drop)
    }

    fn modify_rule(&mut self, arn: &str, actions: Vec<Value>) -> Result<(), ApiError> {
        crate::elbv2::handle(
            self.cx,
            "ModifyRule",
            &json!({ "RuleArn": arn, "Actions": actions }),
        )
        .map(drop)
    }

    fn create_task_set(&mut self, input: Value) -> Result<TaskSetView, ApiError> {
        let out = crate::ecs::handle_as_codedeploy(self.cx, "CreateTaskSet", &input)?;
        parse(out.get("taskSet").unwrap_or(&Value::Null), "CreateTaskSet")
    }

    fn update_primary_task_set(
        &mut self,
        cluster: &str,
        service: &str,
        task_set: &str,
    ) -> Result<(), ApiError> {
        crate::ecs::handle_as_codedeploy(
            self.cx,
            "UpdateServicePrimaryTaskSet",
            &json!({ "cluster": cluster, "service": service, "primaryTaskSet": task_set }),
        )
        .map(drop)
    }

    fn delete_task_set(
        &mut self,
        cluster: &str,
        service: &str,
        task_set: &str,
    ) -> Result<(), ApiError> {
        // `force`: the set still runs at 100 % scale; CodeDeploy deletes it without scaling it down.
        crate::ecs::handle_as_codedeploy(
            self.cx,
            "DeleteTaskSet",
            &json!({ "cluster": cluster, "service": service, "taskSet": task_set, "force": true }),
        )
        .map(drop)
    }

    fn alarm_states(&mut self, names: &[String]) -> Result<Vec<(String, String)>, ApiError> {
        let out =
            crate::cloudwatch::handle(self.cx, "DescribeAlarms", &json!({ "AlarmNames": names }))?;
        let mut states = Vec::new();
        for kind in ["MetricAlarms", "CompositeAlarms"] {
            for a in out
                .get(kind)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(n), Some(s)) = (
                    a.get("AlarmName").and_then(Value::as_str),
                    a.get("StateValue").and_then(Value::as_str),
                ) {
                    states.push((n.to_string(), s.to_string()));
                }
            }
        }
        Ok(states)
    }
}
