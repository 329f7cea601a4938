//! `kirikae __demo-app`: what the sandbox runs for image `kirikae/demo:<tag>` (hidden; the sandbox
//! passes its settings through the environment).

use std::process::ExitCode;

use crate::exit::Status;

/// `command`: the container's command (RunTask's override); empty: serve as the demo app.
pub async fn run(command: Vec<String>) -> ExitCode {
    if !command.is_empty() {
        return kirikae_sandbox::runtime::demo_app::run_command(&command);
    }
    match kirikae_sandbox::runtime::demo_app::run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failure.into()
        }
    }
}
