//! How long the scheduler's steps take, in AWS seconds (the sandbox clock scales them).

use crate::world::Shared;

/// PROVISIONING: the ENI is created and attached.
pub const PROVISIONING: f64 = 2.0;
/// PENDING: image pull and container start.
pub const PULL: f64 = 3.0;
/// DEPROVISIONING: the ENI is detached and deleted.
pub const DEPROVISIONING: f64 = 1.0;
/// How long past `stopTimeout` the scheduler waits for exit reports before calling a task stopped.
pub const STOP_GRACE: f64 = 5.0;
/// How long a load balancer must report a task unhealthy before ECS acts on it. ECS evaluates target
/// health on its own cadence, not on every health check; the exact delay is not documented.
pub const UNHEALTHY_REACTION: f64 = 15.0;
/// How long STOPPED tasks stay describable (AWS: about an hour) …
pub const STOPPED_RETENTION: f64 = 3600.0;
/// … but never less than this in real seconds, so fast clocks do not hide them from people.
pub const STOPPED_RETENTION_MIN_REAL: f64 = 600.0;
/// … and at most this many per cluster.
pub const STOPPED_KEPT: usize = 500;
/// Consecutive task failures a task set tolerates before the scheduler throttles its launches …
pub const THROTTLE_AFTER: u32 = 3;
/// … first by this long, doubling up to the maximum.
pub const THROTTLE_BASE: f64 = 15.0;
pub const THROTTLE_MAX: f64 = 900.0;
/// How long the scheduler waits before it tries again to place tasks it could not place (no capacity).
pub const PLACEMENT_RETRY: f64 = 30.0;
/// A task set forgets its failures once its tasks have all run this long without one.
pub const FAILURES_FORGOTTEN_AFTER: f64 = 120.0;

/// The epoch second at which `aws_seconds` from `now` have passed on the sandbox clock.
pub fn after(shared: &Shared, now: f64, aws_seconds: f64) -> f64 {
    now + aws_seconds / shared.clock.scale()
}

/// Launch delay after `failures` consecutive failures (AWS throttles tasks that keep failing).
pub fn throttle(failures: u32) -> f64 {
    if failures < THROTTLE_AFTER {
        return 0.0;
    }
    let steps = (failures - THROTTLE_AFTER).min(16);
    (THROTTLE_BASE * 2f64.powi(steps as i32)).min(THROTTLE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_starts_after_repeated_failures_and_is_capped() {
        assert_eq!(throttle(0), 0.0);
        assert_eq!(throttle(THROTTLE_AFTER - 1), 0.0);
        assert_eq!(throttle(THROTTLE_AFTER), THROTTLE_BASE);
        assert_eq!(throttle(THROTTLE_AFTER + 1), THROTTLE_BASE * 2.0);
        assert_eq!(throttle(100), THROTTLE_MAX);
    }
}
