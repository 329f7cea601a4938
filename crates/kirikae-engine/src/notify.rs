//! Notifications on start, success and failure: a Slack incoming webhook and a generic JSON webhook. A
//! failed notification is a warning, never a failed deploy, and webhook URLs are never printed (they are
//! secrets): errors say which notification failed and how, not where it was sent.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Notifications, SlackConfig, WebhookConfig};
use crate::outcome::{Image, Outcome, Result as Res};
use crate::progress::{Event, Observer};

const TIMEOUT: Duration = Duration::from_secs(10);

/// What is known when a deploy starts.
#[derive(Debug, Clone, Serialize)]
pub struct Start {
    pub region: String,
    pub cluster: String,
    pub service: String,
    pub images: Vec<Image>,
    pub task_definition_arn: String,
    /// `None` when the service is being created.
    pub deployment_id: Option<String>,
    pub console_url: Option<String>,
}

/// The configured notifications (empty URLs are off).
#[derive(Clone, Default)]
pub struct Notifier {
    slack: Option<SlackConfig>,
    webhook: Option<WebhookConfig>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URLs.
        f.debug_struct("Notifier")
            .field("slack", &self.slack.is_some())
            .field("webhook", &self.webhook.is_some())
            .finish()
    }
}

impl Notifier {
    pub fn new(n: &Notifications) -> Self {
        Notifier {
            slack: n.slack.clone().filter(|s| !s.webhook_url.trim().is_empty()),
            webhook: n.webhook.clone().filter(|w| !w.url.trim().is_empty()),
        }
    }

    /// Which notifications are on: `["slack", "webhook"]`.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.slack.is_some() {
            v.push("slack");
        }
        if self.webhook.is_some() {
            v.push("webhook");
        }
        v
    }

    pub async fn started(&self, start: &Start, observer: &dyn Observer) {
        let slack = self
            .slack
            .as_ref()
            .map(|s| slack_payload(s, &start_text(start), "#439FE0", start_fields(start)));
        let hook = self
            .webhook
            .as_ref()
            .map(|_| json!({"event": "start", "deploy": start}));
        self.send(slack, hook, observer).await;
    }

    pub async fn finished(&self, outcome: &Outcome, observer: &dyn Observer) {
        let color = if outcome.result.is_success() {
            "good"
        } else {
            "danger"
        };
        let slack = self
            .slack
            .as_ref()
            .map(|s| slack_payload(s, &finish_text(outcome), color, finish_fields(outcome)));
        let event = if outcome.result.is_success() {
            "success"
        } else {
            "failure"
        };
        let hook = self
            .webhook
            .as_ref()
            .map(|_| json!({"event": event, "outcome": outcome}));
        self.send(slack, hook, observer).await;
    }

    async fn send(&self, slack: Option<Value>, hook: Option<Value>, observer: &dyn Observer) {
        let slack = async {
            if let (Some(cfg), Some(body)) = (&self.slack, slack)
                && let Err(e) = post(&cfg.webhook_url, &Default::default(), &body).await
            {
                observer.on_event(&Event::Warning {
                    message: format!("Slack notification failed: {e}"),
                });
            }
        };
        let hook = async {
            if let (Some(cfg), Some(body)) = (&self.webhook, hook)
                && let Err(e) = post(&cfg.url, &cfg.headers, &body).await
            {
                observer.on_event(&Event::Warning {
                    message: format!("webhook notification failed: {e}"),
                });
            }
        };
        tokio::join!(slack, hook);
    }
}

fn images(images: &[Image]) -> String {
    images
        .iter()
        .map(|i| format!("{}={}", i.container, i.image))
        .collect::<Vec<_>>()
        .join(", ")
}

fn start_text(s: &Start) -> String {
    match &s.deployment_id {
        Some(id) => format!(
            "kirikae: deploying {} to {}/{} ({id})",
            images(&s.images),
            s.cluster,
            s.service
        ),
        None => format!(
            "kirikae: creating service {}/{} with {}",
            s.cluster,
            s.service,
            images(&s.images)
        ),
    }
}

fn start_fields(s: &Start) -> Vec<(String, String)> {
    let mut f = vec![
        (
            "Service".into(),
            format!("{}/{} ({})", s.cluster, s.service, s.region),
        ),
        ("Images".into(), images(&s.images)),
    ];
    if let (Some(id), Some(url)) = (&s.deployment_id, &s.console_url) {
        f.push(("Deployment".into(), format!("<{url}|{id}>")));
    }
    f
}

fn finish_text(o: &Outcome) -> String {
    let mark = match o.result {
        Res::Succeeded | Res::Reached | Res::Started => "✅",
        Res::TimedOut | Res::Interrupted => "⚠️",
        _ => "❌",
    };
    format!(
        "{mark} kirikae: {}/{} {}: {}",
        o.cluster,
        o.service,
        o.result.as_str().replace('_', " "),
        o.message
    )
}

fn finish_fields(o: &Outcome) -> Vec<(String, String)> {
    let mut f = vec![
        (
            "Service".into(),
            format!("{}/{} ({})", o.cluster, o.service, o.region),
        ),
        ("Images".into(), images(&o.images)),
        ("Result".into(), o.result.as_str().to_string()),
        ("Duration".into(), format!("{:.0} s", o.duration_seconds)),
    ];
    if let (Some(id), Some(url)) = (&o.deployment_id, &o.console_url) {
        f.push(("Deployment".into(), format!("<{url}|{id}>")));
    }
    if let Some(t) = &o.before_switch {
        f.push(("Before switch".into(), t.said()));
    }
    if let Some(g) = &o.gate {
        let mut said = g.summary.clone();
        if let Some(a) = &g.approval {
            said.push_str(&format!("\napproval {}", a.said));
        }
        f.push(("Gate".into(), said));
    }
    if !o.timeline.is_empty() {
        let lines: Vec<String> = o
            .timeline
            .iter()
            .map(|t| match t.duration_seconds {
                Some(d) => format!("{} {} ({d:.1} s)", t.event, t.status),
                None => format!("{} {}", t.event, t.status),
            })
            .collect();
        f.push(("Timeline".into(), lines.join("\n")));
    }
    f
}

fn slack_payload(
    cfg: &SlackConfig,
    text: &str,
    color: &str,
    fields: Vec<(String, String)>,
) -> Value {
    let fields: Vec<Value> = fields
        .into_iter()
        .map(|(title, value)| json!({"title": title, "value": value, "short": value.len() < 40 && !value.contains('\n')}))
        .collect();
    let mut v = json!({"text": text, "attachments": [{"color": color, "fields": fields}]});
    if let Some(c) = &cfg.channel {
        v["channel"] = json!(c);
    }
    if let Some(u) = &cfg.username {
        v["username"] = json!(u);
    }
    v
}

/// POSTs JSON; the error never contains the URL.
async fn post(
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
    body: &Value,
) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| "the URL is not valid".to_string())?;
    let mut req = http::Request::post(uri)
        .header("content-type", "application/json")
        .header("user-agent", "kirikae");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|_| "invalid header".to_string())?;
    let send = async {
        if url.starts_with("https://") {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| format!("no TLS root certificates: {e}"))?
                .https_only()
                .enable_http1()
                .build();
            Client::builder(TokioExecutor::new())
                .build(https)
                .request(req)
                .await
                .map_err(describe)
        } else {
            Client::builder(TokioExecutor::new())
                .build_http()
                .request(req)
                .await
                .map_err(describe)
        }
    };
    let resp = tokio::time::timeout(TIMEOUT, send)
        .await
        .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))??;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", resp.status()))
    }
}

fn describe(e: hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    // The source chain names the failure (connection refused, TLS…) without the address.
    let mut msg = if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    if let Some(src) = e.source() {
        msg.push_str(&format!(": {src}"));
    }
    msg
}
