//! A CloudWatch alarm that fires during the deployment stops it; with DEPLOYMENT_STOP_ON_ALARM CodeDeploy
//! rolls back. kirikae exits 1 and says the deployment was stopped, why, and where traffic is.

mod deploy_support;

use std::process::Command;

use deploy_support::Stack;
use serde_json::json;

/// CloudWatch through boto3 (the test does not need another Rust SDK crate for two calls).
fn cloudwatch(endpoint: &str, script: &str) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import boto3\ncw = boto3.client('cloudwatch', endpoint_url='{endpoint}', region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test')\n{script}"
        ))
        .status()
        .expect("python3");
    assert!(status.success(), "boto3 script failed: {script}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_stops_the_deployment_and_it_rolls_back() {
    let stack = Stack::new().await;
    let url = stack.sandbox.url.clone();
    cloudwatch(
        &url,
        "cw.put_metric_alarm(AlarmName='web-5xx', MetricName='HTTPCode_Target_5XX_Count', Namespace='AWS/ApplicationELB', \
         Statistic='Sum', Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator='GreaterThanOrEqualToThreshold')",
    );
    let project = |tag: &str| {
        stack
            .project()
            .image(tag)
            .config("/codedeploy/alarms", json!({"names": ["web-5xx"]}))
            .config(
                "/codedeploy/auto_rollback",
                json!(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]),
            )
            // Pause before production traffic, so the alarm fires mid-deployment.
            .config(
                "/codedeploy/ready",
                json!({"action": "STOP_DEPLOYMENT", "wait_minutes": 60}),
            )
    };
    project("v1").deploy(&[]).assert_exit(0);

    let v2 = project("v2");
    let running = v2.spawn(&["--output", "json"]);
    deploy_support::wait_for("green on the test listener", 30, || {
        (stack.version_on(8080).as_deref() == Some("v2")).then_some(())
    });
    cloudwatch(
        &url,
        "cw.set_alarm_state(AlarmName='web-5xx', StateValue='ALARM', StateReason='test: 5xx from green')",
    );
    let run = running.wait();
    run.assert_exit(1).assert_says(&[
        "was stopped",
        "rolled back by",
        "production traffic is back on blue",
    ]);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out:#}");
    assert_eq!(out["status"], "Stopped");
    assert_eq!(out["error"]["code"], "ALARM_ACTIVE", "{out:#}");
    // The alarm that fired, and why, in the outcome and on stderr.
    let alarms = out["diagnosis"]["alarms"].to_string();
    assert!(
        alarms.contains("web-5xx is in ALARM (test: 5xx from green)"),
        "{out:#}"
    );
    run.assert_says(&["alarms: web-5xx is in ALARM"]);
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
}
