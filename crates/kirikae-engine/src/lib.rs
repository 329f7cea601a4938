//! The kirikae deploy engine: everything `kirikae deploy` does, as a library the binary is a thin layer
//! over (the binary only parses flags, renders [`progress::Event`]s and prints [`outcome::Outcome`]s).
//!
//! The flow is strict, and each step has its module:
//!
//! 1. [`config`] reads `kirikae.yml` ([`config::template`] renders `env` / `must_env` first) and
//!    [`definitions`] the task and service definitions (raw AWS JSON, checked against the ECS model in
//!    [`definitions::model`], parsed into SDK input types by [`definitions::codec`]); [`plan`] validates
//!    everything that needs no AWS call into a [`plan::Plan`].
//! 2. [`connection`] builds the SDK clients (credential chain, region, endpoint, retries, timeouts);
//!    [`preflight`] makes read-only calls to check what AWS must already have (cluster, target groups,
//!    listeners, an ECS application, a CODE_DEPLOY service, no active deployment).
//! 3. [`deploy`] turns plan and checks into a [`deploy::Prepared`] deploy: [`preview`] shows it
//!    (`--dry-run`), or it executes: application, task definition, service or [`group`] (deployment
//!    group diff and update), [`appspec`], deployment; [`watch`] follows what was created to its end
//!    (one poller, explicit state machines), reporting [`progress`] events; [`notify`] posts to Slack / a
//!    webhook; [`before_switch`] runs a one-off task (the migration) with the new task definition
//!    before the deployment is created; [`gate`] checks green through the test listener at Ready
//!    (and holds for approval) before production moves, [`policy`] rolls back on a signal or time-out when asked;
//!    [`outcome`] is the result, built by [`deploy::ending`]. [`fleet`] runs several configs;
//!    [`interrupt`] is how a signal stops the waiting.
//!
//! Errors are [`ConfigError`] (bad input, nothing changed: exit 2) or [`Error::Aws`] / [`Error::Conflict`]
//! until the first change; from then on every ending is an [`outcome::Outcome`]. AWS errors are matched
//! by their modeled codes ([`aws`]).

pub mod appspec;
pub mod audit;
pub mod aws;
pub mod before_switch;
pub mod config;
pub mod connection;
pub mod definitions;
pub mod deploy;
pub mod diff;
pub mod error;
pub mod fleet;
pub mod gate;
pub mod group;
pub mod history;
pub mod init;
pub mod interrupt;
pub mod lock;
pub mod memo;
pub mod migrate;
pub mod native;
pub mod notify;
pub mod operate;
pub mod outcome;
pub mod plan;
pub mod policy;
pub mod preflight;
pub mod preview;
pub mod previous;
pub mod progress;
pub mod setup;
mod suggest;
mod task_images;
pub mod watch;
mod wire;

pub use error::{ConfigError, Error};

/// The AWS SDK crates, for crates that build on the engine (`kirikae-demo` builds its own sandbox clients
/// and provisions a stack with them). Only the engine depends on the SDK: one version and one set of
/// features for every crate, and the SDK's types in the engine's public API (e.g.
/// [`connection::Clients`]) are the same types its users name.
pub mod sdk {
    pub use aws_config;
    pub use aws_credential_types;
    pub use aws_sdk_codedeploy as codedeploy;
    pub use aws_sdk_ecs as ecs;
    pub use aws_sdk_elasticloadbalancingv2 as elbv2;
}
