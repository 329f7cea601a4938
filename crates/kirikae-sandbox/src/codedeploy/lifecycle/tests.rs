//! The state machine against a fake ECS/ELBv2/CloudWatch, on a hand-driven clock.

use serde_json::json;

use super::super::appspec;
use super::super::configs::{ShiftStep, schedule_checked};
use super::super::fake::{BLUE, FakeHooks, FakePlatform, GREEN};
use super::super::types::*;
use super::*;

const APPSPEC: &str = r#"{"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
    "TaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2", "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]}"#;

fn plan(test_listener: bool) -> Plan {
    let pair = TargetGroupPairInfo {
        target_groups: vec![
            TargetGroupRef {
                name: Some("blue".into()),
            },
            TargetGroupRef {
                name: Some("green".into()),
            },
        ],
        prod_traffic_route: Some(TrafficRoute {
            listener_arns: vec!["prod".into()],
        }),
        test_traffic_route: test_listener.then(|| TrafficRoute {
            listener_arns: vec!["test".into()],
        }),
    };
    Plan {
        application: "app".into(),
        group_name: "dg".into(),
        group_id: "g1".into(),
        config_name: "CodeDeployDefault.ECSAllAtOnce".into(),
        schedule: vec![ShiftStep {
            replacement_percent: 100,
            hold_minutes: 0,
        }],
        revision: json!({"revisionType": "AppSpecContent"}),
        previous_revision: None,
        appspec: appspec::parse(APPSPEC),
        description: None,
        auto_rollback: AutoRollbackConfiguration::default(),
        override_alarms: None,
        group_alarms: AlarmConfiguration::default(),
        blue_green: BlueGreenDeploymentConfiguration::default().normalized(),
        load_balancer_info: LoadBalancerInfo {
            target_group_pair_info_list: Some(vec![pair]),
            ..Default::default()
        },
        deployment_style: DeploymentStyle::default(),
        service: EcsService {
            service_name: "web".into(),
            cluster_name: "demo".into(),
        },
    }
}

/// Drives a deployment: time in AWS seconds from 0 at scale 1.
struct Run {
    d: Deployment,
    p: FakePlatform,
    h: FakeHooks,
    t: f64,
    rollback: Option<Deployment>,
}

impl Run {
    fn new(plan: Plan) -> Run {
        Run {
            d: Deployment::new("d-TEST00001".into(), plan, 0.0),
            p: FakePlatform::standard(),
            h: FakeHooks::default(),
            t: 0.0,
            rollback: None,
        }
    }

    fn step(&mut self) {
        let mut env = Env {
            platform: &mut self.p,
            hooks: &mut self.h,
            now: self.t,
            scale: 1.0,
        };
        if let Some(rb) = self.d.advance(&mut env) {
            self.rollback = Some(rb);
        }
        if let Some(rb) = self.rollback.as_mut() {
            let mut env = Env {
                platform: &mut self.p,
                hooks: &mut self.h,
                now: self.t,
                scale: 1.0,
            };
            rb.advance(&mut env);
        }
    }

    /// Step at `t`, `t+1`, … until `until` (AWS seconds).
    fn run_until(&mut self, until: f64) {
        while self.t <= until {
            self.step();
            self.t += 1.0;
        }
    }

    fn events(&self) -> Vec<(&'static str, &'static str)> {
        self.d
            .events
            .iter()
            .map(|e| (e.name, e.status.as_str()))
            .collect()
    }
}

#[test]
fn all_at_once_runs_every_event_in_order_and_replaces_the_primary() {
    let mut r = Run::new(plan(true));
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Succeeded, "{:?}", r.d.error);
    assert_eq!(
        r.events(),
        vec![
            ("BeforeInstall", "Succeeded"),
            ("Install", "Succeeded"),
            ("AfterInstall", "Succeeded"),
            ("AllowTestTraffic", "Succeeded"),
            ("AfterAllowTestTraffic", "Succeeded"),
            ("BeforeAllowTraffic", "Succeeded"),
            ("AllowTraffic", "Succeeded"),
            ("AfterAllowTraffic", "Succeeded"),
        ]
    );
    assert_eq!(
        r.p.calls,
        vec![
            "ModifyListener prod green=0,blue=100",
            "CreateTaskSet ecs-svc/2 green",
            "ModifyListener test green=100,blue=0",
            "ModifyListener prod green=100,blue=0",
            "UpdateServicePrimaryTaskSet ecs-svc/2",
            "DeleteTaskSet ecs-svc/1",
        ]
    );
    assert_eq!(r.p.primary().id, "ecs-svc/2");
    assert_eq!(r.p.primary().external_id.as_deref(), Some("d-TEST00001"));
    assert_eq!(r.p.task_sets.len(), 1);
    assert_eq!(r.d.target_status, Phase::Succeeded);
    assert!(r.d.complete_time.is_some());
}

#[test]
fn without_a_test_listener_the_test_traffic_events_are_left_out() {
    let mut r = Run::new(plan(false));
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Succeeded);
    let names: Vec<_> = r.events().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "BeforeInstall",
            "Install",
            "AfterInstall",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic"
        ]
    );
}

#[test]
fn the_termination_wait_keeps_the_deployment_in_progress_with_its_target_succeeded() {
    let mut p = plan(true);
    p.blue_green
        .terminate_blue_instances_on_deployment_success
        .as_mut()
        .unwrap()
        .termination_wait_time_in_minutes = Some(5);
    let mut r = Run::new(p);
    r.run_until(10.0);
    assert_eq!(r.d.status, Status::InProgress);
    assert_eq!(r.d.target_status, Phase::Succeeded);
    assert!(r.d.termination_wait_started && r.d.in_termination_wait());
    // Both task sets are there, the original at weight 0.
    let weights: Vec<(&str, &str)> =
        r.d.task_sets
            .iter()
            .map(|s| (s.label, s.view.status.as_str()))
            .collect();
    assert_eq!(weights, vec![("Blue", "ACTIVE"), ("Green", "PRIMARY")]);
    r.run_until(299.0);
    assert_eq!(r.d.status, Status::InProgress);
    r.run_until(302.0);
    assert_eq!(r.d.status, Status::Succeeded);
    assert_eq!(r.p.task_sets.len(), 1);
}

#[test]
fn keep_alive_never_reports_the_termination_wait_started() {
    let mut p = plan(true);
    let t = p
        .blue_green
        .terminate_blue_instances_on_deployment_success
        .as_mut()
        .unwrap();
    t.action = Some("KEEP_ALIVE".into());
    t.termination_wait_time_in_minutes = Some(5);
    let mut r = Run::new(p);
    r.run_until(10.0);
    assert_eq!(r.d.target_status, Phase::Succeeded);
    assert!(!r.d.termination_wait_started);
    r.run_until(302.0);
    assert_eq!(r.d.status, Status::Succeeded);
    assert!(!r.d.termination_wait_started);
    // The original task set is kept.
    assert_eq!(r.p.task_sets.len(), 2);
    assert!(!r.p.calls.iter().any(|c| c.starts_with("DeleteTaskSet")));
}

#[test]
fn continuing_the_termination_wait_ends_it_early() {
    let mut p = plan(true);
    p.blue_green
        .terminate_blue_instances_on_deployment_success
        .as_mut()
        .unwrap()
        .termination_wait_time_in_minutes = Some(60);
    let mut r = Run::new(p);
    r.run_until(3.0);
    assert!(r.d.in_termination_wait());
    r.d.skip_termination_wait();
    r.step();
    assert_eq!(r.d.status, Status::Succeeded);
}

#[test]
fn canary_shifts_then_holds_then_finishes() {
    let mut p = plan(false);
    p.schedule = schedule_checked(&TrafficRoutingConfig {
        kind: Some("TimeBasedCanary".into()),
        time_based_canary: Some(TimeBasedCanary {
            canary_percentage: Some(10),
            canary_interval: Some(5),
        }),
        ..Default::default()
    })
    .unwrap();
    let mut r = Run::new(p);
    r.run_until(3.0);
    assert_eq!(r.p.weight("prod", GREEN), Some(10));
    assert_eq!(r.p.weight("prod", BLUE), Some(90));
    assert_eq!(
        r.p.primary().id,
        "ecs-svc/1",
        "the original stays primary while shifting"
    );
    r.run_until(290.0);
    assert_eq!(r.p.weight("prod", GREEN), Some(10));
    r.run_until(310.0);
    assert_eq!(r.p.weight("prod", GREEN), Some(100));
    assert_eq!(r.d.status, Status::Succeeded);
}

#[test]
fn linear_steps_every_interval() {
    let mut p = plan(false);
    p.schedule = schedule_checked(&TrafficRoutingConfig {
        kind: Some("TimeBasedLinear".into()),
        time_based_linear: Some(TimeBasedLinear {
            linear_percentage: Some(25),
            linear_interval: Some(1),
        }),
        ..Default::default()
    })
    .unwrap();
    let mut r = Run::new(p);
    let mut seen = Vec::new();
    for _ in 0..300 {
        r.step();
        r.t += 1.0;
        let w = r.p.weight("prod", GREEN).unwrap_or(0);
        if seen.last() != Some(&w) {
            seen.push(w);
        }
    }
    assert_eq!(seen, vec![0, 25, 50, 75, 100]);
    assert_eq!(r.d.status, Status::Succeeded);
}

#[test]
fn stop_deployment_ready_option_waits_in_ready_until_continued() {
    let mut p = plan(true);
    p.blue_green.deployment_ready_option = Some(DeploymentReadyOption {
        action_on_timeout: Some("STOP_DEPLOYMENT".into()),
        wait_time_in_minutes: Some(30),
    });
    let mut r = Run::new(p);
    r.run_until(100.0);
    assert_eq!(r.d.status, Status::Ready);
    assert_eq!(r.d.target_status, Phase::Ready);
    assert_eq!(
        r.p.weight("test", GREEN),
        Some(100),
        "the test listener serves the replacement"
    );
    assert_eq!(
        r.p.weight("prod", BLUE),
        Some(100),
        "production still serves the original"
    );
    r.d.continue_from_ready();
    r.run_until(105.0);
    assert_eq!(r.d.status, Status::Succeeded);
}

#[test]
fn an_expired_ready_wait_stops_the_deployment() {
    let mut p = plan(true);
    p.blue_green.deployment_ready_option = Some(DeploymentReadyOption {
        action_on_timeout: Some("STOP_DEPLOYMENT".into()),
        wait_time_in_minutes: Some(1),
    });
    let mut r = Run::new(p);
    r.run_until(70.0);
    assert_eq!(r.d.status, Status::Stopped);
    assert_eq!(r.d.error.as_ref().unwrap().0, "TIMEOUT");
}

const HOOKED: &str = r#"{"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
    "TaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2", "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}],
    "Hooks": [{"AfterAllowTestTraffic": "validate"}]}"#;

#[test]
fn a_hook_holds_its_event_until_it_reports() {
    let mut p = plan(true);
    p.appspec = appspec::parse(HOOKED);
    let mut r = Run::new(p);
    r.run_until(50.0);
    assert_eq!(r.d.status, Status::InProgress);
    assert_eq!(r.h.invoked.len(), 1);
    let (event, function, exec) = r.h.invoked[0].clone();
    assert_eq!(
        (event.as_str(), function.as_str()),
        ("AfterAllowTestTraffic", "validate")
    );
    assert_eq!(r.d.events[4].status, Phase::InProgress);
    assert_eq!(
        r.d.report_hook("nope", Ok(())),
        Err(HookReportError::Unknown)
    );
    r.d.report_hook(&exec, Ok(())).unwrap();
    assert_eq!(
        r.d.report_hook(&exec, Ok(())),
        Err(HookReportError::AlreadyCompleted)
    );
    r.run_until(55.0);
    assert_eq!(r.d.status, Status::Succeeded);
}

#[test]
fn a_failed_hook_fails_the_deployment_and_rolls_back_when_configured() {
    let mut p = plan(true);
    p.appspec = appspec::parse(HOOKED);
    p.auto_rollback = AutoRollbackConfiguration {
        enabled: true,
        events: vec!["DEPLOYMENT_FAILURE".into()],
    };
    let mut r = Run::new(p);
    r.run_until(5.0);
    let exec = r.h.invoked[0].2.clone();
    r.d.report_hook(&exec, Err("validation failed".into()))
        .unwrap();
    r.run_until(10.0);
    assert_eq!(r.d.status, Status::Failed);
    assert_eq!(r.d.error.as_ref().unwrap().0, "HOOK_EXECUTION_FAILURE");
    assert_eq!(r.events()[4], ("AfterAllowTestTraffic", "Failed"));
    assert_eq!(r.events()[5], ("BeforeAllowTraffic", "Skipped"));
    let rb = r.rollback.as_ref().expect("a rollback deployment");
    assert_eq!(rb.status, Status::Succeeded);
    assert_eq!(rb.creator, "codeDeployRollback");
    assert_eq!(
        rb.rollback_info.triggering_deployment_id.as_deref(),
        Some("d-TEST00001")
    );
    assert_eq!(
        r.d.rollback_info.deployment_id.as_deref(),
        Some(rb.id.as_str())
    );
    assert_eq!(r.p.weight("test", BLUE), Some(100));
    assert_eq!(r.p.weight("prod", BLUE), Some(100));
    assert_eq!(r.p.primary().id, "ecs-svc/1");
    assert_eq!(r.p.task_sets.len(), 1, "the replacement is deleted");
}

#[test]
fn an_unmapped_hook_fails_its_event_with_the_reason() {
    let mut p = plan(true);
    p.appspec = appspec::parse(HOOKED);
    let mut r = Run::new(p);
    r.h.fail = true;
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Failed);
    let (code, message) = r.d.error.clone().unwrap();
    assert_eq!(code, "HOOK_EXECUTION_FAILURE");
    assert!(message.contains("validate"), "{message}");
    assert!(r.rollback.is_none(), "no rollback unless configured");
    assert_eq!(
        r.p.task_sets.len(),
        2,
        "without rollback the replacement stays"
    );
}

#[test]
fn an_unhealthy_replacement_fails_after_an_hour_and_rolls_back() {
    let mut p = plan(false);
    p.auto_rollback = AutoRollbackConfiguration {
        enabled: true,
        events: vec!["DEPLOYMENT_FAILURE".into()],
    };
    let mut r = Run::new(p);
    r.p.healthy = false;
    r.run_until(3500.0);
    assert_eq!(r.d.status, Status::InProgress);
    assert_eq!(r.d.events[1].status, Phase::InProgress);
    r.run_until(3610.0);
    assert_eq!(r.d.status, Status::Failed);
    assert_eq!(r.d.error.as_ref().unwrap().0, "ECS_UPDATE_ERROR");
    assert_eq!(r.rollback.as_ref().unwrap().status, Status::Succeeded);
    assert_eq!(r.p.task_sets.len(), 1);
    assert_eq!(r.p.weight("prod", BLUE), Some(100));
}

#[test]
fn a_replacement_that_heals_in_time_goes_on() {
    let mut r = Run::new(plan(false));
    r.p.healthy = false;
    r.run_until(100.0);
    r.p.heal();
    r.run_until(105.0);
    assert_eq!(r.d.status, Status::Succeeded);
}

#[test]
fn stop_with_rollback_during_the_termination_wait_restores_the_original() {
    let mut p = plan(true);
    p.blue_green
        .terminate_blue_instances_on_deployment_success
        .as_mut()
        .unwrap()
        .termination_wait_time_in_minutes = Some(60);
    let mut r = Run::new(p);
    r.run_until(5.0);
    assert_eq!(r.p.primary().id, "ecs-svc/2");
    r.d.request_stop(Some(true));
    r.step();
    assert_eq!(r.d.status, Status::Stopped);
    assert_eq!(r.d.error.as_ref().unwrap().0, "MANUAL_STOP");
    assert_eq!(r.rollback.as_ref().unwrap().status, Status::Succeeded);
    assert_eq!(r.p.primary().id, "ecs-svc/1");
    assert_eq!(r.p.task_sets.len(), 1);
    assert_eq!(r.p.weight("prod", BLUE), Some(100));
    assert_eq!(r.p.weight("test", BLUE), Some(100));
}

#[test]
fn a_rollback_runs_until_the_replacement_it_deleted_has_drained() {
    let mut p = plan(true);
    p.blue_green
        .terminate_blue_instances_on_deployment_success
        .as_mut()
        .unwrap()
        .termination_wait_time_in_minutes = Some(60);
    let mut r = Run::new(p);
    r.run_until(5.0);
    r.p.slow_drain = true;
    r.d.request_stop(Some(true));
    r.step();
    assert_eq!(r.d.status, Status::Stopped);
    let rb = r.rollback.as_ref().unwrap();
    // Traffic is back on the original, which is PRIMARY again; the replacement drains.
    assert_eq!(r.p.weight("prod", BLUE), Some(100));
    assert_eq!(r.p.primary().id, "ecs-svc/1");
    assert_eq!(rb.status, Status::InProgress);
    assert_eq!(
        r.p.task_sets
            .iter()
            .map(|t| (t.id.as_str(), t.status.as_str()))
            .collect::<Vec<_>>(),
        vec![("ecs-svc/1", "PRIMARY"), ("ecs-svc/2", "DRAINING")]
    );
    for _ in 0..5 {
        r.t += 60.0;
        r.step();
    }
    assert_eq!(r.rollback.as_ref().unwrap().status, Status::InProgress);
    r.p.drain();
    r.step();
    let rb = r.rollback.as_ref().unwrap();
    assert_eq!(rb.status, Status::Succeeded, "{:?}", rb.error);
    assert_eq!(r.p.task_sets.len(), 1);
}

#[test]
fn stop_without_rollback_leaves_everything_as_it_is() {
    let mut p = plan(true);
    p.blue_green.deployment_ready_option = Some(DeploymentReadyOption {
        action_on_timeout: Some("STOP_DEPLOYMENT".into()),
        wait_time_in_minutes: Some(30),
    });
    let mut r = Run::new(p);
    r.run_until(5.0);
    r.d.request_stop(None);
    r.step();
    assert_eq!(r.d.status, Status::Stopped);
    assert!(r.rollback.is_none());
    assert_eq!(r.p.task_sets.len(), 2);
}

#[test]
fn an_alarm_in_alarm_stops_the_deployment_and_rolls_back_on_alarm() {
    let mut p = plan(true);
    p.blue_green.deployment_ready_option = Some(DeploymentReadyOption {
        action_on_timeout: Some("STOP_DEPLOYMENT".into()),
        wait_time_in_minutes: Some(30),
    });
    p.group_alarms = AlarmConfiguration {
        enabled: true,
        ignore_poll_alarm_failure: false,
        alarms: vec![Alarm {
            name: "errors".into(),
        }],
    };
    p.auto_rollback = AutoRollbackConfiguration {
        enabled: true,
        events: vec!["DEPLOYMENT_STOP_ON_ALARM".into()],
    };
    let mut r = Run::new(p);
    r.p.alarms = vec![("errors".into(), "OK".into())];
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Ready);
    r.p.alarms = vec![("errors".into(), "ALARM".into())];
    r.step();
    assert_eq!(r.d.status, Status::Stopped);
    assert_eq!(r.d.error.as_ref().unwrap().0, "ALARM_ACTIVE");
    assert_eq!(r.rollback.as_ref().unwrap().status, Status::Succeeded);
    assert_eq!(r.p.task_sets.len(), 1);
}

#[test]
fn a_missing_alarm_stops_unless_poll_failures_are_ignored() {
    let mut p = plan(false);
    p.group_alarms = AlarmConfiguration {
        enabled: true,
        ignore_poll_alarm_failure: false,
        alarms: vec![Alarm {
            name: "gone".into(),
        }],
    };
    let mut r = Run::new(p.clone());
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Stopped);
    p.group_alarms.ignore_poll_alarm_failure = true;
    let mut r = Run::new(p);
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Succeeded);
}

#[test]
fn an_invalid_appspec_fails_the_deployment() {
    let mut p = plan(false);
    p.appspec = appspec::parse("Resources: [");
    let mut r = Run::new(p);
    r.step();
    assert_eq!(r.d.status, Status::Failed);
    assert_eq!(r.d.error.as_ref().unwrap().0, "INVALID_REVISION");
    assert!(r.p.calls.is_empty());
}

#[test]
fn a_listener_that_does_not_forward_to_the_pair_fails_the_deployment() {
    let mut r = Run::new(plan(false));
    r.p.listeners.insert(
        "prod".into(),
        vec![json!({"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}})],
    );
    r.run_until(3.0);
    assert_eq!(r.d.status, Status::Failed);
    assert_eq!(
        r.d.error.as_ref().unwrap().0,
        "ELASTIC_LOAD_BALANCING_INVALID"
    );
}

#[test]
fn a_production_listener_that_does_not_serve_the_primary_fails_the_deployment_at_once() {
    // The listener forwards to the pair, but to the group the replacement would use.
    let mut r = Run::new(plan(false));
    r.p.listeners.insert(
        "prod".into(),
        vec![json!({"Type": "forward", "TargetGroupArn": GREEN})],
    );
    r.run_until(3.0);
    assert_eq!(r.d.status, Status::Failed);
    let (code, message) = r.d.error.clone().unwrap();
    assert_eq!(code, "ELASTIC_LOAD_BALANCING_INVALID");
    assert_eq!(
        message,
        "The ELB could not be updated due to the following error: Primary taskset target group must be behind listener prod"
    );
    // Nothing was created or changed, so there is nothing to roll back.
    assert!(r.p.calls.is_empty(), "{:?}", r.p.calls);
    assert!(r.rollback.is_none());

    // At weight 0 in a weighted forward the primary's group is still behind the listener.
    let mut r = Run::new(plan(false));
    r.p.listeners.insert(
        "prod".into(),
        vec![
            json!({"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": GREEN, "Weight": 100}, {"TargetGroupArn": BLUE, "Weight": 0}]}}),
        ],
    );
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Succeeded, "{:?}", r.d.error);
}

#[test]
fn a_primary_outside_the_pair_fails_the_deployment_with_aws_words() {
    let mut r = Run::new(plan(false));
    r.p.task_sets[0].load_balancers = vec![
        json!({"targetGroupArn": "arn:tg/other", "containerName": "web", "containerPort": 80}),
    ];
    r.run_until(3.0);
    assert_eq!(r.d.status, Status::Failed);
    let (code, message) = r.d.error.clone().unwrap();
    assert_eq!(code, "ELASTIC_LOAD_BALANCING_INVALID");
    assert!(
        message.starts_with("A deployment group associated with an application that uses the ECS compute platform must contain a valid pair of target groups that identify a load balancer."),
        "{message}"
    );
}

#[test]
fn reweight_keeps_other_actions_and_stickiness() {
    let r = Resolved {
        cluster: "demo".into(),
        service: "web".into(),
        service_arn: String::new(),
        original: "ecs-svc/1".into(),
        original_tg: TargetGroupView {
            arn: BLUE.into(),
            name: "blue".into(),
        },
        replacement: None,
        replacement_tg: TargetGroupView {
            arn: GREEN.into(),
            name: "green".into(),
        },
        prod_listener: "prod".into(),
        test_listener: None,
    };
    let actions = vec![
        json!({"Type": "authenticate-oidc", "Order": 1}),
        json!({"Type": "forward", "Order": 2, "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": BLUE, "Weight": 1}],
               "TargetGroupStickinessConfig": {"Enabled": true, "DurationSeconds": 60}}}),
    ];
    let out = reweight(&actions, &r, 10).unwrap();
    assert_eq!(out[0], actions[0]);
    assert_eq!(out[1]["Order"], 2);
    assert_eq!(
        out[1]["ForwardConfig"]["TargetGroups"],
        json!([{"TargetGroupArn": GREEN, "Weight": 10}, {"TargetGroupArn": BLUE, "Weight": 90}])
    );
    assert_eq!(
        out[1]["ForwardConfig"]["TargetGroupStickinessConfig"]["Enabled"],
        true
    );
    assert!(
        reweight(
            &[json!({"Type": "forward", "TargetGroupArn": "arn:other"})],
            &r,
            10
        )
        .is_none()
    );
}

#[test]
fn a_later_deployment_removes_what_a_failed_one_left_behind() {
    let mut p = plan(true);
    p.appspec = appspec::parse(HOOKED);
    let mut r = Run::new(p);
    r.h.fail = true;
    r.run_until(5.0);
    assert_eq!(r.d.status, Status::Failed);
    assert_eq!(r.p.task_sets.len(), 2);
    let mut next = Deployment::new("d-TEST00002".into(), plan(true), r.t);
    let mut hooks = FakeHooks::default();
    for t in 0..5 {
        let mut env = Env {
            platform: &mut r.p,
            hooks: &mut hooks,
            now: r.t + t as f64,
            scale: 1.0,
        };
        next.advance(&mut env);
    }
    assert_eq!(next.status, Status::Succeeded, "{:?}", next.error);
    assert!(
        r.p.calls.contains(&"DeleteTaskSet ecs-svc/2".to_string()),
        "{:?}",
        r.p.calls
    );
    assert_eq!(r.p.task_sets.len(), 1);
    assert_eq!(r.p.primary().id, "ecs-svc/3");
}

/// The controller reads `cx.now` before it waits for the world lock; the times a deployment reports
/// (here its start) must be read under the lock, or a client comparing them with its own clock could
/// see a request it sent "after" a listener switch routed before it.
#[test]
fn live_steps_are_stamped_under_the_lock_not_with_a_stale_now() {
    use crate::world::{RegionKey, Shared, World};

    let shared = Shared::for_tests();
    let mut world = World::default();
    let key = RegionKey {
        account: "123456789012".into(),
        region: "us-east-1".into(),
    };
    let mut cx = world.ctx(&shared, &key, 1_000.0); // `now` read long before the step runs
    let id = "d-TEST00001".to_string();
    cx.region
        .codedeploy
        .deployments
        .insert(id.clone(), Deployment::new(id.clone(), plan(true), 1_000.0));
    let before = shared.clock.now_epoch();
    advance_one(&mut cx, &id);
    let d = &cx.region.codedeploy.deployments[&id];
    // No such service in this world: the deployment starts and fails at once, stamped with real time.
    assert_eq!(d.status, Status::Failed);
    assert!(
        d.start_time.is_some_and(|t| t >= before),
        "{:?}",
        d.start_time
    );
    assert!(d.complete_time.is_some_and(|t| t >= before));
}
