//! One clock for everything timed in the sandbox. AWS durations (health-check intervals, deregistration
//! delays, CodeDeploy waits) are divided by the time scale: at `--time-scale 60` an AWS minute lasts one
//! real second. Timestamps reported through the APIs stay real wall-clock time, so clients can compare
//! them with their own clocks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    scale: f64,
}

impl Clock {
    /// `scale` must be positive and finite (validated where it is parsed).
    pub fn new(scale: f64) -> Clock {
        assert!(
            scale.is_finite() && scale > 0.0,
            "time scale must be positive"
        );
        Clock { scale }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Real time that an AWS duration of `seconds` takes in this sandbox.
    pub fn real(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds / self.scale).max(0.0))
    }

    /// Sleep for an AWS duration.
    pub async fn sleep(&self, seconds: f64) {
        tokio::time::sleep(self.real(seconds)).await;
    }

    /// Now, as epoch seconds (the form awsJson and CBOR carry timestamps in).
    pub fn now_epoch(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    /// AWS seconds elapsed since a real instant.
    pub fn aws_since(&self, start: tokio::time::Instant) -> f64 {
        start.elapsed().as_secs_f64() * self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_aws_durations_to_real_ones() {
        let c = Clock::new(60.0);
        assert_eq!(c.real(60.0), Duration::from_secs(1));
        assert_eq!(c.real(300.0), Duration::from_secs(5));
        assert_eq!(Clock::new(1.0).real(2.5), Duration::from_millis(2500));
    }
}
