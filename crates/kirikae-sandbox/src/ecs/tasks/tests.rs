//! Placement: a task that cannot get an address (the sandbox's task cap, or its used-up loopback block)
//! is a RunTask failure or a service event, never a task on a reused address.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::addr::MAX_LIVE_TASKS;
use crate::world::{Ctx, RegionKey, Shared, World};

struct Fixture {
    shared: Arc<Shared>,
    world: World,
    now: f64,
}

impl Fixture {
    fn new() -> Fixture {
        let mut f = Fixture {
            shared: Shared::for_tests(),
            world: World::default(),
            now: 1_700_000_000.0,
        };
        f.ok("CreateCluster", json!({"clusterName": "demo"}));
        f.ok(
            "RegisterTaskDefinition",
            json!({
                "family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                "requiresCompatibilities": ["FARGATE"],
                "containerDefinitions": [{"name": "web", "image": "kirikae/demo:v1", "essential": true}]
            }),
        );
        f
    }

    fn cx(&mut self) -> Ctx<'_> {
        let key = RegionKey {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        self.world.ctx(&self.shared, &key, self.now)
    }

    fn call(&mut self, op: &str, input: Value) -> Result<Value, crate::protocol::ApiError> {
        crate::ecs::handle(&mut self.cx(), op, &input)
    }

    fn ok(&mut self, op: &str, input: Value) -> Value {
        self.call(op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    /// Take every task slot left, as if the sandbox ran `MAX_LIVE_TASKS` tasks.
    fn fill_up(&self) {
        while self.shared.addrs.place_task().is_ok() {}
        assert_eq!(self.shared.addrs.live_tasks(), MAX_LIVE_TASKS);
    }
}

fn network() -> Value {
    json!({"awsvpcConfiguration": {"subnets": ["subnet-a"]}})
}

#[test]
fn run_task_reports_unplaceable_tasks_as_failures() {
    let mut f = Fixture::new();
    let out = f.ok(
        "RunTask",
        json!({"cluster": "demo", "taskDefinition": "web", "count": 2, "launchType": "FARGATE",
               "networkConfiguration": network()}),
    );
    assert_eq!(out["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(out["failures"], json!([]));
    assert_eq!(f.shared.addrs.live_tasks(), 2);
    // Stopped tasks give their place back.
    for t in out["tasks"].as_array().unwrap() {
        f.ok("StopTask", json!({"cluster": "demo", "task": t["taskArn"]}));
    }
    for _ in 0..3 {
        f.now += 60.0;
        crate::ecs::reconcile(&mut f.cx());
    }
    assert_eq!(f.shared.addrs.live_tasks(), 0);

    f.fill_up();
    let out = f.ok(
        "RunTask",
        json!({"cluster": "demo", "taskDefinition": "web", "count": 3, "launchType": "FARGATE",
               "networkConfiguration": network()}),
    );
    assert_eq!(out["tasks"], json!([]));
    let failures = out["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 3);
    let reason = failures[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "You've reached the limit on the number of tasks you can run concurrently"
        ),
        "{reason}"
    );
}

#[test]
fn a_service_that_cannot_place_tasks_says_so_and_retries_later() {
    let mut f = Fixture::new();
    f.fill_up();
    f.ok(
        "CreateService",
        json!({"cluster": "demo", "serviceName": "web", "taskDefinition": "web", "desiredCount": 2,
               "launchType": "FARGATE", "networkConfiguration": network()}),
    );
    crate::ecs::reconcile(&mut f.cx());
    let svc = f.ok(
        "DescribeServices",
        json!({"cluster": "demo", "services": ["web"]}),
    );
    let events: Vec<&str> = svc["services"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        events.iter().any(|m| m.starts_with(
            "(service web) was unable to place a task. Reason: You've reached the limit"
        )),
        "{events:?}"
    );
    let tasks = f.ok("ListTasks", json!({"cluster": "demo"}));
    assert_eq!(tasks["taskArns"], json!([]));
    // A second pass right away does not repeat the attempt (nor the event).
    crate::ecs::reconcile(&mut f.cx());
    let svc = f.ok(
        "DescribeServices",
        json!({"cluster": "demo", "services": ["web"]}),
    );
    assert_eq!(
        svc["services"][0]["events"].as_array().unwrap().len(),
        events.len()
    );
}

#[test]
fn desired_count_is_capped() {
    let mut f = Fixture::new();
    let err = f
        .call(
            "CreateService",
            json!({"cluster": "demo", "serviceName": "web", "taskDefinition": "web", "desiredCount": 101,
                   "launchType": "FARGATE", "networkConfiguration": network()}),
        )
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
    assert!(
        err.message.contains("limit of 100 tasks per service"),
        "{err}"
    );
    f.ok(
        "CreateService",
        json!({"cluster": "demo", "serviceName": "web", "taskDefinition": "web", "desiredCount": 100,
               "launchType": "FARGATE", "networkConfiguration": network()}),
    );
    let err = f
        .call(
            "UpdateService",
            json!({"cluster": "demo", "service": "web", "desiredCount": 5000}),
        )
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
}

#[test]
fn run_task_refuses_an_override_for_a_container_the_task_definition_lacks() {
    let mut f = Fixture::new();
    let err = f
        .call(
            "RunTask",
            json!({"cluster": "demo", "taskDefinition": "web", "launchType": "FARGATE",
                   "networkConfiguration": network(),
                   "overrides": {"containerOverrides": [{"name": "migrate", "command": ["exit", "0"]}]}}),
        )
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
    assert_eq!(
        err.message,
        "Override for container named migrate is not a container in the TaskDefinition."
    );
    assert_eq!(f.shared.addrs.live_tasks(), 0, "nothing was started");
}

#[test]
fn run_task_keeps_the_command_override_and_echoes_the_overrides() {
    let mut f = Fixture::new();
    let overrides = json!({"containerOverrides": [{"name": "web", "command": ["exit", "3"],
                           "environment": [{"name": "MODE", "value": "migrate"}]}]});
    let out = f.ok(
        "RunTask",
        json!({"cluster": "demo", "taskDefinition": "web", "launchType": "FARGATE",
               "networkConfiguration": network(), "startedBy": "kirikae", "group": "migrations",
               "overrides": overrides}),
    );
    let t = &out["tasks"][0];
    assert_eq!(t["overrides"], overrides);
    assert_eq!(t["startedBy"], "kirikae");
    assert_eq!(t["group"], "migrations");
    let id = t["taskArn"].as_str().unwrap().rsplit('/').next().unwrap();
    let task = f.cx().region.ecs.clusters.active("demo").unwrap().tasks[id].clone();
    assert_eq!(task.containers[0].command, ["exit", "3"]);
    assert!(
        task.containers[0]
            .environment
            .contains(&("MODE".to_string(), "migrate".to_string()))
    );
}

#[test]
fn run_task_retried_with_its_client_token_starts_nothing_more() {
    let mut f = Fixture::new();
    let call = json!({"cluster": "demo", "taskDefinition": "web", "launchType": "FARGATE",
                      "networkConfiguration": network(), "clientToken": "run-1"});
    let first = f.ok("RunTask", call.clone());
    let again = f.ok("RunTask", call);
    assert_eq!(again["tasks"][0]["taskArn"], first["tasks"][0]["taskArn"]);
    assert_eq!(f.shared.addrs.live_tasks(), 1);
}
