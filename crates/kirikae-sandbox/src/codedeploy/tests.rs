//! CodeDeploy against a region built through the services' own operations: what it refuses, and how
//! its deployments fail, where that depends on what ECS and ELBv2 hold.

use serde_json::json;

use crate::testkit::Kit;

#[test]
fn a_production_listener_that_does_not_serve_the_primary_fails_the_deployment() {
    let mut k = Kit::with_service();
    k.codedeploy_ok(
        "CreateApplication",
        json!({"applicationName": "app", "computePlatform": "ECS"}),
    );
    // The service serves from blue; the production listener forwards to green.
    let (prod, green) = (k.prod.clone(), k.green.clone());
    k.elbv2_ok(
        "ModifyListener",
        json!({"ListenerArn": prod, "DefaultActions": [{"Type": "forward", "TargetGroupArn": green}]}),
    );
    // CreateDeploymentGroup does not look at what the listeners forward to.
    let input = k.group_input(&k.prod.clone(), None);
    k.codedeploy_ok("CreateDeploymentGroup", input);
    let id = k.deploy();
    k.advance_deployments();
    let d = k.deployment(&id);
    assert_eq!(d["status"], "Failed");
    assert_eq!(
        d["errorInformation"]["code"],
        "ELASTIC_LOAD_BALANCING_INVALID"
    );
    assert_eq!(
        d["errorInformation"]["message"],
        format!(
            "The ELB could not be updated due to the following error: Primary taskset target group must be behind listener {}",
            k.prod
        )
    );
    // No replacement task set was created.
    assert_eq!(k.service()["taskSets"].as_array().unwrap().len(), 1);
}

#[test]
fn a_production_route_takes_exactly_one_listener() {
    let mut k = Kit::with_service();
    k.codedeploy_ok(
        "CreateApplication",
        json!({"applicationName": "app", "computePlatform": "ECS"}),
    );
    let mut input = k.group_input(&k.prod.clone(), None);
    input["loadBalancerInfo"]["targetGroupPairInfoList"][0]["prodTrafficRoute"]["listenerArns"] =
        json!([k.prod, k.test]);
    let e = k
        .codedeploy("CreateDeploymentGroup", input)
        .expect_err("two production listeners");
    assert_eq!(e.code, "InvalidTrafficRoutingConfigurationException");
    assert_eq!(
        e.message,
        "Production traffic route must have exactly one listener Arn"
    );
}

/// A test listener on another load balancer: an ALB target group serves one load balancer, so
/// CodeDeploy's ModifyListener of that listener to the replacement's group (already behind the
/// production listener, at weight 0, since Install) is refused by ELBv2, and the deployment fails at
/// AllowTestTraffic (see tests/python/test_aws_refusals.py for the whole deployment).
#[test]
fn a_target_group_serves_one_load_balancer() {
    let mut k = Kit::with_service();
    let other_lb = k.load_balancer("other-alb");
    let other_tg = k.target_group("other");
    let other = k.listener(&other_lb, 8080, &other_tg);
    let (prod, blue, green) = (k.prod.clone(), k.blue.clone(), k.green.clone());
    k.elbv2_ok(
        "ModifyListener",
        json!({"ListenerArn": prod, "DefaultActions": [{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": green, "Weight": 0}, {"TargetGroupArn": blue, "Weight": 100}]}}]}),
    );
    let e = k
        .elbv2(
            "ModifyListener",
            json!({"ListenerArn": other, "DefaultActions": [{"Type": "forward", "TargetGroupArn": green}]}),
        )
        .expect_err("green is behind the first load balancer");
    assert_eq!(e.code, "TargetGroupAssociationLimitException");
}

#[test]
fn an_ecs_deployment_has_exactly_one_target_to_batch_get() {
    let mut k = Kit::with_group();
    let id = k.deploy();
    k.advance_deployments();
    assert_eq!(k.deployment(&id)["status"], "InProgress");
    let one = k.codedeploy_ok(
        "BatchGetDeploymentTargets",
        json!({"deploymentId": id, "targetIds": ["demo:web"]}),
    );
    assert_eq!(
        one["deploymentTargets"][0]["ecsTarget"]["targetId"],
        "demo:web"
    );
    for ids in [
        json!(["demo:web", "demo:web"]),
        json!(["demo:web", "demo:other"]),
    ] {
        let e = k
            .codedeploy(
                "BatchGetDeploymentTargets",
                json!({"deploymentId": id, "targetIds": ids}),
            )
            .expect_err("more than one target id");
        assert_eq!(e.code, "DeploymentTargetListSizeExceededException");
    }
    let e = k
        .codedeploy(
            "BatchGetDeploymentTargets",
            json!({"deploymentId": id, "targetIds": ["demo:other"]}),
        )
        .expect_err("not this deployment's target");
    assert_eq!(e.code, "DeploymentTargetDoesNotExistException");
}

#[test]
fn stop_deployment_is_pending_until_the_controller_acts_and_the_rollback_takes_time() {
    let mut k = Kit::with_group();
    let id = k.deploy();
    k.advance_deployments();
    assert_eq!(k.deployment(&id)["status"], "InProgress");
    // Install has created the replacement task set (its tasks are not started in this test).
    assert_eq!(k.service()["taskSets"].as_array().unwrap().len(), 2);

    let out = k.codedeploy_ok(
        "StopDeployment",
        json!({"deploymentId": id, "autoRollbackEnabled": true}),
    );
    assert_eq!(out["status"], "Pending");
    assert_eq!(
        out["statusMessage"],
        "Stopping Pending. Stopping to schedule commands in the deployment instances"
    );
    assert_eq!(k.deployment(&id)["status"], "InProgress");

    k.advance_deployments();
    let d = k.deployment(&id);
    assert_eq!(d["status"], "Stopped");
    assert_eq!(d["errorInformation"]["code"], "MANUAL_STOP");
    let rb = d["rollbackInfo"]["rollbackDeploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(k.deployment(&rb)["status"], "Created");
    // A second stop is refused: the deployment is over.
    let e = k
        .codedeploy("StopDeployment", json!({"deploymentId": id}))
        .unwrap_err();
    assert_eq!(e.code, "DeploymentAlreadyCompletedException");

    // The rollback reroutes and deletes the replacement, then waits for ECS to drain it.
    for _ in 0..3 {
        k.advance_deployments();
    }
    let rollback = k.deployment(&rb);
    assert_eq!(rollback["status"], "InProgress");
    assert_eq!(rollback["creator"], "codeDeployRollback");
    let sets: Vec<String> = k.service()["taskSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sets, ["PRIMARY", "DRAINING"]);
}
