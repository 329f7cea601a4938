//! A stand-in for ECS, ELBv2, CloudWatch and the hook runner, so the CodeDeploy state machine and
//! validation can be tested on their own.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::hooks::HookRunner;
use super::platform::{
    DeploymentController, Platform, RuleView, ServiceView, TargetGroupView, TaskSetView,
};
use crate::protocol::ApiError;

pub const BLUE: &str = "arn:tg/blue";
pub const GREEN: &str = "arn:tg/green";

pub struct FakePlatform {
    pub controller: String,
    pub task_sets: Vec<TaskSetView>,
    pub target_groups: Vec<TargetGroupView>,
    pub listeners: BTreeMap<String, Vec<Value>>,
    pub alarms: Vec<(String, String)>,
    /// Whether new task sets reach STEADY_STATE.
    pub healthy: bool,
    /// Every mutating call, in order.
    pub calls: Vec<String>,
    /// Deleted task sets stay `DRAINING` until `drain` (as ECS keeps them while their tasks drain);
    /// otherwise they are gone at once.
    pub slow_drain: bool,
    /// Account 000000000000's IAM (its default roles, until a test changes them).
    pub iam: crate::iam::IamState,
    next: u32,
}

fn forward(tg: &str) -> Value {
    json!({"Type": "forward", "TargetGroupArn": tg})
}

impl FakePlatform {
    /// Service demo/web, its PRIMARY set in `blue`; listener `prod` → blue, `test` → green.
    pub fn standard() -> FakePlatform {
        FakePlatform {
            controller: "CODE_DEPLOY".into(),
            task_sets: vec![TaskSetView {
                id: "ecs-svc/1".into(),
                task_set_arn: "arn:ts/1".into(),
                status: "PRIMARY".into(),
                task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1".into(),
                computed_desired_count: 2,
                running_count: 2,
                stability_status: "STEADY_STATE".into(),
                load_balancers: vec![
                    json!({"targetGroupArn": BLUE, "containerName": "web", "containerPort": 80}),
                ],
                ..Default::default()
            }],
            target_groups: vec![
                TargetGroupView {
                    arn: BLUE.into(),
                    name: "blue".into(),
                },
                TargetGroupView {
                    arn: GREEN.into(),
                    name: "green".into(),
                },
            ],
            listeners: [
                ("prod".to_string(), vec![forward(BLUE)]),
                ("test".to_string(), vec![forward(GREEN)]),
            ]
            .into_iter()
            .collect(),
            alarms: Vec::new(),
            healthy: true,
            calls: Vec::new(),
            slow_drain: false,
            iam: crate::iam::IamState::new(crate::protocol::DEFAULT_ACCOUNT, 0.0),
            next: 1,
        }
    }

    /// The replacement's weight on a listener (0 when it is not a weighted forward).
    pub fn weight(&self, listener: &str, tg: &str) -> Option<i64> {
        let a = &self.listeners[listener][0];
        if a.get("TargetGroupArn").and_then(Value::as_str) == Some(tg) {
            return Some(100);
        }
        a.pointer("/ForwardConfig/TargetGroups")?
            .as_array()?
            .iter()
            .find(|t| t["TargetGroupArn"] == tg)
            .and_then(|t| t["Weight"].as_i64())
    }

    pub fn primary(&self) -> &TaskSetView {
        self.task_sets
            .iter()
            .find(|t| t.status == "PRIMARY")
            .expect("a primary")
    }

    /// ECS has drained the deleted task sets: they are gone.
    pub fn drain(&mut self) {
        self.task_sets.retain(|t| t.status != "DRAINING");
    }

    /// Let the replacement become steady now (after starting unhealthy).
    pub fn heal(&mut self) {
        for t in self.task_sets.iter_mut() {
            t.stability_status = "STEADY_STATE".into();
            t.running_count = t.computed_desired_count;
        }
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError::new("NotFound", what.to_string())
}

impl Platform for FakePlatform {
    fn describe_service(
        &mut self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceView>, ApiError> {
        if cluster != "demo" || service != "web" {
            return Ok(None);
        }
        Ok(Some(ServiceView {
            service_arn: "arn:aws:ecs:us-east-1:000000000000:service/demo/web".into(),
            service_name: "web".into(),
            status: "ACTIVE".into(),
            desired_count: 2,
            deployment_controller: Some(DeploymentController {
                kind: self.controller.clone(),
            }),
            task_sets: self.task_sets.clone(),
            launch_type: Some("FARGATE".into()),
            ..Default::default()
        }))
    }

    fn target_groups(&mut self, names: &[String]) -> Result<Vec<TargetGroupView>, ApiError> {
        names
            .iter()
            .map(|n| {
                self.target_groups
                    .iter()
                    .find(|t| &t.name == n)
                    .cloned()
                    .ok_or_else(|| not_found(n))
            })
            .collect()
    }

    fn listener_actions(&mut self, arn: &str) -> Result<Vec<Value>, ApiError> {
        self.listeners
            .get(arn)
            .cloned()
            .ok_or_else(|| not_found(arn))
    }

    fn listener_rules(&mut self, _listener_arn: &str) -> Result<Vec<RuleView>, ApiError> {
        Ok(Vec::new())
    }

    fn modify_listener(&mut self, arn: &str, actions: Vec<Value>) -> Result<(), ApiError> {
        let weights: Vec<String> = actions[0]
            .pointer("/ForwardConfig/TargetGroups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{}={}",
                    t["TargetGroupArn"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches("arn:tg/"),
                    t["Weight"]
                )
            })
            .collect();
        self.calls
            .push(format!("ModifyListener {arn} {}", weights.join(",")));
        *self.listeners.get_mut(arn).ok_or_else(|| not_found(arn))? = actions;
        Ok(())
    }

    fn modify_rule(&mut self, arn: &str, _actions: Vec<Value>) -> Result<(), ApiError> {
        Err(not_found(arn))
    }

    fn create_task_set(&mut self, input: Value) -> Result<TaskSetView, ApiError> {
        self.next += 1;
        let ts = TaskSetView {
            id: format!("ecs-svc/{}", self.next),
            task_set_arn: format!("arn:ts/{}", self.next),
            status: "ACTIVE".into(),
            task_definition: input["taskDefinition"].as_str().unwrap_or_default().into(),
            computed_desired_count: 2,
            running_count: if self.healthy { 2 } else { 0 },
            pending_count: 0,
            stability_status: if self.healthy {
                "STEADY_STATE"
            } else {
                "STABILIZING"
            }
            .into(),
            external_id: input["externalId"].as_str().map(String::from),
            load_balancers: input["loadBalancers"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        };
        self.calls.push(format!(
            "CreateTaskSet {} {}",
            ts.id,
            ts.target_group_arn()
                .unwrap_or_default()
                .trim_start_matches("arn:tg/")
        ));
        self.task_sets.push(ts.clone());
        Ok(ts)
    }

    fn update_primary_task_set(
        &mut self,
        _cluster: &str,
        _service: &str,
        task_set: &str,
    ) -> Result<(), ApiError> {
        self.calls
            .push(format!("UpdateServicePrimaryTaskSet {task_set}"));
        if !self.task_sets.iter().any(|t| t.id == task_set) {
            return Err(not_found(task_set));
        }
        for t in self.task_sets.iter_mut() {
            t.status = if t.id == task_set {
                "PRIMARY".into()
            } else {
                "ACTIVE".into()
            };
        }
        Ok(())
    }

    fn delete_task_set(
        &mut self,
        _cluster: &str,
        _service: &str,
        task_set: &str,
    ) -> Result<(), ApiError> {
        self.calls.push(format!("DeleteTaskSet {task_set}"));
        let before = self.task_sets.len();
        if self.slow_drain {
            for t in self.task_sets.iter_mut().filter(|t| t.id == task_set) {
                t.status = "DRAINING".into();
            }
            if self.task_sets.iter().any(|t| t.id == task_set) {
                return Ok(());
            }
        }
        self.task_sets.retain(|t| t.id != task_set);
        if before == self.task_sets.len() {
            return Err(ApiError::new(
                "TaskSetNotFoundException",
                task_set.to_string(),
            ));
        }
        Ok(())
    }

    fn alarm_states(&mut self, names: &[String]) -> Result<Vec<(String, String)>, ApiError> {
        Ok(self
            .alarms
            .iter()
            .filter(|(n, _)| names.contains(n))
            .cloned()
            .collect())
    }

    fn assume_role(&mut self, role_arn: &str) -> Result<(), ApiError> {
        super::platform::assume_service_role(&self.iam, role_arn)
    }
}

/// Records invocations; `fail` makes invoking a function fail like an unmapped one.
#[derive(Default)]
pub struct FakeHooks {
    pub invoked: Vec<(String, String, String)>,
    pub fail: bool,
}

impl HookRunner for FakeHooks {
    fn invoke(
        &mut self,
        _deployment_id: &str,
        execution_id: &str,
        event: &str,
        function: &str,
    ) -> Result<(), String> {
        if self.fail {
            return Err(format!("no command for {function}"));
        }
        self.invoked.push((
            event.to_string(),
            function.to_string(),
            execution_id.to_string(),
        ));
        Ok(())
    }
}
