//! The one way kirikae connects to AWS: the standard credential chain (env, profile incl. SSO, web identity,
//! container, IMDS), an optional profile, region, endpoint URL (`--endpoint-url` or `AWS_ENDPOINT_URL`),
//! retries with exponential back-off, and operation timeouts. Credentials are never printed: only the
//! settings below are, and they hold none.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use serde::Serialize;

use crate::error::ConfigError;

/// Connection settings, from flags (and the config file's `region`).
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// `--endpoint-url`; `AWS_ENDPOINT_URL` (and the per-service variants) are honoured by the SDK itself.
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first (retries back off exponentially; throttling is retried).
    pub max_attempts: u32,
    /// Longest time one API call may take, retries included.
    #[serde(with = "secs")]
    pub operation_timeout: Duration,
    /// Longest time one attempt may take.
    #[serde(with = "secs")]
    pub attempt_timeout: Duration,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            region: None,
            profile: None,
            endpoint_url: None,
            max_attempts: 5,
            operation_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(20),
        }
    }
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// The clients every deploy step uses, built once from one shared SDK config.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub region: String,
    /// The endpoint in use when it is not AWS's own (for messages; never contains credentials).
    pub endpoint: Option<String>,
}

impl Connection {
    /// Resolves region and credentials providers (no AWS call is made here; credentials are fetched lazily
    /// on the first call). `config_region` is the config file's `region`, used when `--region` is absent.
    pub async fn connect(&self, config_region: Option<&str>) -> Result<Clients, ConfigError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(self.max_attempts.max(1))
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(10)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(3100))
                    .operation_timeout(self.operation_timeout)
                    .operation_attempt_timeout(self.attempt_timeout)
                    .build(),
            );
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = self.region.as_deref().or(config_region) {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            return Err(ConfigError::new("region", "no AWS region is set")
                .hint("set `region:` in kirikae.yml, pass --region, or set AWS_REGION (or a region in your profile)"));
        };
        let endpoint = self
            .endpoint_url
            .clone()
            .or_else(|| sdk.endpoint_url().map(str::to_string));
        Ok(Clients {
            ecs: aws_sdk_ecs::Client::new(&sdk),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
            codedeploy: aws_sdk_codedeploy::Client::new(&sdk),
            region,
            endpoint,
        })
    }
}
