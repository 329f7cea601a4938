//! Slack and generic webhook notifications on start and end, with the result; a failing notification is
//! a warning, never a failed deploy; webhook URLs are never printed.

mod deploy_support;

use deploy_support::{Project, Receiver, Stack};
use serde_json::json;

fn notifying(p: Project, slack: &Receiver, hook: &Receiver) -> Project {
    p.config(
        "/notifications",
        json!({
            "slack": {"webhook_url": "{{ must_env 'KIRIKAE_TEST_SLACK_URL' }}", "channel": "#deploys"},
            "webhook": {"url": "{{ must_env 'KIRIKAE_TEST_HOOK_URL' }}", "headers": {"x-token": "abc"}}
        }),
    )
    .env("KIRIKAE_TEST_SLACK_URL", &slack.url)
    .env("KIRIKAE_TEST_HOOK_URL", &hook.url)
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_and_webhook_get_start_and_result() {
    let stack = Stack::new().await;
    let (slack, hook) = (Receiver::start(200), Receiver::start(200));
    notifying(stack.project(), &slack, &hook)
        .deploy(&[])
        .assert_exit(0);
    let run = notifying(stack.project(), &slack, &hook).deploy(&[
        "--image",
        "web=kirikae/demo:v2",
        "--output",
        "json",
    ]);
    run.assert_exit(0);
    let id = run.json()["deployment_id"].as_str().unwrap().to_string();

    let slack = slack.bodies();
    assert_eq!(slack.len(), 4, "start and end of two deploys: {slack:#?}");
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .contains("creating service demo/web"),
        "{:#}",
        slack[0]
    );
    assert!(
        slack[2]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("deploying web=kirikae/demo:v2 to demo/web ({id})"))
    );
    let end = &slack[3];
    assert!(
        end["text"].as_str().unwrap().contains("succeeded"),
        "{end:#}"
    );
    assert_eq!(end["channel"], "#deploys");
    assert_eq!(end["attachments"][0]["color"], "good");
    let fields: Vec<&str> = end["attachments"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    for f in [
        "Service",
        "Images",
        "Result",
        "Duration",
        "Deployment",
        "Timeline",
    ] {
        assert!(fields.contains(&f), "{fields:?}");
    }

    let hook = hook.bodies();
    assert_eq!(hook.len(), 4);
    assert_eq!(hook[2]["event"], "start");
    assert_eq!(hook[2]["deploy"]["deployment_id"], id.as_str());
    assert_eq!(hook[2]["deploy"]["images"][0]["image"], "kirikae/demo:v2");
    assert_eq!(hook[3]["event"], "success");
    let outcome = &hook[3]["outcome"];
    assert_eq!(outcome["result"], "succeeded");
    assert_eq!(outcome["deployment_id"], id.as_str());
    assert_eq!(outcome["timeline"].as_array().unwrap().len(), 8);
    assert!(outcome["duration_seconds"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_notification_is_a_warning_and_urls_stay_secret() {
    let stack = Stack::new().await;
    let (slack, hook) = (Receiver::start(200), Receiver::start(500));
    let run = notifying(stack.project(), &slack, &hook).deploy(&["--output", "json"]);
    run.assert_exit(0)
        .assert_says(&["webhook notification failed: HTTP 500"]);
    assert_eq!(run.json()["result"], "succeeded");
    for text in [&run.stderr, &run.stdout] {
        assert!(
            !text.contains("secret-token-123"),
            "a webhook URL was printed:\n{text}"
        );
    }
    // --dry-run lists the notifications without their URLs too.
    let dry = notifying(stack.project(), &slack, &hook).deploy(&["--dry-run", "--output", "json"]);
    dry.assert_exit(0)
        .assert_says(&["notifications     slack, webhook"]);
    assert!(!dry.stdout.contains("secret-token-123") && !dry.stderr.contains("secret-token-123"));
}
