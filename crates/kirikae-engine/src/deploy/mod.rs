//! One service's deploy, in three parts with one job each:
//!
//! - [`prepare`]: connect and run the read-only checks → a [`Prepared`] deploy (nothing changed yet),
//!   which `--dry-run` previews ([`crate::preview`]) or which executes;
//! - `steps`: the mutating steps, in order: application, task definition, service (when new),
//!   deployment group, desired count, deployment (with a run id, so an ambiguous failure finds *our*
//!   deployment instead of creating a second one);
//! - `execute`: the flow: the steps, then following what they created ([`crate::watch`]) to an
//!   [`ending`] — pure functions that turn what happened into the [`crate::outcome::Outcome`].
//!
//! Once anything is changed, nothing returns an error: every way the run ends is an outcome that says
//! what exists and what AWS is doing now.

pub(crate) mod diagnose;
pub mod ending;
mod execute;
mod prepare;
pub(crate) mod register;
mod steps;

pub use diagnose::Diagnosis;
pub use prepare::{Prepared, Verified, prepare, prepare_with, verify};

/// `family:revision` from a task definition ARN.
pub fn short_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
