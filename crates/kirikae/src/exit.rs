//! Exit statuses, documented in the README. Deploy-specific ones (1 deployment failed, 3 timed out)
//! arrive with `kirikae deploy`.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    /// The command failed (for the sandbox: it could not start or crashed).
    Failure = 1,
    /// Usage or configuration error: nothing was done.
    Usage = 2,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s as u8)
    }
}
