//! Issue 3's main scenario through the official AWS SDK for Rust (CodeDeploy over awsJson 1.1): look up
//! the application and deployment group, get the SDK's modeled "does not exist" errors, create them,
//! run an ECSAllAtOnce deployment to `Succeeded`; production then serves only the new version and the
//! service has one PRIMARY task set, on the new task definition.

mod support;

use aws_sdk_codedeploy::operation::create_deployment::CreateDeploymentError;
use aws_sdk_codedeploy::operation::get_application::GetApplicationError;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupError;
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, DeploymentStatus, RevisionLocation, RevisionLocationType,
};
use support::sdk_stack::{build, register_demo, version_at};
use support::{SandboxProcess, wait_for};

/// An AppSpecContent revision deploying `task_definition`, with its sha256 left out (it is optional).
fn revision(task_definition: &str) -> RevisionLocation {
    let content = serde_json::json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]
    })
    .to_string();
    RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(content).build())
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_sdk_runs_an_all_at_once_blue_green_deployment() {
    let sandbox = SandboxProcess::start();
    let config = sandbox.sdk_config().await;
    let stack = build(&config).await;
    let cd = aws_sdk_codedeploy::Client::new(&config);

    // Application: look it up, get the modeled error, create it.
    let err = cd
        .get_application()
        .application_name("app")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            GetApplicationError::ApplicationDoesNotExistException(_)
        ),
        "{err:?}"
    );
    cd.create_application()
        .application_name("app")
        .compute_platform(ComputePlatform::Ecs)
        .send()
        .await
        .unwrap();
    let app = cd
        .get_application()
        .application_name("app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.application().and_then(|a| a.compute_platform()),
        Some(&ComputePlatform::Ecs)
    );

    // Deployment group: the same.
    let err = cd
        .get_deployment_group()
        .application_name("app")
        .deployment_group_name("dg")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            GetDeploymentGroupError::DeploymentGroupDoesNotExistException(_)
        ),
        "{err:?}"
    );
    support::sdk_stack::create_deployment_group(&cd, &stack, "app", "dg").await;

    // An ECSAllAtOnce deployment of v2.
    let td2 = register_demo(&stack.ecs, "v2").await;
    let deployment_id = cd
        .create_deployment()
        .application_name("app")
        .deployment_group_name("dg")
        .deployment_config_name("CodeDeployDefault.ECSAllAtOnce")
        .revision(revision(&td2))
        .send()
        .await
        .unwrap()
        .deployment_id()
        .unwrap()
        .to_string();
    let err = cd
        .create_deployment()
        .application_name("app")
        .deployment_group_name("dg")
        .revision(revision(&td2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            CreateDeploymentError::DeploymentLimitExceededException(_)
        ),
        "one active deployment per group: {err:?}"
    );

    // The SDK's waiter polls every 15 s at least; this loop applies its acceptors (Succeeded; Failed or
    // Stopped end the wait) at the sandbox's pace.
    let info = wait_for("the deployment to succeed", 60, || async {
        let info = cd
            .get_deployment()
            .deployment_id(&deployment_id)
            .send()
            .await
            .unwrap()
            .deployment_info
            .unwrap();
        let status = info.status().cloned();
        assert!(
            !matches!(
                status,
                Some(DeploymentStatus::Failed | DeploymentStatus::Stopped)
            ),
            "{info:?}"
        );
        (status == Some(DeploymentStatus::Succeeded)).then_some(info)
    })
    .await;
    assert_eq!(
        info.deployment_config_name(),
        Some("CodeDeployDefault.ECSAllAtOnce")
    );
    assert!(info.complete_time().is_some());

    // Production serves only v2.
    for _ in 0..20 {
        assert_eq!(version_at(&stack.dns, 80).as_deref(), Some("v2"));
    }
    // One PRIMARY task set, on the new task definition, created by this deployment (the original drains
    // and goes).
    let sets = wait_for("only the replacement task set", 30, || async {
        let out = stack
            .ecs
            .describe_services()
            .cluster("demo")
            .services("web")
            .send()
            .await
            .unwrap();
        let sets = out.services()[0].task_sets().to_vec();
        (sets.len() == 1).then_some(sets)
    })
    .await;
    assert_eq!(sets[0].status(), Some("PRIMARY"));
    assert_eq!(sets[0].task_definition(), Some(td2.as_str()));
    assert_eq!(sets[0].external_id(), Some(deployment_id.as_str()));
}
