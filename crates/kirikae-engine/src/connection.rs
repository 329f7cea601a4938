//! The one way kirikae connects to AWS: the standard credential chain (env, profile incl. SSO, web identity,
//! container, IMDS), an optional profile, region, endpoint URL (`--endpoint-url` or `AWS_ENDPOINT_URL`),
//! retries with exponential back-off, operation timeouts, and one API-call [`Budget`] shared by every client
//! built from a connection and its clones (so several services deployed at once cannot throttle
//! themselves). Credentials are never printed: only the settings below are, and they hold none.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecs::config::{ConfigBag, RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use serde::Serialize;
use tokio::time::Instant;

use crate::error::ConfigError;
use crate::memo::{Memo, Memos};
use crate::watch::batch::{Batcher, Batchers};

/// Attempts per call by default. Retries wait a random time up to 0.2 s, 0.4 s, 0.8 s, … (at most 10 s):
/// eight attempts ride out about ten seconds of throttling, where five gave up after about one and a
/// half (the whole call is still bounded by the operation timeout).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// The default API-call budget, calls per second (see [`Budget`] for why this number).
pub const DEFAULT_CALLS_PER_SECOND: u32 = 10;
/// A budget's burst: this many seconds' worth of calls may go at once after a quiet spell.
pub const BURST_SECONDS: u32 = 2;

/// Connection settings, from flags (and the config file's `region`).
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// `--endpoint-url`; `AWS_ENDPOINT_URL` (and the per-service variants) are honoured by the SDK itself.
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first (retries back off exponentially; throttling is retried).
    pub max_attempts: u32,
    /// Longest time one API call may take, retries included (without a budget: with one, each attempt
    /// is bounded instead, after its turn).
    #[serde(with = "secs")]
    pub operation_timeout: Duration,
    /// Longest time one attempt may take (waiting for the budget excluded).
    #[serde(with = "secs")]
    pub attempt_timeout: Duration,
    /// API calls per second for every client built from this connection and its clones.
    pub budget: Budget,
    /// The batched reads of every service of the run, one batcher per region (shared by clones).
    #[serde(skip)]
    pub batchers: Batchers,
    /// Read-only answers shared by the checks of the run's services (shared by clones).
    #[serde(skip)]
    pub memos: Memos,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            region: None,
            profile: None,
            endpoint_url: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            operation_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(20),
            budget: Budget::per_second(DEFAULT_CALLS_PER_SECOND),
            batchers: Batchers::default(),
            memos: Memos::default(),
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
    /// For the read-only check of the CodeDeploy service role.
    pub iam: aws_sdk_iam::Client,
    /// For the read-only check of the group's alarms.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Who the credentials are (GetCallerIdentity), recorded in each deployment ([`crate::audit`]).
    pub sts: aws_sdk_sts::Client,
    pub region: String,
    /// The endpoint in use when it is not AWS's own (for messages; never contains credentials).
    pub endpoint: Option<String>,
    /// Polls, batched with those of the run's other services in the same region.
    pub batch: Arc<Batcher>,
    /// Read-only check answers shared with the run's other services in the same region.
    pub memo: Arc<Memo>,
}

impl Clients {
    /// Clients from an SDK config, with a batcher and memo of their own (a tool outside `deploy`, such
    /// as the demo, which builds its own config).
    pub fn from_config(sdk: &aws_config::SdkConfig, endpoint: Option<String>) -> Clients {
        let (ecs, codedeploy) = (
            aws_sdk_ecs::Client::new(sdk),
            aws_sdk_codedeploy::Client::new(sdk),
        );
        Clients {
            batch: Batcher::start(codedeploy.clone(), ecs.clone()),
            memo: Arc::default(),
            ecs,
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            codedeploy,
            iam: aws_sdk_iam::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            endpoint,
        }
    }
}

impl Connection {
    /// Resolves region and credentials providers (no AWS call is made here; credentials are fetched lazily
    /// on the first call). `config_region` is the config file's `region`, used when `--region` is absent.
    pub async fn connect(&self, config_region: Option<&str>) -> Result<Clients, ConfigError> {
        let mut timeouts = TimeoutConfig::builder().connect_timeout(Duration::from_millis(3100));
        // With a budget, a call may wait its turn for a long time inside the HTTP client, where every
        // SDK clock is already running: so the attempt timeout is applied by the budgeted connector
        // once the call may go, and there is no SDK operation timeout (attempts are bounded by
        // `max_attempts`, each by `attempt_timeout` after its turn). Waiting for the budget is never
        // mistaken for a slow AWS.
        if !self.budget.is_limited() {
            timeouts = timeouts
                .operation_timeout(self.operation_timeout)
                .operation_attempt_timeout(self.attempt_timeout);
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(self.max_attempts.max(1))
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(10)),
            )
            .timeout_config(timeouts.build());
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
        // Only the service clients spend the budget: credential providers (SSO, STS, IMDS) keep the
        // SDK's own HTTP client.
        let Some(http) = self.budget.http_client(self.attempt_timeout) else {
            let mut clients = Clients::from_config(&sdk, endpoint);
            clients.batch = self
                .batchers
                .for_region(&region, &clients.codedeploy, &clients.ecs);
            clients.memo = self.memos.for_region(&region);
            return Ok(clients);
        };
        // The request body is not read while the call waits for its turn: upload stall detection would
        // take that for a stalled upload ("minimum throughput … 0 B/s"). Bodies are small JSON and each
        // attempt is bounded by the connector's timeout; downloads keep their protection.
        let stalls = || {
            StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .build()
        };
        let ecs = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&sdk)
                .http_client(http.clone())
                .stalled_stream_protection(stalls())
                .build(),
        );
        let codedeploy = aws_sdk_codedeploy::Client::from_conf(
            aws_sdk_codedeploy::config::Builder::from(&sdk)
                .http_client(http.clone())
                .stalled_stream_protection(stalls())
                .build(),
        );
        Ok(Clients {
            batch: self.batchers.for_region(&region, &codedeploy, &ecs),
            memo: self.memos.for_region(&region),
            ecs,
            elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
                    .http_client(http.clone())
                    .stalled_stream_protection(stalls())
                    .build(),
            ),
            codedeploy,
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&sdk)
                    .http_client(http.clone())
                    .stalled_stream_protection(stalls())
                    .build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(&sdk)
                    .http_client(http.clone())
                    .stalled_stream_protection(stalls())
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&sdk)
                    .http_client(http.clone())
                    .stalled_stream_protection(stalls())
                    .build(),
            ),
            region,
            endpoint,
        })
    }
}

/// An API-call budget: a token bucket of `burst` calls refilled at `per_second`, shared by every clone
/// (cloning a [`Connection`] shares its budget; building a new `Budget` makes a separate one).
///
/// Every HTTP attempt (retries included: AWS counts them too) waits for its turn before it is sent. Turns
/// are handed out in request order (GCRA "virtual scheduling": each call reserves the next free slot), so
/// no call can starve behind newer ones, and in any window of `w` seconds at most
/// `burst + per_second * w` calls start.
///
/// Why 10 calls/s by default: AWS throttles per account and Region with token buckets of its own, and
/// every other tool of the account draws from them too. ECS documents a refill of 20 calls/s for its read
/// operations (e.g. DescribeClusters: bucket 50, refill 20/s), ELB 10/s for its non-mutating ones (bucket
/// 40); CodeDeploy documents no rate. Even if all of kirikae's calls went to one of those, 10/s with a
/// burst of 20 stays within them and leaves ECS half its budget. A deploy waiting makes about 2 calls/s,
/// so up to 5 services wait at full speed, and 20 poll about every 4 s instead of every second.
///
/// One ECS operation has a far lower limit: registering task definitions (bucket 20, refill 1/s), which
/// deploys of many services at once exceed (every service registers one). Those calls also wait for a
/// bucket of their own, 1/s with a burst of 10, so half of ECS's stays for the rest of the account.
#[derive(Clone)]
pub struct Budget {
    bucket: Option<Arc<Bucket>>,
    /// For RegisterTaskDefinition / DeregisterTaskDefinition, on top of `bucket`.
    task_definitions: Option<Arc<Bucket>>,
}

/// ECS's task-definition-modify limit, halved: see [`Budget`].
const TASK_DEFINITION_CALLS_PER_SECOND: u32 = 1;
const TASK_DEFINITION_BURST: u32 = 10;

impl Budget {
    /// `per_second` calls per second with a burst of [`BURST_SECONDS`] seconds' worth; `0`: no limit.
    pub fn per_second(per_second: u32) -> Budget {
        if per_second == 0 {
            return Budget::unlimited();
        }
        Budget {
            bucket: Some(Arc::new(Bucket::new(
                per_second,
                per_second.saturating_mul(BURST_SECONDS),
            ))),
            task_definitions: Some(Arc::new(Bucket::new(
                TASK_DEFINITION_CALLS_PER_SECOND,
                TASK_DEFINITION_BURST,
            ))),
        }
    }

    /// No limit.
    pub fn unlimited() -> Budget {
        Budget {
            bucket: None,
            task_definitions: None,
        }
    }

    pub fn is_limited(&self) -> bool {
        self.bucket.is_some()
    }

    /// Calls per second, `None` when unlimited.
    pub fn calls_per_second(&self) -> Option<u32> {
        self.bucket.as_ref().map(|b| b.per_second)
    }

    /// Waits until a call to `operation` (e.g. `RegisterTaskDefinition`) may start.
    pub async fn acquire(&self, operation: Option<&str>) {
        if let (Some(td), Some("RegisterTaskDefinition" | "DeregisterTaskDefinition")) =
            (&self.task_definitions, operation)
        {
            // Its own turn first, so that waiting for it holds no turn of the shared bucket.
            tokio::time::sleep_until(td.reserve(Instant::now())).await;
        }
        if let Some(bucket) = &self.bucket {
            tokio::time::sleep_until(bucket.reserve(Instant::now())).await;
        }
    }

    /// The SDK's default HTTPS client behind this budget, `None` when unlimited.
    fn http_client(&self, attempt_timeout: Duration) -> Option<SharedHttpClient> {
        self.bucket.as_ref()?;
        Some(SharedHttpClient::new(BudgetedClient {
            inner: default_https_client(),
            budget: self.clone(),
            attempt_timeout,
        }))
    }
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.bucket {
            Some(b) => write!(f, "Budget({}/s, burst {})", b.per_second, b.burst),
            None => f.write_str("Budget(unlimited)"),
        }
    }
}

/// Serialised as its rate (`null`: unlimited).
impl Serialize for Budget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.calls_per_second().serialize(s)
    }
}

/// GCRA: `next` is the theoretical arrival time of the next call; a call may start `tolerance` before it.
struct Bucket {
    per_second: u32,
    burst: u32,
    interval: Duration,
    tolerance: Duration,
    next: Mutex<Option<Instant>>,
}

impl Bucket {
    fn new(per_second: u32, burst: u32) -> Bucket {
        let interval = Duration::from_secs(1) / per_second.max(1);
        Bucket {
            per_second,
            burst: burst.max(1),
            interval,
            tolerance: interval * (burst.max(1) - 1),
            next: Mutex::new(None),
        }
    }

    /// Reserves the first free slot for a call asked for at `now`; returns when it may start.
    fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let tat = next.map_or(now, |t| t.max(now));
        *next = Some(tat + self.interval);
        tat.checked_sub(self.tolerance).map_or(now, |t| t.max(now))
    }
}

/// What aws-config would use without a client of ours: hyper 1 with rustls (aws-lc), HTTP proxies from
/// the environment (as for `BehaviorVersion::latest()`).
fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};

    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// An HTTP client whose every request first waits for the budget.
#[derive(Debug)]
struct BudgetedClient {
    inner: SharedHttpClient,
    budget: Budget,
    attempt_timeout: Duration,
}

impl HttpClient for BudgetedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            inner: self.inner.http_connector(settings, components),
            budget: self.budget.clone(),
            attempt_timeout: self.attempt_timeout,
        })
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_base_client_config(components, cfg)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct BudgetedConnector {
    inner: SharedHttpConnector,
    budget: Budget,
    attempt_timeout: Duration,
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, budget, limit) = (
            self.inner.clone(),
            self.budget.clone(),
            self.attempt_timeout,
        );
        let operation = operation(&request).map(str::to_string);
        HttpConnectorFuture::new(async move {
            budget.acquire(operation.as_deref()).await;
            match tokio::time::timeout(limit, inner.call(request)).await {
                Ok(response) => response,
                Err(_) => Err(ConnectorError::timeout(
                    format!("no response within {}s", limit.as_secs_f64()).into(),
                )),
            }
        })
    }
}

/// The operation an awsJson request calls (`X-Amz-Target: AmazonEC2ContainerServiceV20141113.RunTask`);
/// `None` for other protocols (awsQuery carries it in the body: ELBv2 needs no bucket of its own).
fn operation(request: &HttpRequest) -> Option<&str> {
    let target = request.headers().get("x-amz-target")?;
    target.rsplit_once('.').map(|(_, op)| op)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots handed out for calls asked for at the given offsets (ms) from a start instant.
    fn slots(bucket: &Bucket, asks_ms: &[u64]) -> Vec<u64> {
        let start = Instant::now();
        asks_ms
            .iter()
            .map(|ms| {
                let at = bucket.reserve(start + Duration::from_millis(*ms));
                (at - start).as_millis() as u64
            })
            .collect()
    }

    #[test]
    fn a_burst_goes_at_once_then_calls_are_spaced_by_the_rate() {
        let b = Bucket::new(10, 3);
        assert_eq!(slots(&b, &[0; 6]), [0, 0, 0, 100, 200, 300]);
    }

    #[test]
    fn a_quiet_spell_refills_the_bucket_but_never_beyond_the_burst() {
        let b = Bucket::new(10, 2);
        // Two at once, a third spaced; then 10 s idle: two at once again, not a hundred.
        assert_eq!(
            slots(&b, &[0, 0, 0, 10_000, 10_000, 10_000]),
            [0, 0, 100, 10_000, 10_000, 10_100]
        );
    }

    #[test]
    fn turns_follow_request_order_and_never_exceed_burst_plus_rate() {
        let b = Bucket::new(4, 8);
        let asks: Vec<u64> = (0..200).map(|i| i * 7).collect(); // ~143 asks/s against 4/s
        let got = slots(&b, &asks);
        assert!(got.windows(2).all(|w| w[0] <= w[1]), "in order: {got:?}");
        for (i, &from) in got.iter().enumerate() {
            for window_ms in [0u64, 250, 1000, 5000] {
                let n = got[i..]
                    .iter()
                    .take_while(|&&t| t <= from + window_ms)
                    .count() as u64;
                assert!(
                    n <= 8 + 4 * window_ms / 1000,
                    "{n} calls within {window_ms} ms"
                );
            }
        }
    }

    #[test]
    fn the_operation_comes_from_the_json_target_header() {
        let mut req = HttpRequest::empty();
        assert_eq!(operation(&req), None);
        req.headers_mut().insert(
            "X-Amz-Target",
            "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
        );
        assert_eq!(operation(&req), Some("RegisterTaskDefinition"));
    }

    #[test]
    fn zero_means_unlimited_and_serialises_as_null() {
        assert!(!Budget::per_second(0).is_limited());
        assert_eq!(serde_json::to_string(&Budget::unlimited()).unwrap(), "null");
        assert_eq!(
            serde_json::to_string(&Budget::per_second(10)).unwrap(),
            "10"
        );
        assert_eq!(
            format!("{:?}", Budget::per_second(10)),
            "Budget(10/s, burst 20)"
        );
    }

    #[test]
    fn clones_share_one_bucket() {
        let a = Budget::per_second(1);
        let b = a.clone();
        let start = Instant::now();
        let first = a.bucket.as_ref().unwrap().reserve(start);
        let _ = b.bucket.as_ref().unwrap().reserve(start);
        let third = a.bucket.as_ref().unwrap().reserve(start);
        assert_eq!(first, start);
        assert_eq!(third - start, Duration::from_secs(1));
    }
}
