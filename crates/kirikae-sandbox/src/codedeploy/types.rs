//! CodeDeploy's configuration structures, as the model names them. Inputs deserialize into them and
//! answers serialize from them, so what a client sent is what it reads back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmConfiguration {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub ignore_poll_alarm_failure: bool,
    #[serde(default)]
    pub alarms: Vec<Alarm>,
}

impl AlarmConfiguration {
    /// The alarm names CodeDeploy polls, or none when monitoring is off.
    pub fn watched(&self) -> Vec<String> {
        if self.enabled {
            self.alarms.iter().map(|a| a.name.clone()).collect()
        } else {
            Vec::new()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoRollbackConfiguration {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub events: Vec<String>,
}

impl AutoRollbackConfiguration {
    pub fn on(&self, event: &str) -> bool {
        self.enabled && self.events.iter().any(|e| e == event)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStyle {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_option: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenDeploymentConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminate_blue_instances_on_deployment_success: Option<BlueInstanceTerminationOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_ready_option: Option<DeploymentReadyOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub green_fleet_provisioning_option: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueInstanceTerminationOption {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_wait_time_in_minutes: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentReadyOption {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_on_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_time_in_minutes: Option<i64>,
}

impl BlueGreenDeploymentConfiguration {
    /// Fill what AWS reports even when the client left it out: the AWS CLI's `ecs deploy` and the
    /// GitHub action index both wait times directly and crash when they are missing.
    pub fn normalized(mut self) -> Self {
        let t = self
            .terminate_blue_instances_on_deployment_success
            .get_or_insert_with(Default::default);
        t.action.get_or_insert_with(|| "TERMINATE".into());
        t.termination_wait_time_in_minutes.get_or_insert(0);
        let r = self
            .deployment_ready_option
            .get_or_insert_with(Default::default);
        r.action_on_timeout
            .get_or_insert_with(|| "CONTINUE_DEPLOYMENT".into());
        r.wait_time_in_minutes.get_or_insert(0);
        self
    }

    /// Minutes of the termination wait (after a normalize, always present).
    pub fn termination_wait_minutes(&self) -> i64 {
        self.terminate_blue_instances_on_deployment_success
            .as_ref()
            .and_then(|t| t.termination_wait_time_in_minutes)
            .unwrap_or(0)
    }

    /// Whether the original task set is deleted at the end (`TERMINATE`) or kept (`KEEP_ALIVE`).
    pub fn terminates_original(&self) -> bool {
        self.terminate_blue_instances_on_deployment_success
            .as_ref()
            .and_then(|t| t.action.as_deref())
            .is_none_or(|a| a == "TERMINATE")
    }

    /// `Some(minutes)` when the deployment must wait in `Ready` for `ContinueDeployment`.
    pub fn ready_wait_minutes(&self) -> Option<i64> {
        let r = self.deployment_ready_option.as_ref()?;
        (r.action_on_timeout.as_deref() == Some("STOP_DEPLOYMENT"))
            .then(|| r.wait_time_in_minutes.unwrap_or(0))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elb_info_list: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_info_list: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_pair_info_list: Option<Vec<TargetGroupPairInfo>>,
}

impl LoadBalancerInfo {
    /// The one target group pair of an ECS group (validated on create/update).
    pub fn pair(&self) -> Option<&TargetGroupPairInfo> {
        self.target_group_pair_info_list.as_ref()?.first()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupPairInfo {
    #[serde(default)]
    pub target_groups: Vec<TargetGroupRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prod_traffic_route: Option<TrafficRoute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_traffic_route: Option<TrafficRoute>,
}

impl TargetGroupPairInfo {
    pub fn names(&self) -> Vec<String> {
        self.target_groups
            .iter()
            .map(|t| t.name.clone().unwrap_or_default())
            .collect()
    }
    pub fn prod_listener(&self) -> Option<&str> {
        self.prod_traffic_route
            .as_ref()?
            .listener_arns
            .first()
            .map(String::as_str)
    }
    pub fn test_listener(&self) -> Option<&str> {
        self.test_traffic_route
            .as_ref()?
            .listener_arns
            .first()
            .map(String::as_str)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetGroupRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRoute {
    #[serde(default)]
    pub listener_arns: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsService {
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub cluster_name: String,
}

impl EcsService {
    /// Names, whether the client gave names or ARNs (the AWS CLI accepts either).
    pub fn cluster(&self) -> &str {
        last_segment(&self.cluster_name)
    }
    pub fn service(&self) -> &str {
        last_segment(&self.service_name)
    }
}

/// `name` from `name`, `arn:…:cluster/name` or `arn:…:service/cluster/name`.
pub fn last_segment(s: &str) -> &str {
    if s.starts_with("arn:") {
        s.rsplit('/').next().unwrap_or(s)
    } else {
        s
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRoutingConfig {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_based_canary: Option<TimeBasedCanary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_based_linear: Option<TimeBasedLinear>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeBasedCanary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_percentage: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_interval: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeBasedLinear {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear_percentage: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear_interval: Option<i64>,
}

/// CodeDeploy tags are `Key`/`Value` (ECS's are lowercase).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key", default)]
    pub key: String,
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}
