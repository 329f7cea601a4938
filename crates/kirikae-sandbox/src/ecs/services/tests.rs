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

#[test]
fn update_service_on_a_code_deploy_service_changes_only_what_aws_lets_it() {
    let mut k = Kit::with_service();
    let update = |extra: serde_json::Value| {
        let mut input = json!({"cluster": "demo", "service": "web"});
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };
    // Refused by the mere presence of the member, naming it.
    let td = k.td.clone();
    for (extra, named) in [
        (json!({"taskDefinition": td}), "task definition"),
        (
            json!({"networkConfiguration": crate::testkit::network()}),
            "network parameters",
        ),
        (json!({"loadBalancers": []}), "load balancers"),
        (json!({"platformVersion": "LATEST"}), "platform version"),
        (json!({"serviceRegistries": []}), "service registries"),
        (
            json!({"serviceConnectConfiguration": {"enabled": false}}),
            "service connect configuration",
        ),
        (json!({"volumeConfigurations": []}), "volume configurations"),
        (
            json!({"vpcLatticeConfigurations": []}),
            "VPC Lattice configurations",
        ),
    ] {
        let (code, message) = refusal(&mut k, "UpdateService", update(extra));
        assert_eq!(code, "InvalidParameterException");
        assert_eq!(
            message,
            format!(
                "Unable to update {named} on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."
            )
        );
    }
    let (_, message) = refusal(
        &mut k,
        "UpdateService",
        update(json!({"forceNewDeployment": true})),
    );
    assert_eq!(
        message,
        "Cannot force a new deployment on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."
    );
    for dc in [
        json!({"alarms": {"alarmNames": ["a"], "enable": true, "rollback": true}}),
        json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}}),
    ] {
        let (_, message) = refusal(
            &mut k,
            "UpdateService",
            update(json!({"deploymentConfiguration": dc})),
        );
        assert!(
            message.contains("only supported with ECS deployment controller"),
            "{message}"
        );
    }
    // A capacity provider strategy is not silently dropped: changing it needs a forced deployment,
    // which a CODE_DEPLOY service cannot have.
    let (code, message) = refusal(
        &mut k,
        "UpdateService",
        update(
            json!({"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}),
        ),
    );
    assert_eq!(code, "InvalidParameterException");
    assert!(
        message.ends_with("you must force a new deployment."),
        "{message}"
    );
    // Leaving the launch type as it is (no strategy) is no change.
    k.ecs_ok(
        "UpdateService",
        update(json!({"capacityProviderStrategy": []})),
    );

    // What AWS lets it change.
    let svc = k.ecs_ok(
        "UpdateService",
        update(json!({
            "desiredCount": 2, "healthCheckGracePeriodSeconds": 30, "enableECSManagedTags": true,
            "propagateTags": "SERVICE", "enableExecuteCommand": true,
            "placementConstraints": [], "placementStrategy": [],
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 50},
        })),
    )["service"]
        .clone();
    assert_eq!(svc["desiredCount"], 2);
    assert_eq!(svc["healthCheckGracePeriodSeconds"], 30);
    assert_eq!(svc["propagateTags"], "SERVICE");
    assert_eq!(svc["enableExecuteCommand"], true);
    assert_eq!(svc["deploymentConfiguration"]["minimumHealthyPercent"], 50);
    assert_eq!(svc["taskSets"].as_array().unwrap().len(), 1);
}

#[test]
fn an_ecs_service_changes_its_capacity_providers_only_with_a_forced_deployment() {
    let mut k = Kit::new();
    let mut input = k.service_input("ECS");
    input.as_object_mut().unwrap().remove("launchType");
    input["capacityProviderStrategy"] = json!([{"capacityProvider": "FARGATE", "weight": 1}]);
    k.ecs_ok("CreateService", input);
    let spot = json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}]);
    let (_, message) = refusal(
        &mut k,
        "UpdateService",
        json!({"cluster": "demo", "service": "web", "capacityProviderStrategy": spot}),
    );
    assert!(
        message.ends_with("you must force a new deployment."),
        "{message}"
    );
    // The same strategy again (base and weight defaults spelled out) is no change.
    k.ecs_ok(
        "UpdateService",
        json!({"cluster": "demo", "service": "web",
               "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]}),
    );
    let svc = k.ecs_ok(
        "UpdateService",
        json!({"cluster": "demo", "service": "web", "capacityProviderStrategy": spot,
               "forceNewDeployment": true}),
    )["service"]
        .clone();
    assert_eq!(svc["capacityProviderStrategy"], spot);
    assert_eq!(svc["deployments"].as_array().unwrap().len(), 2);
}

#[test]
fn clients_manage_task_sets_of_external_services_only() {
    let mut k = Kit::with_service();
    let primary = k.service()["taskSets"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let scale = json!({"value": 100.0, "unit": "PERCENT"});
    let create = json!({"cluster": "demo", "service": "web", "taskDefinition": k.td,
                        "launchType": "FARGATE", "networkConfiguration": crate::testkit::network(),
                        "loadBalancers": [{"targetGroupArn": k.green, "containerName": "web", "containerPort": 80}],
                        "scale": scale});
    let calls = [
        ("CreateTaskSet", create.clone()),
        (
            "UpdateTaskSet",
            json!({"cluster": "demo", "service": "web", "taskSet": primary, "scale": scale}),
        ),
        (
            "UpdateServicePrimaryTaskSet",
            json!({"cluster": "demo", "service": "web", "primaryTaskSet": primary}),
        ),
        (
            "DeleteTaskSet",
            json!({"cluster": "demo", "service": "web", "taskSet": primary, "force": true}),
        ),
    ];
    for (op, input) in &calls {
        let (code, message) = refusal(&mut k, op, input.clone());
        assert_eq!(code, "InvalidParameterException", "{op}");
        assert_eq!(
            message,
            "Amazon ECS only supports task set management on services configured to use external deployment controllers.",
            "{op}"
        );
    }
    // Reading them is fine, and nothing changed.
    let sets = k.ecs_ok(
        "DescribeTaskSets",
        json!({"cluster": "demo", "service": "web"}),
    );
    assert_eq!(sets["taskSets"].as_array().unwrap().len(), 1);

    // CodeDeploy itself manages them, through the same operations.
    let created = crate::ecs::handle_as_codedeploy(&mut k.cx(), "CreateTaskSet", &create)
        .expect("CodeDeploy creates the replacement");
    assert_eq!(created["taskSet"]["startedBy"], "CODE_DEPLOY");
    let green = created["taskSet"]["id"].clone();
    crate::ecs::handle_as_codedeploy(
        &mut k.cx(),
        "UpdateServicePrimaryTaskSet",
        &json!({"cluster": "demo", "service": "web", "primaryTaskSet": green}),
    )
    .expect("CodeDeploy switches the primary");
    crate::ecs::handle_as_codedeploy(
        &mut k.cx(),
        "DeleteTaskSet",
        &json!({"cluster": "demo", "service": "web", "taskSet": primary, "force": true}),
    )
    .expect("CodeDeploy deletes the original");

    // An ECS-controller service has no task sets to manage, for anyone.
    let mut ecs = k.service_input("ECS");
    ecs["serviceName"] = json!("rolling");
    k.ecs_ok("CreateService", ecs);
    let mut input = create.clone();
    input["service"] = json!("rolling");
    let e = crate::ecs::handle_as_codedeploy(&mut k.cx(), "CreateTaskSet", &input).unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
}
