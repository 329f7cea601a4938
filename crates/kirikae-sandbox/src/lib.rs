//! kirikae's sandbox: a local AWS endpoint that real AWS clients (the Rust SDK, boto3, the AWS CLI) use
//! unchanged. ECS tasks run as real local processes on loopback addresses of their own, load balancer
//! listeners are real reverse proxies, and everything timed follows one scalable clock.
//!
//! Layers, outermost first: [`server`] (one HTTP endpoint) → [`protocol`] (wire codecs, driven by the
//! AWS [`model`]s) → service logic ([`ecs`], [`elbv2`], [`codedeploy`], [`cloudwatch`], [`iam`]) on the
//! shared [`world`] → background [`controller`] and [`runtime`] (processes) that make the state real.

pub mod addr;
mod browsers;
pub mod clock;
pub mod cloudwatch;
pub mod codedeploy;
mod controller;
pub mod ecs;
pub mod elbv2;
pub mod faults;
pub mod iam;
pub mod lambda;
mod limits;
pub mod model;
pub mod protocol;
pub mod runtime;
mod server;
pub mod sts;
#[cfg(test)]
mod testkit;
mod throttle;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use faults::FaultSpec;
pub use runtime::ImageCommands;
pub use server::is_read_only;

use world::{Shared, World};

/// How to run a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Address of the AWS endpoint (port 0 picks a free one).
    pub listen: SocketAddr,
    /// AWS seconds per real second (60: an AWS minute is one second).
    pub time_scale: f64,
    pub images: ImageCommands,
    /// CodeDeploy hook functions: Lambda function name → local command line or `http://` URL.
    pub hooks: BTreeMap<String, String>,
    /// AWS-like rate limit: API calls per second per account and region beyond which calls are
    /// throttled (`None`: never).
    pub throttle_above: Option<f64>,
    /// Faults injected from the start (their windows count from start).
    pub faults: Vec<FaultSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Addresses(#[from] addr::NoFreeBlock),
    #[error("--time-scale must be a positive number, got {0}")]
    TimeScale(f64),
}

/// A running sandbox. Dropping it without [`Sandbox::shutdown`] still kills its processes (they get
/// SIGKILL when the sandbox process exits), but `shutdown` is the orderly way.
pub struct Sandbox {
    shared: Arc<Shared>,
    endpoint: SocketAddr,
    jobs: Vec<JoinHandle<()>>,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
            return Err(SandboxError::TimeScale(config.time_scale));
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Listen {
                addr: config.listen,
                source,
            })?;
        let endpoint = listener
            .local_addr()
            .map_err(|source| SandboxError::Listen {
                addr: config.listen,
                source,
            })?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            clock: clock::Clock::new(config.time_scale),
            addrs: addr::AddressPool::claim()?,
            runtime: runtime::Runtime::new(config.images, config.time_scale, events_tx),
            hooks: codedeploy::HookConfig {
                targets: config.hooks,
                endpoint_url: format!("http://{endpoint}"),
            },
            world: Mutex::new(World::default()),
            calls: Mutex::new(Default::default()),
            throttle: config.throttle_above.map(throttle::Throttle::new),
            throttled: Default::default(),
            faults: Default::default(),
            wake: Notify::new(),
            shutdown: CancellationToken::new(),
        });
        shared.faults.add_all(config.faults);
        let jobs = vec![
            tokio::spawn(server::serve(listener, shared.clone())),
            tokio::spawn(controller::run(shared.clone(), events_rx)),
        ];
        tracing::info!(%endpoint, block = shared.addrs.block(), "sandbox ready");
        Ok(Sandbox {
            shared,
            endpoint,
            jobs,
        })
    }

    /// `http://127.0.0.1:PORT`: give it to clients as `AWS_ENDPOINT_URL` / `--endpoint-url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.endpoint)
    }

    pub fn endpoint(&self) -> SocketAddr {
        self.endpoint
    }

    /// A token that is cancelled when the sandbox shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// Stop listeners and the endpoint, kill every task process, free every address.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.shared
            .runtime
            .kill_all(std::time::Duration::from_secs(5))
            .await;
        for job in self.jobs {
            let _ = job.await;
        }
        // Listener tasks exit on the same token; give them a moment to drop their sockets.
        tokio::task::yield_now().await;
    }
}
