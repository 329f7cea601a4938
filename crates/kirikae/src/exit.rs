//! Exit statuses, documented in the README:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | succeeded |
//! | 1 | the deployment failed, was stopped or was rolled back (or the command failed) |
//! | 2 | usage or configuration error: nothing in AWS was changed |
//! | 3 | stopped watching while the deployment still runs: timed out, or lost contact with AWS |
//! | 129, 130, 143 | interrupted by SIGHUP, SIGINT (Ctrl-C), SIGTERM (128 + the signal); a deployment already started goes on in AWS |

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    /// The deployment failed, was stopped or rolled back; or the command failed (for the sandbox: it could
    /// not start or crashed).
    Failure = 1,
    /// Usage or configuration error: nothing was done.
    Usage = 2,
    /// `kirikae deploy --timeout` passed while the deployment still runs.
    TimedOut = 3,
    /// Ctrl-C.
    Interrupted = 130,
}

impl Status {
    pub fn from_code(code: u8) -> Status {
        match code {
            0 => Status::Success,
            2 => Status::Usage,
            3 => Status::TimedOut,
            130 => Status::Interrupted,
            _ => Status::Failure,
        }
    }

    /// How bad a status is, to report the worst of several deploys: an interrupt beats everything, then
    /// usage errors, failures, time-outs.
    fn severity(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::TimedOut => 1,
            Status::Failure => 2,
            Status::Usage => 3,
            Status::Interrupted => 4,
        }
    }

    pub fn worst(self, other: Status) -> Status {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// The worse of two exit statuses, to report several deploys: an interrupt (128 + signal) beats
/// everything, then usage errors (2), failures (1), stopped watching (3), success (0).
pub fn worst(a: u8, b: u8) -> u8 {
    fn severity(c: u8) -> u8 {
        match c {
            0 => 0,
            3 => 1,
            2 => 3,
            128.. => 4,
            _ => 2,
        }
    }
    if severity(b) > severity(a) { b } else { a }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s as u8)
    }
}
