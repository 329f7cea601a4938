//! The deployment group as kirikae manages it: the settings the config declares, read back from AWS in the
//! same shape so the two can be compared, and the difference shown as a list of changes.

use std::fmt;

use aws_sdk_codedeploy::operation::create_deployment_group::CreateDeploymentGroupError;
use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AutoRollbackConfiguration, AutoRollbackEvent,
    BlueGreenDeploymentConfiguration, BlueInstanceTerminationOption, DeploymentGroupInfo,
    DeploymentOption, DeploymentReadyAction, DeploymentReadyOption, DeploymentStyle,
    DeploymentType, EcsService, InstanceAction, LoadBalancerInfo, TargetGroupInfo,
    TargetGroupPairInfo, TrafficRoute,
};
use serde::Serialize;

/// The settings of an ECS Blue/Green deployment group that kirikae declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSettings {
    pub service_role_arn: String,
    pub deployment_config: String,
    /// Target group names; compared as a set (CodeDeploy decides which is blue from the service).
    pub target_groups: Vec<String>,
    pub production_listener: String,
    pub test_listener: Option<String>,
    #[serde(serialize_with = "crate::wire::str")]
    pub termination_action: InstanceAction,
    pub termination_wait_minutes: i32,
    #[serde(serialize_with = "crate::wire::str")]
    pub ready_action: DeploymentReadyAction,
    pub ready_wait_minutes: i32,
    /// Sorted; empty means auto-rollback is off.
    #[serde(serialize_with = "crate::wire::list")]
    pub auto_rollback_events: Vec<AutoRollbackEvent>,
    pub alarms_enabled: bool,
    pub alarms: Vec<String>,
    pub ignore_poll_alarm_failure: bool,
    pub cluster: String,
    pub service: String,
}

/// One difference between AWS and the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub from: String,
    pub to: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} → {}", self.field, self.from, self.to)
    }
}

impl GroupSettings {
    /// Reads an existing group. Names may be stored as ARNs; only their last segment is kept.
    pub fn from_info(info: &DeploymentGroupInfo) -> GroupSettings {
        let pair = info
            .load_balancer_info()
            .and_then(|l| l.target_group_pair_info_list().first());
        let bg = info.blue_green_deployment_configuration();
        let term = bg.and_then(|b| b.terminate_blue_instances_on_deployment_success());
        let ready = bg.and_then(|b| b.deployment_ready_option());
        let rollback = info.auto_rollback_configuration();
        let mut events: Vec<AutoRollbackEvent> = match rollback {
            Some(r) if r.enabled() => r.events().to_vec(),
            _ => Vec::new(),
        };
        sort_events(&mut events);
        let alarms = info.alarm_configuration();
        let svc = info.ecs_services().first();
        GroupSettings {
            service_role_arn: info.service_role_arn().unwrap_or_default().to_string(),
            deployment_config: info
                .deployment_config_name()
                .unwrap_or_default()
                .to_string(),
            target_groups: pair
                .map(|p| {
                    p.target_groups()
                        .iter()
                        .filter_map(|t| t.name())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            production_listener: pair
                .and_then(|p| p.prod_traffic_route())
                .and_then(|r| r.listener_arns().first())
                .cloned()
                .unwrap_or_default(),
            test_listener: pair
                .and_then(|p| p.test_traffic_route())
                .and_then(|r| r.listener_arns().first())
                .cloned(),
            termination_action: term
                .and_then(|t| t.action())
                .cloned()
                .unwrap_or(InstanceAction::Terminate),
            termination_wait_minutes: term
                .map(|t| t.termination_wait_time_in_minutes())
                .unwrap_or(0),
            ready_action: ready
                .and_then(|r| r.action_on_timeout())
                .cloned()
                .unwrap_or(DeploymentReadyAction::ContinueDeployment),
            ready_wait_minutes: ready.map(|r| r.wait_time_in_minutes()).unwrap_or(0),
            auto_rollback_events: events,
            alarms_enabled: alarms.is_some_and(|a| a.enabled()),
            alarms: alarms
                .map(|a| {
                    a.alarms()
                        .iter()
                        .filter_map(|x| x.name())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            ignore_poll_alarm_failure: alarms.is_some_and(|a| a.ignore_poll_alarm_failure()),
            cluster: svc
                .and_then(|s| s.cluster_name())
                .map(last_segment)
                .unwrap_or_default(),
            service: svc
                .and_then(|s| s.service_name())
                .map(last_segment)
                .unwrap_or_default(),
        }
    }

    /// What would change if `self` (AWS) were updated to `desired` (config).
    pub fn diff(&self, desired: &GroupSettings) -> Vec<Change> {
        let mut out = Vec::new();
        let mut cmp = |field: &str, from: String, to: String| {
            if from != to {
                out.push(Change {
                    field: field.to_string(),
                    from,
                    to,
                });
            }
        };
        cmp(
            "service role",
            self.service_role_arn.clone(),
            desired.service_role_arn.clone(),
        );
        cmp(
            "deployment config",
            self.deployment_config.clone(),
            desired.deployment_config.clone(),
        );
        let (mut a, mut b) = (self.target_groups.clone(), desired.target_groups.clone());
        a.sort();
        b.sort();
        if a != b {
            cmp(
                "target groups",
                self.target_groups.join(", "),
                desired.target_groups.join(", "),
            );
        }
        cmp(
            "production listener",
            self.production_listener.clone(),
            desired.production_listener.clone(),
        );
        cmp(
            "test listener",
            opt(&self.test_listener),
            opt(&desired.test_listener),
        );
        cmp(
            "blue termination",
            self.termination_action.as_str().to_string(),
            desired.termination_action.as_str().to_string(),
        );
        cmp(
            "termination wait",
            minutes(self.termination_wait_minutes),
            minutes(desired.termination_wait_minutes),
        );
        cmp(
            "ready action",
            self.ready_action.as_str().to_string(),
            desired.ready_action.as_str().to_string(),
        );
        let stop = DeploymentReadyAction::StopDeployment;
        if desired.ready_action == stop || self.ready_action == stop {
            cmp(
                "ready wait",
                minutes(self.ready_wait_minutes),
                minutes(desired.ready_wait_minutes),
            );
        }
        cmp(
            "auto-rollback",
            list(&self.auto_rollback_events),
            list(&desired.auto_rollback_events),
        );
        cmp("alarms", alarms(self), alarms(desired));
        cmp(
            "ECS service",
            format!("{}/{}", self.cluster, self.service),
            format!("{}/{}", desired.cluster, desired.service),
        );
        out
    }

    fn load_balancer_info(&self) -> LoadBalancerInfo {
        let route = |arn: &str| TrafficRoute::builder().listener_arns(arn).build();
        let mut pair = TargetGroupPairInfo::builder()
            .set_target_groups(Some(
                self.target_groups
                    .iter()
                    .map(|n| TargetGroupInfo::builder().name(n).build())
                    .collect(),
            ))
            .prod_traffic_route(route(&self.production_listener));
        if let Some(t) = &self.test_listener {
            pair = pair.test_traffic_route(route(t));
        }
        LoadBalancerInfo::builder()
            .target_group_pair_info_list(pair.build())
            .build()
    }

    fn blue_green(&self) -> BlueGreenDeploymentConfiguration {
        BlueGreenDeploymentConfiguration::builder()
            .terminate_blue_instances_on_deployment_success(
                BlueInstanceTerminationOption::builder()
                    .action(self.termination_action.clone())
                    .termination_wait_time_in_minutes(self.termination_wait_minutes)
                    .build(),
            )
            .deployment_ready_option(
                DeploymentReadyOption::builder()
                    .action_on_timeout(self.ready_action.clone())
                    .wait_time_in_minutes(self.ready_wait_minutes)
                    .build(),
            )
            .build()
    }

    fn auto_rollback(&self) -> AutoRollbackConfiguration {
        AutoRollbackConfiguration::builder()
            .enabled(!self.auto_rollback_events.is_empty())
            .set_events(Some(self.auto_rollback_events.clone()))
            .build()
    }

    fn alarm_configuration(&self) -> AlarmConfiguration {
        AlarmConfiguration::builder()
            .enabled(self.alarms_enabled)
            .ignore_poll_alarm_failure(self.ignore_poll_alarm_failure)
            .set_alarms(Some(
                self.alarms
                    .iter()
                    .map(|n| Alarm::builder().name(n).build())
                    .collect(),
            ))
            .build()
    }

    fn deployment_style() -> DeploymentStyle {
        DeploymentStyle::builder()
            .deployment_type(DeploymentType::BlueGreen)
            .deployment_option(DeploymentOption::WithTrafficControl)
            .build()
    }

    fn ecs_service(&self) -> EcsService {
        EcsService::builder()
            .cluster_name(&self.cluster)
            .service_name(&self.service)
            .build()
    }

    /// Creates the group.
    pub async fn create(
        &self,
        client: &aws_sdk_codedeploy::Client,
        application: &str,
        name: &str,
    ) -> Result<(), crate::Error> {
        let created = client
            .create_deployment_group()
            .application_name(application)
            .deployment_group_name(name)
            .service_role_arn(&self.service_role_arn)
            .deployment_config_name(&self.deployment_config)
            .deployment_style(Self::deployment_style())
            .blue_green_deployment_configuration(self.blue_green())
            .load_balancer_info(self.load_balancer_info())
            .ecs_services(self.ecs_service())
            .auto_rollback_configuration(self.auto_rollback())
            .alarm_configuration(self.alarm_configuration())
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Created by someone else since the check (a concurrent run, or an SDK retry of our own
            // call whose answer was lost): make it what the config says.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateDeploymentGroupError::DeploymentGroupAlreadyExistsException(_))
                ) =>
            {
                self.update(client, application, name).await
            }
            Err(e) => Err(crate::aws::failed("codedeploy:CreateDeploymentGroup", e)),
        }
    }

    /// Updates the group to these settings (all of them: the call replaces what it is given).
    pub async fn update(
        &self,
        client: &aws_sdk_codedeploy::Client,
        application: &str,
        name: &str,
    ) -> Result<(), crate::Error> {
        client
            .update_deployment_group()
            .application_name(application)
            .current_deployment_group_name(name)
            .service_role_arn(&self.service_role_arn)
            .deployment_config_name(&self.deployment_config)
            .deployment_style(Self::deployment_style())
            .blue_green_deployment_configuration(self.blue_green())
            .load_balancer_info(self.load_balancer_info())
            .ecs_services(self.ecs_service())
            .auto_rollback_configuration(self.auto_rollback())
            .alarm_configuration(self.alarm_configuration())
            .send()
            .await
            .map_err(|e| crate::aws::failed("codedeploy:UpdateDeploymentGroup", e))?;
        Ok(())
    }
}

fn last_segment(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_string()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "(none)".into())
}

fn minutes(m: i32) -> String {
    if m == 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    }
}

/// Auto-rollback events in one order (by name) without repeats, so AWS's and the config's compare.
pub fn sort_events(events: &mut Vec<AutoRollbackEvent>) {
    events.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    events.dedup();
}

fn list(v: &[AutoRollbackEvent]) -> String {
    if v.is_empty() {
        "(off)".into()
    } else {
        v.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
    }
}

fn alarms(g: &GroupSettings) -> String {
    if !g.alarms_enabled || g.alarms.is_empty() {
        return "(off)".into();
    }
    let mut s = g.alarms.join(", ");
    if g.ignore_poll_alarm_failure {
        s.push_str(" (ignoring poll failures)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GroupSettings {
        GroupSettings {
            service_role_arn: "arn:aws:iam::1:role/cd".into(),
            deployment_config: "CodeDeployDefault.ECSAllAtOnce".into(),
            target_groups: vec!["blue".into(), "green".into()],
            production_listener: "arn:l80".into(),
            test_listener: Some("arn:l8080".into()),
            termination_action: InstanceAction::Terminate,
            termination_wait_minutes: 2,
            ready_action: DeploymentReadyAction::ContinueDeployment,
            ready_wait_minutes: 0,
            auto_rollback_events: vec![AutoRollbackEvent::DeploymentFailure],
            alarms_enabled: false,
            alarms: vec![],
            ignore_poll_alarm_failure: false,
            cluster: "demo".into(),
            service: "web".into(),
        }
    }

    #[test]
    fn round_trips_through_the_sdk_shape() {
        let s = settings();
        let info = DeploymentGroupInfo::builder()
            .service_role_arn(&s.service_role_arn)
            .deployment_config_name(&s.deployment_config)
            .load_balancer_info(s.load_balancer_info())
            .blue_green_deployment_configuration(s.blue_green())
            .auto_rollback_configuration(s.auto_rollback())
            .alarm_configuration(s.alarm_configuration())
            .ecs_services(
                EcsService::builder()
                    .cluster_name("arn:aws:ecs:us-east-1:1:cluster/demo")
                    .service_name("web")
                    .build(),
            )
            .build();
        assert_eq!(GroupSettings::from_info(&info), s);
        assert!(GroupSettings::from_info(&info).diff(&s).is_empty());
    }

    #[test]
    fn diff_names_what_changed() {
        let a = settings();
        let mut b = settings();
        b.termination_wait_minutes = 5;
        b.target_groups.reverse(); // same pair: not a change
        b.test_listener = None;
        let changes: Vec<String> = a.diff(&b).iter().map(ToString::to_string).collect();
        assert_eq!(
            changes,
            vec![
                "test listener: arn:l8080 → (none)",
                "termination wait: 2 minutes → 5 minutes"
            ]
        );
    }
}
