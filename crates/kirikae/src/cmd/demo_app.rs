//! `kirikae __demo-app`: what the sandbox runs for image `kirikae/demo:<tag>` (hidden; the sandbox
//! passes its settings through the environment).

use std::process::ExitCode;

use crate::exit::Status;

pub async fn run() -> ExitCode {
    match kirikae_sandbox::runtime::demo_app::run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failure.into()
        }
    }
}
