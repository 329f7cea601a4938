//! The IAM policy the README ships (docs/iam-policy.json) is exactly what `kirikae deploy`, the
//! operator's commands (`promote`, `rollback`, ...), `kirikae init` and `kirikae migrate` need: every
//! API call they make is allowed by it, and it allows nothing they do not use (beyond the few
//! permissions AWS checks without a call of that name). The same holds for docs/iam-policy-setup.json
//! and `kirikae setup`, kept apart because it creates IAM roles, which the identity that deploys should
//! not be able to.

mod deploy_support;
mod onboarding;

use std::collections::{BTreeMap, BTreeSet};

use deploy_support::{Project, Stack, block_on, wait_for};
use serde_json::{Value, json};

/// Permissions AWS authorizes as part of other calls, so no call of that name ever reaches the sandbox:
/// passing the CodeDeploy service role and task roles, and the revision CreateDeployment registers.
const IMPLIED: &[&str] = &["iam:PassRole", "codedeploy:RegisterApplicationRevision"];

/// Calls AWS allows without any permission: who the caller is (STS GetCallerIdentity: "No permissions
/// are required to perform this operation"), which kirikae records in each deployment it creates.
const NEEDS_NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

/// Tags given to CreateTargetGroup, CreateListener and CreateRole are authorized as AddTags / TagRole
/// ("tag on create"), with no call of that name.
const IMPLIED_BY_SETUP: &[&str] = &["elasticloadbalancing:AddTags", "iam:TagRole"];

fn policy_actions() -> BTreeSet<String> {
    actions_of("iam-policy.json")
}

fn actions_of(file: &str) -> BTreeSet<String> {
    let path = format!("{}/../../docs/{file}", env!("CARGO_MANIFEST_DIR"));
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect(file))
        .expect("the policy is JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        match &statement["Action"] {
            Value::String(a) => {
                actions.insert(a.clone());
            }
            Value::Array(list) => {
                actions.extend(list.iter().map(|a| a.as_str().expect("action").to_string()))
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

/// The sandbox counts calls as `service.Operation`, with the IAM service prefix as the service name.
fn calls(stack: &Stack) -> BTreeMap<String, u64> {
    stack.sandbox.calls()["calls"]
        .as_object()
        .expect("calls by operation")
        .iter()
        // CloudWatch's endpoint prefix is `monitoring`; its IAM prefix is `cloudwatch`.
        .map(|(op, n)| {
            let action = op
                .replacen('.', ":", 1)
                .replacen("monitoring:", "cloudwatch:", 1);
            (action, n.as_u64().unwrap_or(0))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_policy_allows_every_call_of_a_deploy_and_nothing_more() {
    let stack = Stack::new().await;
    stack.add_load_balancer("pay").await;
    stack.add_load_balancer("api").await;
    // An alarm for the group to name (made before counting: it is the test's call, not kirikae's).
    let created = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import boto3\nboto3.client('cloudwatch', endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test').put_metric_alarm(AlarmName='web-5xx', \
             MetricName='HTTPCode_Target_5XX_Count', Namespace='AWS/ApplicationELB', Statistic='Sum', Period=60, \
             EvaluationPeriods=1, Threshold=1, ComparisonOperator='GreaterThanOrEqualToThreshold')",
            stack.sandbox.url
        ))
        .status()
        .expect("python3");
    assert!(created.success());
    // A service for the ECS-native path: its own load balancer whose listeners forward to both groups
    // (1/0), as ECS requires (the test's own calls, made before counting).
    stack.add_load_balancer("nat").await;
    forward_to_both(&stack, "nat").await;
    let before = calls(&stack);

    // Every path of a deploy: create everything; a Blue/Green deployment; a deployment group update, a
    // desired-count change and an ambiguous CreateDeployment; a new service that fails to start.
    stack.project().deploy(&[]).assert_exit(0);
    // With a task before the switch (RunTask, then DescribeTasks until it exits 0).
    stack
        .project()
        .config("/before_switch", json!({"command": ["exit", "0"]}))
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0);
    // A CreateDeployment whose answer is lost: kirikae finds its own deployment by its run id.
    stack.sandbox.fault(json!({
        "action": "ambiguous", "service": "codedeploy", "operation": "CreateDeployment",
        "code": "ServiceUnavailable", "count": 1
    }));
    stack
        .project()
        .config("/codedeploy/termination_wait_minutes", json!(0))
        .config("/sync_desired_count", json!(true))
        .service("/desiredCount", json!(3))
        .deploy(&["--image", "web=kirikae/demo:v3"])
        .assert_exit(0);
    // A new service whose tasks keep failing: kirikae looks at the stopped tasks to say why.
    stack
        .project_for("pay")
        .task(
            "/containerDefinitions/0/environment",
            json!([{"name": "DEMO_HEALTH", "value": "fail"}]),
        )
        .deploy(&["--timeout", "2m"])
        .assert_exit(1);

    // The checks of a group with alarms and hooks: the alarms exist, the role may invoke the hooks.
    stack
        .project()
        .config("/codedeploy/alarms", json!({"names": ["web-5xx"]}))
        .config(
            "/codedeploy/hooks",
            json!({"AfterAllowTestTraffic": "CodeDeployHook_validate"}),
        )
        .deploy(&["--dry-run"])
        .assert_exit(0);

    // The operator's commands: promote a deployment waiting in Ready (ContinueDeployment), roll back
    // another (StopDeployment). The test's own reads (ListDeployments, BatchGetDeployments) are among
    // a deploy's.
    let held = || {
        stack.project().config(
            "/codedeploy/ready",
            json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
        )
    };
    for (image, command, code) in [("v4", "promote", 0), ("v5", "rollback", 1)] {
        let project = held();
        project
            .deploy(&["--image", &format!("web=kirikae/demo:{image}"), "--no-wait"])
            .assert_exit(0);
        wait_for("a deployment waiting in Ready", 60, || {
            let ids = block_on(
                stack
                    .codedeploy
                    .list_deployments()
                    .include_only_statuses(aws_sdk_codedeploy::types::DeploymentStatus::Ready)
                    .send(),
            )
            .ok()?;
            (!ids.deployments().is_empty()).then_some(())
        });
        assert_eq!(
            operate(&stack, &project, command),
            code,
            "kirikae {command}"
        );
    }

    // The ECS-native path (an `ecs:` block): a new service, a deploy held at a pause and promoted
    // (ContinueServiceDeployment), another rolled back (StopServiceDeployment).
    let native = || {
        stack
        .project_for("nat")
        .config("/codedeploy", Value::Null)
        .config(
            "/ecs",
            json!({
                "bake_time_minutes": 0,
                "target_groups": ["nat-blue", "nat-green"],
                "production_listener": {"load_balancer": "nat-alb", "port": 80},
                "test_listener": {"load_balancer": "nat-alb", "port": 8080},
                "infrastructure_role": "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers"
            }),
        )
    };
    native().deploy(&[]).assert_exit(0);
    for (image, command, code) in [("v2", "promote", 0), ("v3", "rollback", 1)] {
        let project = native().image(image).config(
            "/ecs/hooks",
            json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true}]),
        );
        project.deploy(&["--wait-until", "paused"]).assert_exit(0);
        assert_eq!(
            operate(&stack, &project, command),
            code,
            "kirikae {command}"
        );
    }
    // A service deployment that fails (its pause times out, then rolls back): kirikae reads why
    // (green's stopped tasks, the alternate group's target health, the service's events).
    native()
        .image("v4")
        .config(
            "/ecs/hooks",
            json!([{"stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "pause": true, "timeout_minutes": 1}]),
        )
        .deploy(&[])
        .assert_exit(1);
    // With nothing running, rollback deploys the revision the last successful service deployment
    // replaced (DescribeServiceRevisions).
    assert_eq!(
        operate(&stack, &native(), "rollback"),
        0,
        "kirikae rollback of a finished native deployment"
    );

    // The group's history (read-only): the revisions and task definitions its deployments used.
    let history = stack.project();
    history.write();
    let out = history
        .kirikae("history")
        .arg("-c")
        .arg(history.dir.join("kirikae.yml"))
        .output()
        .expect("run kirikae history");
    assert_eq!(out.status.code(), Some(0), "kirikae history");
    // And the native service's: its service deployments, their revisions, who started each (the
    // records on the service).
    let history = native();
    history.write();
    let out = history
        .kirikae("history")
        .arg("-c")
        .arg(history.dir.join("kirikae.yml"))
        .output()
        .expect("run kirikae history");
    assert_eq!(out.status.code(), Some(0), "kirikae history (ecs:)");

    // kirikae init: on a service whose group has kirikae's default names, and on one whose application
    // is named otherwise (found by listing the applications and their groups).
    let api = stack
        .project_for("api")
        .config("/codedeploy/application", json!("api-app"));
    api.deploy(&[]).assert_exit(0);
    for service in ["web", "api"] {
        let dir =
            std::env::temp_dir().join(format!("kirikae-iam-init-{}-{service}", std::process::id()));
        let out = api
            .kirikae("init")
            .args([
                "--cluster",
                "demo",
                "--service",
                service,
                "--force",
                "--dir",
            ])
            .arg(&dir)
            .output()
            .expect("run kirikae init");
        assert_eq!(
            out.status.code(),
            Some(0),
            "kirikae init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    // kirikae migrate: service api (one task set, its group idle) moves to ECS-native Blue/Green — the
    // listeners' weighted form, UpdateService, the service deployment followed — and its CodeDeploy group
    // and application are deleted.
    let out = api
        .kirikae("migrate")
        .arg("-c")
        .arg(api.dir.join("kirikae.yml"))
        .args(["--write", "--delete-codedeploy"])
        .output()
        .expect("run kirikae migrate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "kirikae migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let used: BTreeSet<String> = calls(&stack)
        .into_iter()
        .filter(|(op, _)| !NEEDS_NO_PERMISSION.contains(&op.as_str()))
        .filter(|(op, n)| before.get(op).copied().unwrap_or(0) < *n)
        .map(|(op, _)| op)
        .collect();
    let allowed = policy_actions();
    let missing: Vec<_> = used.difference(&allowed).collect();
    assert!(missing.is_empty(), "the policy lacks {missing:?}");
    let unused: Vec<_> = allowed
        .difference(&used)
        .filter(|a| !IMPLIED.contains(&a.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "the policy allows {unused:?}, which no deploy calls"
    );
}

/// Runs `kirikae COMMAND -c <project>/kirikae.yml` against the sandbox; its exit status.
fn operate(stack: &Stack, project: &Project, command: &str) -> i32 {
    project.write();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kirikae"))
        .arg(command)
        .arg("-c")
        .arg(project.dir.join("kirikae.yml"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &stack.sandbox.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("GITHUB_OUTPUT")
        .env("NO_COLOR", "1")
        .output()
        .expect("run kirikae");
    if out.status.code() != Some(0) {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.code().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_policy_allows_every_call_of_setup_and_nothing_more() {
    let stack = onboarding::one_group_stack().await;
    let default_rule = stack
        .elb
        .describe_rules()
        .listener_arn(&stack.prod_listener)
        .send()
        .await
        .unwrap()
        .rules()
        .iter()
        .find(|r| r.is_default() == Some(true))
        .and_then(|r| r.rule_arn())
        .unwrap()
        .to_string();
    let before = calls(&stack);
    let project = stack.project().config(
        "/codedeploy/service_role",
        json!("arn:aws:iam::000000000000:role/kirikae-setup-policy-test"),
    );
    project.write();
    for args in [&["--dry-run"][..], &[]] {
        let out = onboarding::run(&project, "setup", &project.path("kirikae.yml"), args);
        onboarding::assert_exit(&out, 0, "kirikae setup");
    }
    // An `ecs:` block: the infrastructure role, the production listener's weighted form; then the
    // production rule named by its ARN.
    let native = onboarding::native_project(&stack).config(
        "/ecs/infrastructure_role",
        json!("arn:aws:iam::000000000000:role/kirikae-setup-policy-infra"),
    );
    native.write();
    let out = onboarding::run(&native, "setup", &native.path("kirikae.yml"), &[]);
    onboarding::assert_exit(&out, 0, "kirikae setup (ecs:)");
    let by_rule = onboarding::native_project(&stack)
        .config(
            "/ecs/infrastructure_role",
            json!("arn:aws:iam::000000000000:role/kirikae-setup-policy-infra"),
        )
        .config("/ecs/production_listener", json!(default_rule));
    by_rule.write();
    let out = onboarding::run(&by_rule, "setup", &by_rule.path("kirikae.yml"), &[]);
    onboarding::assert_exit(&out, 0, "kirikae setup (ecs: with a rule ARN)");
    let used: BTreeSet<String> = calls(&stack)
        .into_iter()
        .filter(|(op, n)| before.get(op).copied().unwrap_or(0) < *n)
        .map(|(op, _)| op)
        .collect();
    let allowed = actions_of("iam-policy-setup.json");
    let missing: Vec<_> = used.difference(&allowed).collect();
    assert!(missing.is_empty(), "the setup policy lacks {missing:?}");
    let unused: Vec<_> = allowed
        .difference(&used)
        .filter(|a| !IMPLIED_BY_SETUP.contains(&a.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "the setup policy allows {unused:?}, which setup never calls"
    );
}

/// Points both listeners of `{name}-alb` at both of its groups, weights 1/0.
async fn forward_to_both(stack: &Stack, name: &str) {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
    };
    let groups = stack
        .elb
        .describe_target_groups()
        .names(format!("{name}-blue"))
        .names(format!("{name}-green"))
        .send()
        .await
        .expect("the pair");
    let mut config = ForwardActionConfig::builder();
    for (tg, weight) in groups.target_groups().iter().zip([1, 0]) {
        config = config.target_groups(
            TargetGroupTuple::builder()
                .set_target_group_arn(tg.target_group_arn().map(str::to_string))
                .weight(weight)
                .build(),
        );
    }
    let action = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(config.build())
        .build();
    let lb = stack
        .elb
        .describe_load_balancers()
        .names(format!("{name}-alb"))
        .send()
        .await
        .expect("the load balancer");
    let listeners = stack
        .elb
        .describe_listeners()
        .set_load_balancer_arn(
            lb.load_balancers()[0]
                .load_balancer_arn()
                .map(str::to_string),
        )
        .send()
        .await
        .expect("its listeners");
    for l in listeners.listeners() {
        stack
            .elb
            .modify_listener()
            .set_listener_arn(l.listener_arn().map(str::to_string))
            .default_actions(action.clone())
            .send()
            .await
            .expect("forward to both groups");
    }
}
