//! Where the gate reaches the test listener: `gate.test_url`, else `http://DNS:PORT` of the listener's
//! load balancer (CodeDeploy's test listener, or an ECS-native service's). Found before anything is changed (read-only: DescribeListeners, DescribeLoadBalancers).

use aws_sdk_elasticloadbalancingv2::types::ProtocolEnum;

use std::path::Path;

use crate::aws::failed;
use crate::config::gate::Gate;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::plan::Plan;

/// The test listener's base URL for the plan's gate (`None` without a gate). `test_listener`: its ARN,
/// as preflight resolved it.
pub async fn resolve(
    plan: &Plan,
    test_listener: Option<&str>,
    aws: &Clients,
) -> Result<Option<String>, Error> {
    let Some(gate) = &plan.gate else {
        return Ok(None);
    };
    for_gate(
        gate,
        &plan.config_path,
        test_listener,
        "codedeploy.test_listener",
        aws,
    )
    .await
    .map(Some)
}

/// The test listener's base URL for `gate`, whichever controller runs it: `gate.test_url`, else the
/// listener's. `test_listener`: its ARN, as preflight resolved it; `names_it`: the config key that
/// names the test listener (said when there is none).
pub async fn for_gate(
    gate: &Gate,
    config_path: &Path,
    test_listener: Option<&str>,
    names_it: &str,
    aws: &Clients,
) -> Result<String, Error> {
    if let Some(url) = &gate.test_url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let Some(arn) = test_listener else {
        // The plan refuses a gate without a test listener; preflight resolved it.
        return Err(
            ConfigError::in_file(config_path, format!("a gate needs {names_it}"))
                .field("gate")
                .into(),
        );
    };
    let listeners = aws
        .elbv2
        .describe_listeners()
        .listener_arns(arn)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeListeners", e))?;
    let listener = listeners
        .listeners()
        .first()
        .ok_or_else(|| Error::Conflict {
            message: format!("the test listener {arn} no longer exists"),
            hint: None,
        })?;
    let scheme = match listener.protocol() {
        Some(ProtocolEnum::Http) | None => "http",
        Some(ProtocolEnum::Https) => {
            return Err(ConfigError::in_file(
                config_path,
                "the test listener is HTTPS: its certificate names your domain, not the load balancer's DNS name, so kirikae cannot tell where to send the gate's requests",
            )
            .field("gate.test_url")
            .hint("set gate.test_url, e.g. https://test.example.com:8443")
            .into());
        }
        Some(other) => {
            return Err(ConfigError::in_file(
                config_path,
                format!(
                    "the test listener speaks {}, and the gate's checks are HTTP",
                    other.as_str()
                ),
            )
            .field("gate")
            .into());
        }
    };
    let port = listener.port().unwrap_or(80);
    let lb = listener.load_balancer_arn().unwrap_or_default();
    let lbs = aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(lb)
        .send()
        .await
        .map_err(|e| failed("elasticloadbalancing:DescribeLoadBalancers", e))?;
    let dns = lbs
        .load_balancers()
        .first()
        .and_then(|l| l.dns_name())
        .ok_or_else(|| Error::Conflict {
            message: format!("the test listener's load balancer {lb} has no DNS name"),
            hint: None,
        })?;
    Ok(format!("{scheme}://{dns}:{port}"))
}
