//! The AWS connection: `--endpoint-url` (or AWS_ENDPOINT_URL), region from flag, config or environment,
//! the standard credential chain, and credentials never printed.

mod deploy_support;

use deploy_support::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_url_flag_and_config_region() {
    let stack = Stack::new().await;
    let run = stack
        .project()
        .config("/region", json!("us-east-1"))
        .unset("AWS_ENDPOINT_URL")
        .unset("AWS_REGION")
        .deploy(&["--dry-run", "--endpoint-url", &stack.sandbox.url]);
    run.assert_exit(0).assert_says(&[&format!(
        "demo/web in us-east-1 (endpoint {})",
        stack.sandbox.url
    )]);

    // --region wins over the config: another region of the sandbox has no cluster.
    let other = stack
        .project()
        .config("/region", json!("us-east-1"))
        .deploy(&["--dry-run", "--region", "eu-west-1"]);
    other
        .assert_exit(2)
        .assert_says(&["ECS cluster `demo` does not exist in eu-west-1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_region_is_a_usage_error() {
    let stack = Stack::new().await;
    let before = stack.mutating_calls();
    let run = stack
        .project()
        .unset("AWS_REGION")
        .unset("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/nonexistent/kirikae-test-config")
        .deploy(&[]);
    run.assert_exit(2)
        .assert_says(&["no AWS region is set", "--region"]);
    assert_eq!(stack.mutating_calls(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_are_explained_and_secrets_never_printed() {
    let stack = Stack::new().await;
    let run = stack
        .project()
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/kirikae-test-credentials",
        )
        .env("AWS_CONFIG_FILE", "/nonexistent/kirikae-test-config")
        .deploy(&["--dry-run", "--max-attempts", "1"]);
    run.assert_exit(1)
        .assert_says(&["no usable AWS credentials"]);

    let secret = "kirikaeTestSecretKeyValue0123456789";
    let verbose = stack
        .project()
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("KIRIKAE_LOG", "trace")
        .deploy(&["--output", "json"]);
    verbose.assert_exit(0);
    assert!(
        !verbose.stderr.contains(secret) && !verbose.stdout.contains(secret),
        "the secret key was printed"
    );
}
