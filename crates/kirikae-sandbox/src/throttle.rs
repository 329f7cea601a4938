//! AWS's API rate limits, optionally: a token bucket per account and region, refilled in real time
//! (clients poll on the wall clock, whatever the sandbox's time scale). Off by default; with
//! `--throttle-above N`, calls beyond N per second (bursts of up to N) are answered with the service's
//! throttling error, so clients' back-off can be rehearsed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::model::Service;
use crate::protocol::ApiError;
use crate::world::RegionKey;

pub struct Throttle {
    per_second: f64,
    buckets: Mutex<HashMap<RegionKey, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Throttle {
    pub fn new(per_second: f64) -> Throttle {
        Throttle {
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for a call in `key`'s account and region, or says how AWS refuses it.
    pub fn admit(&self, key: &RegionKey, service: Service) -> Result<(), ApiError> {
        self.admit_at(key, service, Instant::now())
    }

    fn admit_at(&self, key: &RegionKey, service: Service, now: Instant) -> Result<(), ApiError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // A burst of N calls at N per second; at least one, so rates below 1/s still admit calls.
        let capacity = self.per_second.max(1.0);
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(ApiError::new(throttling_code(service), "Rate exceeded"))
    }
}

/// The code each service throttles with (what the SDKs' retry classifiers recognise).
fn throttling_code(service: Service) -> &'static str {
    match service {
        // awsJson services answer `ThrottlingException` (CodeDeploy models it; ECS sends it unmodeled).
        Service::Ecs | Service::CodeDeploy => "ThrottlingException",
        // Query-protocol services use the query error code.
        Service::Elbv2 | Service::CloudWatch | Service::Iam | Service::Sts => "Throttling",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(region: &str) -> RegionKey {
        RegionKey {
            account: "000000000000".into(),
            region: region.into(),
        }
    }

    #[test]
    fn admits_a_burst_then_the_rate_per_account_and_region() {
        let t = Throttle::new(2.0);
        let start = Instant::now();
        let east = key("us-east-1");
        assert!(t.admit_at(&east, Service::Ecs, start).is_ok());
        assert!(t.admit_at(&east, Service::Ecs, start).is_ok());
        let refused = t.admit_at(&east, Service::Ecs, start).unwrap_err();
        assert_eq!(refused.code, "ThrottlingException");
        assert_eq!(
            t.admit_at(&east, Service::Elbv2, start).unwrap_err().code,
            "Throttling"
        );
        // Another region has a bucket of its own.
        assert!(t.admit_at(&key("eu-west-1"), Service::Ecs, start).is_ok());
        // Half a second refills one call at 2 per second.
        let later = start + Duration::from_millis(500);
        assert!(t.admit_at(&east, Service::Ecs, later).is_ok());
        assert!(t.admit_at(&east, Service::Ecs, later).is_err());
    }

    #[test]
    fn a_rate_below_one_per_second_still_admits_calls() {
        let t = Throttle::new(0.5);
        let start = Instant::now();
        let east = key("us-east-1");
        assert!(t.admit_at(&east, Service::Ecs, start).is_ok());
        assert!(t.admit_at(&east, Service::Ecs, start).is_err());
        let later = start + Duration::from_secs(2);
        assert!(t.admit_at(&east, Service::Ecs, later).is_ok());
    }
}
