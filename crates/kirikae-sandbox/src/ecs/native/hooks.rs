//! ECS lifecycle hooks with a Lambda target: the invocation event, and the response contract
//! (developer guide, "Lifecycle hooks for Amazon ECS service deployments"):
//!
//! - event: `{executionId, lifecycleStage, resourceArn (the service deployment), executionDetails
//!   {serviceArn, targetServiceRevisionArn, testTrafficWeights, productionTrafficWeights}, hookDetails}`;
//! - response: `{"hookStatus": "SUCCEEDED" | "FAILED" | "IN_PROGRESS", "callBackDelay": seconds
//!   (default 30), "hookDetails": {…}}`. IN_PROGRESS invokes the function again after the delay, with
//!   the returned hook details merged into the next event; a missing or unknown `hookStatus`, or a
//!   function error, fails the hook.
//!
//! The function runs through [`crate::lambda`] (a local command or URL), outside the world lock; its
//! response is applied to the hook's run when it arrives.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::deployment::{HookRun, HookStatus, ServiceDeployment};
use super::lifecycle::Place;
use crate::ecs::scheduler::timing;
use crate::world::{Ctx, RegionKey, Shared};

/// `callBackDelay` when the response gives none.
const DEFAULT_CALLBACK_DELAY_SECS: f64 = 30.0;
/// Lambda's limit on one invocation.
const INVOCATION_LIMIT_SECS: f64 = 900.0;

/// A hook id: `ecs-pause-…` for PAUSE hooks (the form the pause-hooks guide shows), `ecs-hook-…`
/// otherwise (the sandbox's).
pub fn new_hook_id(pause: bool) -> String {
    let kind = if pause { "pause" } else { "hook" };
    format!("ecs-{kind}-{}", uuid::Uuid::new_v4().simple())
}

/// The invocation event for one run of a hook.
pub fn event(d: &ServiceDeployment, h: &HookRun) -> Value {
    let weights = |green_share: f64| {
        let mut m = Map::new();
        m.insert(d.target.arn.clone(), json!(green_share));
        if let Some(blue) = &d.source {
            m.insert(blue.arn.clone(), json!(100.0 - green_share));
        }
        Value::Object(m)
    };
    let traffic = d.plan.traffic.is_some();
    let (test, production) = match h.stage {
        "TEST_TRAFFIC_SHIFT" if traffic => (weights(d.test_weight), json!({})),
        "PRE_PRODUCTION_TRAFFIC_SHIFT" | "PRODUCTION_TRAFFIC_SHIFT" if traffic => {
            (json!({}), weights(d.production_weight))
        }
        _ => (json!({}), json!({})),
    };
    json!({
        "executionId": uuid::Uuid::new_v4().to_string(),
        "lifecycleStage": h.stage,
        "resourceArn": d.arn,
        "executionDetails": {
            "serviceArn": d.service_arn,
            "targetServiceRevisionArn": d.target.arn,
            "testTrafficWeights": test,
            "productionTrafficWeights": production,
        },
        "hookDetails": if h.details.is_null() { json!({}) } else { h.details.clone() },
    })
}

/// Start invoking a hook's function; the response arrives later through [`apply`].
pub fn invoke(
    cx: &mut Ctx,
    at: &Place,
    deployment_arn: &str,
    hook_id: &str,
    function: &str,
    event: Value,
) -> Result<(), String> {
    let Some(target) = cx.shared.hooks.target(function).map(String::from) else {
        let name = function.split(":function:").nth(1).unwrap_or(function);
        return Err(format!(
            "the hook names Lambda function {function}, which the kirikae sandbox cannot run: map it to a local command or URL with `kirikae sandbox --hook {name}=COMMAND_OR_URL`"
        ));
    };
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| format!("cannot invoke {function}: {e}"))?;
    let job = Invocation {
        shared: cx.shared.clone(),
        region: cx.region.key.clone(),
        cluster: at.cluster.to_string(),
        service: at.service.to_string(),
        deployment_arn: deployment_arn.to_string(),
        hook_id: hook_id.to_string(),
        function: function.to_string(),
        target,
        payload: event.to_string(),
    };
    tracing::info!(
        deployment = deployment_arn,
        "invoking lifecycle hook {function}"
    );
    runtime.spawn(job.run());
    Ok(())
}

struct Invocation {
    shared: Arc<Shared>,
    region: RegionKey,
    cluster: String,
    service: String,
    deployment_arn: String,
    hook_id: String,
    function: String,
    target: String,
    payload: String,
}

impl Invocation {
    async fn run(self) {
        let limit = self.shared.clock.real(INVOCATION_LIMIT_SECS);
        let result = tokio::select! {
            _ = self.shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(limit) => Err("the invocation ran longer than Lambda's 15 minutes and was killed".to_string()),
            r = crate::lambda::invoke(&self.shared, &self.region, &self.target, &self.payload) => r,
        };
        let response = result.and_then(|body| parse_response(&body));
        let now = self.shared.clock.now_epoch();
        let mut world = self.shared.world();
        let region = world.region(&self.region);
        let run = region
            .ecs
            .clusters
            .get_mut(&self.cluster)
            .and_then(|c| c.services.get_mut(&self.service))
            .and_then(|s| s.history.find_mut(&self.deployment_arn))
            .and_then(|d| d.hooks.iter_mut().find(|h| h.hook_id == self.hook_id));
        if let Some(run) = run {
            apply(run, &self.function, response, now, &self.shared);
        }
        drop(world);
        self.shared.wake.notify_one();
    }
}

/// What a function answered.
#[derive(Debug, PartialEq)]
pub struct Response {
    pub status: HookStatus,
    pub callback_delay: f64,
    pub details: Option<Value>,
}

/// Read a function's response; an invalid one is an error, as AWS treats it.
pub fn parse_response(body: &[u8]) -> Result<Response, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        format!(
            "the function's response is not a JSON object with a hookStatus: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
    })?;
    let status = match v["hookStatus"].as_str() {
        Some("SUCCEEDED") => HookStatus::Succeeded,
        Some("FAILED") => HookStatus::Failed,
        Some("IN_PROGRESS") => HookStatus::InProgress,
        other => {
            return Err(format!(
                "the function's response has hookStatus {}, not SUCCEEDED, FAILED or IN_PROGRESS",
                other.map_or("missing".to_string(), |s| format!("{s:?}"))
            ));
        }
    };
    Ok(Response {
        status,
        callback_delay: v["callBackDelay"]
            .as_f64()
            .unwrap_or(DEFAULT_CALLBACK_DELAY_SECS)
            .max(0.0),
        details: v.get("hookDetails").filter(|d| d.is_object()).cloned(),
    })
}

/// Apply a response to the hook's run, unless the run is over (timed out, or its deployment rolled
/// back) by the time it arrives.
fn apply(
    run: &mut HookRun,
    function: &str,
    response: Result<Response, String>,
    now: f64,
    shared: &Shared,
) {
    if !run.invoking || run.status != HookStatus::InProgress {
        return;
    }
    run.invoking = false;
    match response {
        Err(why) => {
            run.status = HookStatus::Failed;
            run.failure = Some(format!("the {} hook {function} failed: {why}", run.stage));
        }
        Ok(r) => {
            if let Some(Value::Object(returned)) = r.details {
                let mut merged = run.details.as_object().cloned().unwrap_or_default();
                merged.extend(returned);
                run.details = Value::Object(merged);
            }
            match r.status {
                HookStatus::InProgress => {
                    run.next_invoke_at = timing::after(shared, now, r.callback_delay);
                }
                HookStatus::Failed => {
                    run.status = HookStatus::Failed;
                    run.failure = Some(format!(
                        "the {} hook {function} returned hookStatus FAILED",
                        run.stage
                    ));
                }
                status => run.status = status,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_follow_the_contract() {
        let r = parse_response(
            br#"{"hookStatus":"IN_PROGRESS","callBackDelay":5,"hookDetails":{"n":1}}"#,
        )
        .unwrap();
        assert_eq!(r.status, HookStatus::InProgress);
        assert_eq!(r.callback_delay, 5.0);
        assert_eq!(r.details, Some(json!({"n": 1})));
        let r = parse_response(br#"{"hookStatus":"SUCCEEDED"}"#).unwrap();
        assert_eq!(r.callback_delay, DEFAULT_CALLBACK_DELAY_SECS);
        assert!(parse_response(br#"{"status":"SUCCEEDED"}"#).is_err());
        assert!(parse_response(br#"{"hookStatus":"DONE"}"#).is_err());
        assert!(parse_response(b"ok").is_err());
    }
}
