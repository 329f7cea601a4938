//! AppSpec hooks. In AWS they are Lambda functions that CodeDeploy invokes with
//! `{"DeploymentId", "LifecycleEventHookExecutionId"}` and that report back with
//! `PutLifecycleEventHookExecutionStatus`. The sandbox runs no Lambdas: its config maps a function
//! name to a local command or an `http://` URL, invoked through [`crate::lambda`].
//! As with Lambda, what the hook returns does not complete it; only the status call does. A failed
//! invocation (command exit status other than 0, HTTP error) fails the event at once, as a Lambda
//! invocation error would.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::world::{Ctx, RegionKey, Shared};

/// What the sandbox runs for hook functions.
#[derive(Clone, Debug, Default)]
pub struct HookConfig {
    /// Function name (or ARN) → shell command line or `http://` URL.
    pub targets: BTreeMap<String, String>,
    /// The sandbox's own endpoint, handed to hook commands as `AWS_ENDPOINT_URL`.
    pub endpoint_url: String,
}

impl HookConfig {
    /// The command or URL for a function named by name or ARN
    /// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
    pub fn target(&self, function: &str) -> Option<&str> {
        if let Some(t) = self.targets.get(function) {
            return Some(t);
        }
        let name = function
            .split(":function:")
            .nth(1)
            .map(|rest| rest.split(':').next().unwrap_or(rest))?;
        self.targets.get(name).map(String::as_str)
    }
}

/// Starts hook invocations; the outcome arrives later through the deployment.
pub trait HookRunner {
    fn invoke(
        &mut self,
        deployment_id: &str,
        execution_id: &str,
        event: &str,
        function: &str,
    ) -> Result<(), String>;
}

/// Runs hooks for real, outside the world lock.
pub struct LiveHooks {
    shared: Arc<Shared>,
    region: RegionKey,
}

impl LiveHooks {
    pub fn new(cx: &Ctx) -> LiveHooks {
        LiveHooks {
            shared: cx.shared.clone(),
            region: cx.region.key.clone(),
        }
    }
}

impl HookRunner for LiveHooks {
    fn invoke(
        &mut self,
        deployment_id: &str,
        execution_id: &str,
        event: &str,
        function: &str,
    ) -> Result<(), String> {
        let Some(target) = self.shared.hooks.target(function).map(String::from) else {
            let name = function.split(":function:").nth(1).unwrap_or(function);
            return Err(format!(
                "The {event} hook names Lambda function {function}, which the kirikae sandbox cannot run: map it to a local command or URL with `kirikae sandbox --hook {name}=COMMAND_OR_URL`."
            ));
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| format!("cannot start the {event} hook: {e}"))?;
        let payload =
            json!({ "DeploymentId": deployment_id, "LifecycleEventHookExecutionId": execution_id })
                .to_string();
        let job = Invocation {
            shared: self.shared.clone(),
            region: self.region.clone(),
            deployment_id: deployment_id.to_string(),
            execution_id: execution_id.to_string(),
            label: format!("{event} hook {function} ({target})"),
            target,
            payload,
        };
        tracing::info!(deployment = deployment_id, "invoking the {}", job.label);
        runtime.spawn(job.run());
        Ok(())
    }
}

struct Invocation {
    shared: Arc<Shared>,
    region: RegionKey,
    deployment_id: String,
    execution_id: String,
    label: String,
    target: String,
    payload: String,
}

impl Invocation {
    async fn run(self) {
        // A hook left running past its timeout is killed; the event has failed by then anyway.
        let timeout = self.shared.clock.real(3600.0);
        let outcome = tokio::select! {
            _ = self.shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(timeout) => Err("it was still running after 60 minutes and was killed".to_string()),
            r = self.call() => r,
        };
        match outcome {
            Ok(()) => {
                tracing::debug!(deployment = %self.deployment_id, "the {} was invoked; waiting for its status", self.label)
            }
            Err(why) => {
                let message = format!("The {} failed: {why}", self.label);
                tracing::info!(deployment = %self.deployment_id, "{message}");
                let mut world = self.shared.world();
                if let Some(d) = world
                    .region(&self.region)
                    .codedeploy
                    .deployments
                    .get_mut(&self.deployment_id)
                {
                    let _ = d.report_hook(&self.execution_id, Err(message));
                }
                drop(world);
                self.shared.wake.notify_one();
            }
        }
    }

    async fn call(&self) -> Result<(), String> {
        // The response does not matter: the hook reports with PutLifecycleEventHookExecutionStatus.
        crate::lambda::invoke(&self.shared, &self.region, &self.target, &self.payload)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_resolve_by_name_or_arn() {
        let c = HookConfig {
            targets: [("validate".to_string(), "./check.sh".to_string())]
                .into_iter()
                .collect(),
            endpoint_url: String::new(),
        };
        assert_eq!(c.target("validate"), Some("./check.sh"));
        assert_eq!(
            c.target("arn:aws:lambda:us-east-1:111122223333:function:validate"),
            Some("./check.sh")
        );
        assert_eq!(
            c.target("arn:aws:lambda:us-east-1:111122223333:function:validate:live"),
            Some("./check.sh")
        );
        assert_eq!(c.target("other"), None);
    }
}
