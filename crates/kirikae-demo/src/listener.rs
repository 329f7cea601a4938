//! Watches where the production listener forwards, as AWS reports it (`DescribeListeners`, every
//! [`INTERVAL`]). Each change is kept with the window it happened in: after the previous poll was sent,
//! and before the poll that saw it was answered. That answer time is what the report calls the switch: a
//! request started after it was routed by the new forward, whatever the precision of AWS's timestamps.

use std::time::Duration;

use kirikae_engine::sdk::elbv2::Client;
use kirikae_engine::sdk::elbv2::types::{Action, ActionTypeEnum};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Origin;

pub const INTERVAL: Duration = Duration::from_millis(20);

/// The listener's forward as seen, once per change.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Seconds since the origin when the previous poll (which saw the previous forward) was sent: the
    /// change happened after this. The first observation has no previous poll: its own send time.
    pub after: f64,
    /// When the answer that showed this forward arrived: the change happened before this.
    pub by: f64,
    /// `(target group ARN, percent of the traffic)`.
    pub weights: Vec<(String, f64)>,
}

impl Observation {
    /// The percent of traffic this target group gets.
    pub fn weight(&self, target_group_arn: &str) -> f64 {
        self.weights
            .iter()
            .find(|(arn, _)| arn == target_group_arn)
            .map_or(0.0, |(_, w)| *w)
    }
}

pub struct Watch {
    stop: CancellationToken,
    task: JoinHandle<Vec<Observation>>,
}

pub fn watch(elbv2: Client, listener_arn: String, origin: Origin) -> Watch {
    let stop = CancellationToken::new();
    let task = tokio::spawn(poll(elbv2, listener_arn, origin, stop.clone()));
    Watch { stop, task }
}

impl Watch {
    /// Stops polling; every change seen, in order.
    pub async fn stop(self) -> Vec<Observation> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

async fn poll(
    elbv2: Client,
    listener_arn: String,
    origin: Origin,
    stop: CancellationToken,
) -> Vec<Observation> {
    let mut seen: Vec<Observation> = Vec::new();
    let mut previous_sent: Option<f64> = None;
    loop {
        let sent = origin.elapsed();
        let answer = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            a = elbv2.describe_listeners().listener_arns(&listener_arn).send() => a,
        };
        let by = origin.elapsed();
        // A failed poll says nothing; the next one will.
        if let Ok(out) = answer
            && let Some(weights) = out
                .listeners()
                .first()
                .and_then(|l| forward_weights(l.default_actions()))
        {
            if seen.last().is_none_or(|o| o.weights != weights) {
                seen.push(Observation {
                    after: previous_sent.unwrap_or(sent),
                    by,
                    weights,
                });
            }
            previous_sent = Some(sent);
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
    seen
}

/// The forward action's target groups with their share of the traffic, in percent: a weighted
/// `ForwardConfig`, or a plain `TargetGroupArn` (all of it).
pub fn forward_weights(actions: &[Action]) -> Option<Vec<(String, f64)>> {
    let forward = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    let groups: Vec<(String, f64)> = match forward.forward_config() {
        Some(config) if !config.target_groups().is_empty() => config
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap_or_default().to_string(),
                    // ELBv2 defaults a missing weight to 1.
                    t.weight().unwrap_or(1) as f64,
                )
            })
            .collect(),
        _ => vec![(forward.target_group_arn()?.to_string(), 1.0)],
    };
    let total: f64 = groups.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return Some(groups.into_iter().map(|(a, _)| (a, 0.0)).collect());
    }
    let mut groups: Vec<(String, f64)> = groups
        .into_iter()
        .map(|(a, w)| (a, w * 100.0 / total))
        .collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    Some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kirikae_engine::sdk::elbv2::types::{ForwardActionConfig, TargetGroupTuple};

    fn weighted(pairs: &[(&str, i32)]) -> Action {
        let mut config = ForwardActionConfig::builder();
        for (arn, w) in pairs {
            config = config.target_groups(
                TargetGroupTuple::builder()
                    .target_group_arn(*arn)
                    .weight(*w)
                    .build(),
            );
        }
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(config.build())
            .build()
    }

    #[test]
    fn weights_in_percent_from_either_form() {
        let plain = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn("tg/blue")
            .build();
        assert_eq!(
            forward_weights(&[plain]),
            Some(vec![("tg/blue".to_string(), 100.0)])
        );
        assert_eq!(
            forward_weights(&[weighted(&[("tg/green", 9), ("tg/blue", 1)])]),
            Some(vec![
                ("tg/blue".to_string(), 10.0),
                ("tg/green".to_string(), 90.0)
            ])
        );
        assert_eq!(
            forward_weights(&[weighted(&[("tg/green", 0), ("tg/blue", 0)])]).map(|w| w.len()),
            Some(2)
        );
    }
}
