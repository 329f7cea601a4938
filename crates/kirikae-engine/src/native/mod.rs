//! `kirikae deploy` on ECS-native Blue/Green services: deployment controller `ECS` with the
//! `BLUE_GREEN`, `LINEAR` or `CANARY` strategy, whose deployments ECS runs itself (no CodeDeploy
//! application, group or AppSpec). A config says which controller a service has (`ecs:` or
//! `codedeploy:`); the controller is never guessed, and a live service with the other one is refused
//! before anything changes.
//!
//! The flow mirrors the CodeDeploy one, one module per step:
//!
//! 1. [`config`] (the `ecs:` block) and [`plan`] (config + definitions + flags → [`plan::NativePlan`],
//!    no AWS call);
//! 2. [`preflight`] (read-only: cluster, target group pair, listener rules forwarding as ECS needs,
//!    infrastructure role, the service's controller, no service deployment running) and [`prepare`]
//!    (→ [`prepare::NativePrepared`], with the service as [`settings`] builds it);
//! 3. `steps` (task definition, CreateService with the ECS controller or UpdateService, and the
//!    service deployment that call started), `execute` (the flow), [`crate::watch::native`] (following
//!    the service deployment) and [`ending`] (pure: what happened → outcome);
//! 4. [`operate`]: watch, promote (ContinueServiceDeployment), rollback / stop (StopServiceDeployment).

pub mod config;
pub mod diagnose;
pub mod ending;
mod execute;
pub mod gate;
pub mod operate;
pub mod plan;
pub mod policy;
pub mod preflight;
pub mod prepare;
pub mod revision;
pub mod settings;
mod steps;

pub use plan::NativePlan;
pub use prepare::{NativePrepared, prepare, prepare_with, verify};
