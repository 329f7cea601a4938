//! Issue 2's main scenario through the official AWS SDK for Rust: a CODE_DEPLOY service with two demo
//! tasks behind an ALB, served through a real listener.

mod support;

use support::sdk_stack::build;
use support::{SandboxProcess, http_get, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_builds_a_code_deploy_service_behind_a_listener() {
    let sandbox = SandboxProcess::start();
    let config = sandbox.sdk_config().await;

    let stack = build(&config).await;
    let (ecs, elb, dns) = (&stack.ecs, &stack.elb, &stack.dns);
    let tgs = &stack.target_groups;

    let service = wait_for(
        "PRIMARY task set in STEADY_STATE with 2 running tasks",
        60,
        || async {
            let out = ecs
                .describe_services()
                .cluster("demo")
                .services("web")
                .send()
                .await
                .unwrap();
            let svc = out.services()[0].clone();
            let set = svc.task_sets().first()?;
            (set.status() == Some("PRIMARY")
                && set.stability_status().map(|s| s.as_str()) == Some("STEADY_STATE")
                && set.running_count() == 2)
                .then_some(svc)
        },
    )
    .await;
    assert_eq!(service.task_sets().len(), 1);
    assert!(
        service.task_sets()[0]
            .task_definition()
            .is_some_and(|td| td.ends_with(":task-definition/web:1")),
        "{service:?}"
    );
    assert!(
        service.deployments().is_empty(),
        "CODE_DEPLOY services report through taskSets"
    );

    let health = elb
        .describe_target_health()
        .target_group_arn(&tgs[0])
        .send()
        .await
        .unwrap();
    let states: Vec<_> = health
        .target_health_descriptions()
        .iter()
        .map(|d| {
            d.target_health()
                .and_then(|h| h.state())
                .map(|s| s.as_str().to_string())
        })
        .collect();
    assert_eq!(
        states,
        vec![Some("healthy".to_string()), Some("healthy".to_string())]
    );

    let (status, body) = http_get(&format!("http://{dns}:80/")).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"version\":\"v1\""), "{body}");

    // Errors arrive as the SDK's modeled exception variants.
    let err = ecs
        .describe_services()
        .cluster("nope")
        .services("web")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_cluster_not_found_exception()),
        "{err:?}"
    );
    let err = elb
        .describe_target_groups()
        .names("ghost")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_target_group_not_found_exception()),
        "{err:?}"
    );
}
