//! One file per command.

pub mod demo;
pub mod demo_app;
pub mod deploy;
pub mod deploy_native;
pub mod diff;
pub mod history;
pub mod init;
pub mod migrate;
pub mod operate;
pub mod operate_native;
pub mod read_args;
pub mod sandbox;
pub mod setup;
pub mod verify;
