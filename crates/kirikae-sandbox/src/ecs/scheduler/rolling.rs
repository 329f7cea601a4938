//! One step of an ECS rolling deployment: how many tasks of the new (PRIMARY) deployment to start and
//! how many tasks of older deployments to stop, within the service's `maximumPercent` (tasks that may
//! run at once) and `minimumHealthyPercent` (healthy tasks that must remain).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollingInput {
    pub desired: u32,
    pub minimum_healthy_percent: u32,
    pub maximum_percent: u32,
    /// Live (desired RUNNING) tasks of the new deployment.
    pub new_live: u32,
    /// Live tasks of older deployments, and how many of them are not healthy.
    pub old_live: u32,
    pub old_unhealthy: u32,
    /// Healthy tasks across all deployments.
    pub healthy: u32,
    /// New tasks not yet healthy (still starting or being checked).
    pub new_in_flight: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RollingStep {
    pub start_new: u32,
    pub stop_old: u32,
}

pub fn step(i: RollingInput) -> RollingStep {
    // AWS rounds the maximum down and the minimum up.
    let max_total = (u64::from(i.desired) * u64::from(i.maximum_percent) / 100) as u32;
    let min_healthy =
        (u64::from(i.desired) * u64::from(i.minimum_healthy_percent)).div_ceil(100) as u32;
    let start_new = i
        .desired
        .saturating_sub(i.new_live)
        .min(max_total.saturating_sub(i.new_live + i.old_live));
    // Unhealthy old tasks serve nobody: they may always go. Healthy ones only above the minimum.
    let mut stop_old = (i.old_unhealthy + i.healthy.saturating_sub(min_healthy)).min(i.old_live);
    // With limits that allow neither (e.g. 1 task at 100 %/100 %), AWS still makes progress by
    // stopping an old task first rather than stalling forever.
    if start_new == 0
        && stop_old == 0
        && i.new_in_flight == 0
        && i.old_live > 0
        && i.new_live < i.desired
    {
        stop_old = 1;
    }
    RollingStep {
        start_new,
        stop_old,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(desired: u32, min: u32, max: u32) -> RollingInput {
        RollingInput {
            desired,
            minimum_healthy_percent: min,
            maximum_percent: max,
            new_live: 0,
            old_live: desired,
            old_unhealthy: 0,
            healthy: desired,
            new_in_flight: 0,
        }
    }

    #[test]
    fn default_limits_start_all_new_tasks_first_and_stop_old_once_new_are_healthy() {
        let first = step(input(2, 100, 200));
        assert_eq!(
            first,
            RollingStep {
                start_new: 2,
                stop_old: 0
            }
        );
        let starting = step(RollingInput {
            new_live: 2,
            new_in_flight: 2,
            ..input(2, 100, 200)
        });
        assert_eq!(
            starting,
            RollingStep {
                start_new: 0,
                stop_old: 0
            }
        );
        let healthy = step(RollingInput {
            new_live: 2,
            healthy: 4,
            ..input(2, 100, 200)
        });
        assert_eq!(
            healthy,
            RollingStep {
                start_new: 0,
                stop_old: 2
            }
        );
    }

    #[test]
    fn half_minimum_without_headroom_replaces_in_halves() {
        let s = step(input(4, 50, 100));
        assert_eq!(
            s,
            RollingStep {
                start_new: 0,
                stop_old: 2
            }
        );
        let s = step(RollingInput {
            old_live: 2,
            healthy: 2,
            ..input(4, 50, 100)
        });
        assert_eq!(
            s,
            RollingStep {
                start_new: 2,
                stop_old: 0
            }
        );
    }

    #[test]
    fn unhealthy_old_tasks_can_always_go() {
        let s = step(RollingInput {
            old_unhealthy: 2,
            healthy: 0,
            ..input(2, 100, 200)
        });
        assert_eq!(
            s,
            RollingStep {
                start_new: 2,
                stop_old: 2
            }
        );
    }

    #[test]
    fn limits_that_allow_nothing_still_make_progress() {
        let s = step(input(1, 100, 100));
        assert_eq!(
            s,
            RollingStep {
                start_new: 0,
                stop_old: 1
            }
        );
        // …but not while a new task is still on its way.
        let s = step(RollingInput {
            new_live: 1,
            new_in_flight: 1,
            old_live: 1,
            ..input(2, 100, 100)
        });
        assert_eq!(s.stop_old, 0);
    }

    #[test]
    fn maximum_rounds_down_and_minimum_up() {
        // 3 × 150 % = 4.5 → 4 tasks at once; 3 × 50 % = 1.5 → 2 must stay healthy.
        let s = step(input(3, 50, 150));
        assert_eq!(
            s,
            RollingStep {
                start_new: 1,
                stop_old: 1
            }
        );
    }
}
