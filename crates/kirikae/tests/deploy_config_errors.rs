//! `kirikae deploy` checks every input before touching AWS: each bad input gives a clear error that names
//! the file and the field, exits 2, and the sandbox records no mutating call.

mod deploy_support;

use deploy_support::{Project, Stack};
use serde_json::json;

/// One bad input: how to break the project, extra flags, and what the error must name.
struct Case {
    what: &'static str,
    project: fn(Project) -> Project,
    args: &'static [&'static str],
    says: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        what: "malformed YAML",
        project: |p| p.raw("kirikae.yml", "cluster: [demo\nservice: web\n"),
        args: &[],
        says: &["kirikae.yml", "line"],
    },
    Case {
        what: "malformed JSON",
        project: |p| p.raw("task-definition.json", "{\"family\": \"web\",,}"),
        args: &[],
        says: &["task-definition.json", "malformed JSON", "line 1"],
    },
    Case {
        what: "unknown key in kirikae.yml",
        project: |p| p.config("/codedeploy/target_group", json!(["a", "b"])),
        args: &[],
        says: &["kirikae.yml", "target_group", "unknown field"],
    },
    Case {
        what: "unknown key in the task definition",
        project: |p| p.task("/containerDefinitions/0/imagee", json!("x")),
        args: &[],
        says: &[
            "task-definition.json",
            "containerDefinitions[0].imagee",
            "did you mean `image`?",
        ],
    },
    Case {
        what: "unknown key in the service definition",
        project: |p| p.service("/desiredCont", json!(2)),
        args: &[],
        says: &[
            "service-definition.json",
            "desiredCont",
            "did you mean `desiredCount`?",
        ],
    },
    Case {
        what: "wrong type in the task definition",
        project: |p| {
            p.task(
                "/containerDefinitions/0/portMappings/0/containerPort",
                json!("8080"),
            )
        },
        args: &[],
        says: &[
            "task-definition.json",
            "containerDefinitions[0].portMappings[0].containerPort",
            "expected an integer",
        ],
    },
    Case {
        what: "unset must_env",
        project: |p| {
            p.raw(
                "task-definition.json",
                r#"{"family": "web", "networkMode": "awsvpc",
  "containerDefinitions": [{"name": "web", "image": "kirikae/demo:{{ must_env 'KIRIKAE_TEST_NEVER_SET' }}",
    "portMappings": [{"containerPort": 8080}]}]}"#,
            )
        },
        args: &[],
        says: &[
            "task-definition.json",
            "KIRIKAE_TEST_NEVER_SET is not set",
            "image (line 2)",
        ],
    },
    Case {
        what: "container name not in the task definition",
        project: |p| p.service("/loadBalancers/0/containerName", json!("api")),
        args: &[],
        says: &[
            "service-definition.json",
            "loadBalancers[0].containerName",
            "container `api`",
        ],
    },
    Case {
        what: "container port not mapped",
        project: |p| p.service("/loadBalancers/0/containerPort", json!(9090)),
        args: &[],
        says: &[
            "service-definition.json",
            "loadBalancers[0].containerPort",
            "9090",
        ],
    },
    Case {
        what: "missing target group",
        project: |p| {
            p.config(
                "/codedeploy/target_groups",
                json!(["web-blue", "web-purple"]),
            )
        },
        args: &[],
        says: &[
            "kirikae.yml",
            "codedeploy.target_groups[1]",
            "target group `web-purple` does not exist",
        ],
    },
    Case {
        what: "missing listener (by port)",
        project: |p| {
            p.config(
                "/codedeploy/test_listener",
                json!({"load_balancer": "web-alb", "port": 9000}),
            )
        },
        args: &[],
        says: &[
            "kirikae.yml",
            "codedeploy.test_listener",
            "no listener on port 9000",
        ],
    },
    Case {
        what: "missing listener (by ARN)",
        project: |p| {
            p.config(
                "/codedeploy/production_listener",
                json!("arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web-alb/0123456789abcdef/0123456789abcdef"),
            )
        },
        args: &[],
        says: &[
            "kirikae.yml",
            "codedeploy.production_listener",
            "does not exist",
        ],
    },
    Case {
        what: "missing load balancer",
        project: |p| {
            p.config(
                "/codedeploy/production_listener",
                json!({"load_balancer": "nope", "port": 80}),
            )
        },
        args: &[],
        says: &[
            "kirikae.yml",
            "codedeploy.production_listener",
            "load balancer `nope` does not exist",
        ],
    },
    Case {
        what: "missing cluster",
        project: |p| p.config("/cluster", json!("prod")),
        args: &[],
        says: &[
            "kirikae.yml",
            "cluster",
            "ECS cluster `prod` does not exist",
        ],
    },
    Case {
        what: "non-ECS application",
        project: |p| p.config("/codedeploy/application", json!("LegacyServerApp")),
        args: &[],
        says: &[
            "kirikae.yml",
            "codedeploy.application",
            "compute platform Server, not ECS",
        ],
    },
    Case {
        what: "--image for an unknown container",
        project: |p| p,
        args: &["--image", "api=kirikae/demo:v2"],
        says: &["--image", "no container `api`"],
    },
    Case {
        what: "--wait-until a test-traffic event without a test listener",
        project: |p| p.config("/codedeploy/test_listener", json!(null)),
        args: &["--wait-until", "AfterAllowTestTraffic"],
        says: &["--wait-until", "test listener"],
    },
    Case {
        what: "--wait-until an unknown event",
        project: |p| p,
        args: &["--wait-until", "AfterInstal"],
        says: &["--wait-until", "did you mean `AfterInstall`?"],
    },
    Case {
        what: "missing config file",
        project: |p| p.config("/task_definition", json!("nowhere.json")),
        args: &[],
        says: &["nowhere.json", "cannot read"],
    },
];

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_input_is_named_and_nothing_is_changed() {
    let stack = Stack::new().await;
    // A Server-platform application, for the non-ECS case.
    stack
        .codedeploy
        .create_application()
        .application_name("LegacyServerApp")
        .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Server)
        .send()
        .await
        .unwrap();
    let before = stack.mutating_calls();
    for case in CASES {
        let run = (case.project)(stack.project()).deploy(case.args);
        assert_eq!(
            run.code, 2,
            "{}: exit {}\n{}",
            case.what, run.code, run.stderr
        );
        for part in case.says {
            assert!(
                run.stderr.contains(part),
                "{}: stderr lacks {part:?}:\n{}",
                case.what,
                run.stderr
            );
        }
        assert!(
            run.stderr.contains("nothing in AWS was changed"),
            "{}:\n{}",
            case.what,
            run.stderr
        );
        assert_eq!(
            stack.mutating_calls(),
            before,
            "{}: a mutating call was made",
            case.what
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_one_json_document_with_output_json() {
    let stack = Stack::new().await;
    let run = stack
        .project()
        .service("/desiredCont", json!(2))
        .deploy(&["--output", "json"]);
    run.assert_exit(2);
    let doc = run.json();
    assert_eq!(doc["result"], "error");
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(doc["error"]["kind"], "config");
    assert!(
        doc["error"]["source"]
            .as_str()
            .unwrap()
            .ends_with("service-definition.json"),
        "{doc}"
    );
    assert_eq!(doc["error"]["field"], "desiredCont");
}
