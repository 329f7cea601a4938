//! Fault injection through the real binary and the official AWS SDK for Rust: what a client sees when
//! the sandbox is told to misbehave (README: fault injection).

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use serde_json::json;
use support::{SandboxProcess, wait_for};

/// An ECS client that tries each call once (so every injected error reaches the test), with an
/// optional per-attempt timeout.
async fn ecs_once(
    sandbox: &SandboxProcess,
    attempt_timeout: Option<Duration>,
) -> aws_sdk_ecs::Client {
    let config = sandbox.sdk_config().await;
    let mut builder = aws_sdk_ecs::config::Builder::from(&config)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1));
    if let Some(t) = attempt_timeout {
        builder = builder.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(t)
                .build(),
        );
    }
    aws_sdk_ecs::Client::from_conf(builder.build())
}

/// The HTTP status an error arrived with.
fn status<E>(err: &SdkError<E, aws_sdk_ecs::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_fault_answers_its_code_count_times_then_calls_succeed() {
    let sandbox = SandboxProcess::start();
    let ecs = ecs_once(&sandbox, None).await;
    let added = sandbox.fault(json!({
        "action": "error", "service": "ecs", "operation": "ListClusters",
        "code": "ServiceUnavailable", "count": 2
    }));
    assert_eq!(added["id"], "f1");
    assert_eq!(added["active"], true);

    for _ in 0..2 {
        let err = ecs.list_clusters().send().await.unwrap_err();
        assert_eq!(err.code(), Some("ServiceUnavailable"), "{err:?}");
        assert_eq!(status(&err), Some(503));
    }
    ecs.list_clusters()
        .send()
        .await
        .expect("the fault is spent");
    // Other operations were never affected.
    ecs.describe_clusters().send().await.unwrap();

    let listed = &sandbox.faults()["faults"][0];
    assert_eq!(
        (listed["fired"].as_u64(), listed["active"].as_bool()),
        (Some(2), Some(false))
    );
    let calls = sandbox.calls();
    assert_eq!(
        calls["calls"]["ecs.ListClusters"], 3,
        "faulted calls still count: {calls}"
    );
    assert_eq!(calls["faulted"], 2);

    // With the SDK's standard retries, a 503 is retried: two injected failures, then success.
    sandbox.clear_faults();
    sandbox.fault(json!({"action": "error", "operation": "ListClusters", "code": "ServiceUnavailable", "count": 2}));
    let retrying = aws_sdk_ecs::Client::new(&sandbox.sdk_config().await);
    retrying
        .list_clusters()
        .send()
        .await
        .expect("retried past the fault");
    assert_eq!(sandbox.faults()["faults"][0]["fired"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn unmodeled_codes_reach_the_sdk_as_given() {
    let sandbox = SandboxProcess::start();
    let ecs = ecs_once(&sandbox, None).await;
    sandbox.fault(json!({"action": "error", "service": "ecs", "code": "ExpiredTokenException"}));
    let err = ecs.list_clusters().send().await.unwrap_err();
    assert_eq!(err.code(), Some("ExpiredTokenException"), "{err:?}");
    assert_eq!(status(&err), Some(400));
    assert!(err.message().is_some_and(|m| m.contains("f1")), "{err:?}");

    // The query protocol (ELBv2) carries it in <ErrorResponse>, with AWS's status for the code.
    sandbox.clear_faults();
    sandbox.fault(
        json!({"action": "error", "service": "elbv2", "code": "AccessDenied", "message": "no"}),
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sandbox.sdk_config().await);
    let err = elb.describe_load_balancers().send().await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Some("AccessDenied"), Some("no")),
        "{err:?}"
    );
    assert_eq!(status(&err), Some(403));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_fault_applies_the_change_and_answers_the_error() {
    let sandbox = SandboxProcess::start();
    let ecs = ecs_once(&sandbox, None).await;
    sandbox.fault(json!({"action": "ambiguous", "operation": "CreateCluster", "count": 1}));
    let err = ecs
        .create_cluster()
        .cluster_name("demo")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalFailure"), "{err:?}");
    assert_eq!(status(&err), Some(500));
    let clusters = ecs
        .describe_clusters()
        .clusters("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(
        clusters.clusters()[0].status(),
        Some("ACTIVE"),
        "the call ran"
    );

    // A retried create that did happen meets its own success: the classic ambiguous outcome.
    sandbox.fault(json!({"action": "ambiguous", "service": "codedeploy", "operation": "CreateApplication", "count": 1}));
    let cd = aws_sdk_codedeploy::Client::new(&sandbox.sdk_config().await);
    let err = cd
        .create_application()
        .application_name("web")
        .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Ecs)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("ApplicationAlreadyExistsException"),
        "{err:?}"
    );
    cd.get_application()
        .application_name("web")
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refuse_fault_refuses_connections_then_the_same_url_works_again() {
    let sandbox = SandboxProcess::start();
    let ecs = ecs_once(&sandbox, None).await;
    // A pooled keep-alive connection exists before the window.
    ecs.list_clusters().send().await.unwrap();
    let addr = sandbox.url.trim_start_matches("http://").to_string();

    let added_at = Instant::now();
    sandbox.fault(json!({"action": "refuse", "seconds": 2}));
    wait_for("connections refused", 2, || async {
        std::net::TcpStream::connect(&addr).is_err().then_some(())
    })
    .await;
    let err = ecs.list_clusters().send().await.unwrap_err();
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "a connection error, not an answer: {err:?}"
    );

    wait_for("the endpoint back", 10, || async {
        ecs.list_clusters().send().await.ok()
    })
    .await;
    assert!(
        added_at.elapsed() >= Duration::from_millis(1500),
        "back after {:?}, before the 2 s window ended",
        added_at.elapsed()
    );
    let listed = &sandbox.faults()["faults"][0];
    assert_eq!(listed["active"], false, "{listed}");
    // The call in the window went over the pooled connection, which was closed unanswered.
    assert_eq!(listed["fired"], 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hang_fault_times_calls_out_and_closes_them_unanswered_at_the_end() {
    let sandbox = SandboxProcess::start();
    let ecs = ecs_once(&sandbox, Some(Duration::from_millis(500))).await;
    let added_at = Instant::now();
    sandbox.fault(json!({"action": "hang", "seconds": 2}));

    let err = ecs.list_clusters().send().await.unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    // The control API still answers during a hang.
    assert_eq!(sandbox.faults()["faults"][0]["fired"], 1);

    // A raw request gets no bytes back: its connection is closed when the window ends.
    let mut stream =
        std::net::TcpStream::connect(sandbox.url.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{{}}",
        sandbox.url.trim_start_matches("http://")
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "answered: {}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        added_at.elapsed() >= Duration::from_millis(1800),
        "closed after {:?}, before the window ended",
        added_at.elapsed()
    );

    ecs.list_clusters()
        .send()
        .await
        .expect("calls are answered after the window");
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_given_as_flags_are_installed_at_start() {
    let sandbox = SandboxProcess::start_with(&[
        "--fault",
        "action=error,service=ecs,operation=ListClusters,code=ThrottlingException,count=1",
        "--fault",
        r#"{"action": "error", "operation": "DescribeClusters", "code": "AccessDeniedException"}"#,
    ]);
    let ecs = ecs_once(&sandbox, None).await;
    let err = ecs.list_clusters().send().await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    ecs.list_clusters().send().await.unwrap();
    let err = ecs.describe_clusters().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"), "{err:?}");
    let listed = sandbox.faults();
    let ids: Vec<_> = listed["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["f1", "f2"], "{listed}");
}

#[test]
fn a_bad_fault_flag_is_refused_with_exit_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kirikae"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--fault",
            "action=error,cuont=3",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown key `cuont`"), "{stderr}");
}
