//! CreateService and UpdateService refuse what AWS refuses, checked against a region built through
//! the services' own operations.

use serde_json::json;

use crate::testkit::Kit;

fn refusal(k: &mut Kit, op: &str, input: serde_json::Value) -> (String, String) {
    let e = k.ecs(op, input).expect_err("refused");
    (e.code, e.message)
}

#[test]
fn a_code_deploy_service_needs_a_load_balancer() {
    let mut k = Kit::new();
    let mut input = k.service_input("CODE_DEPLOY");
    input.as_object_mut().unwrap().remove("loadBalancers");
    let (code, message) = refusal(&mut k, "CreateService", input.clone());
    assert_eq!(code, "InvalidParameterException");
    assert!(message.contains("CODE_DEPLOY"), "{message}");
    input["loadBalancers"] = json!([]);
    assert_eq!(
        refusal(&mut k, "CreateService", input).0,
        "InvalidParameterException"
    );
    // Nothing was created.
    let out = k.ecs_ok(
        "DescribeServices",
        json!({"cluster": "demo", "services": ["web"]}),
    );
    assert_eq!(out["failures"][0]["reason"], "MISSING");

    // The ECS and EXTERNAL controllers run without one.
    let mut ecs = k.service_input("ECS");
    ecs.as_object_mut().unwrap().remove("loadBalancers");
    k.ecs_ok("CreateService", ecs);
    let with_lb = k.service_input("CODE_DEPLOY");
    let mut cd = with_lb.clone();
    cd["serviceName"] = json!("web-cd");
    k.ecs_ok("CreateService", cd);
}

#[test]
fn task_set_scale_is_refused_outside_0_to_100() {
    let mut k = Kit::new();
    let mut input = k.service_input("EXTERNAL");
    for key in [
        "taskDefinition",
        "loadBalancers",
        "launchType",
        "networkConfiguration",
    ] {
        input.as_object_mut().unwrap().remove(key);
    }
    k.ecs_ok("CreateService", input);
    let create = |k: &Kit, scale: serde_json::Value| {
        json!({"cluster": "demo", "service": "web", "taskDefinition": k.td, "launchType": "FARGATE",
               "networkConfiguration": crate::testkit::network(), "scale": scale})
    };
    for bad in [101.0, -0.5] {
        let input = create(&k, json!({"value": bad, "unit": "PERCENT"}));
        let (code, _) = refusal(&mut k, "CreateTaskSet", input);
        assert_eq!(code, "InvalidParameterException", "{bad}");
    }
    let input = create(&k, json!({"value": 100.0, "unit": "PERCENT"}));
    let set = k.ecs_ok("CreateTaskSet", input)["taskSet"].clone();
    assert_eq!(set["scale"]["value"], 100.0);
    assert_eq!(set["computedDesiredCount"], 1);
    let update = |scale: f64| {
        json!({"cluster": "demo", "service": "web", "taskSet": set["id"],
               "scale": {"value": scale, "unit": "PERCENT"}})
    };
    let (code, _) = refusal(&mut k, "UpdateTaskSet", update(150.0));
    assert_eq!(code, "InvalidParameterException");
    let sets = k.ecs_ok(
        "DescribeTaskSets",
        json!({"cluster": "demo", "service": "web"}),
    );
    assert_eq!(sets["taskSets"][0]["scale"]["value"], 100.0, "unchanged");
    let out = k.ecs_ok("UpdateTaskSet", update(0.0));
    assert_eq!(out["taskSet"]["computedDesiredCount"], 0);
}
