//! AWS throttles API calls; a deploy must ride it out (the SDK's retries with back-off, and slower
//! polling while throttled) rather than fail. The sandbox throttles like AWS with `--throttle-above`.

mod deploy_support;

use deploy_support::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_against_a_throttling_endpoint_backs_off_and_succeeds() {
    // Three calls per second, bursts of three: far below what a deploy asks for in its first second.
    let stack = Stack::with_sandbox("60", &["--throttle-above", "3"]).await;
    stack.project().deploy(&[]).assert_exit(0);
    stack
        .project()
        .deploy(&["--image", "web=kirikae/demo:v2"])
        .assert_exit(0)
        .assert_says(&["production traffic on green"]);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    let calls = stack.sandbox.calls();
    assert!(
        calls["throttled"].as_u64().unwrap() > 0,
        "the sandbox never throttled, so nothing was shown: {calls}"
    );
}
