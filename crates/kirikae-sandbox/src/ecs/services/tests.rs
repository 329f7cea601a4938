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
