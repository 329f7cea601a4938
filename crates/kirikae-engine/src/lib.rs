//! The kirikae deploy engine: everything `kirikae deploy` does, as a library the binary is a thin layer
//! over.
//!
//! The flow is strict: config and definition files are read, templated and validated into a [`plan::Plan`]
//! without touching AWS; then read-only calls check what AWS must already have (target groups, listeners,
//! the application's platform); only then is anything changed.

pub mod appspec;
pub mod aws;
pub mod config;
pub mod connection;
pub mod definitions;
pub mod deploy;
pub mod error;
pub mod group;
pub mod notify;
pub mod outcome;
pub mod plan;
pub mod preflight;
pub mod preview;
pub mod progress;
mod suggest;
pub mod watch;

pub use error::{ConfigError, Error};
