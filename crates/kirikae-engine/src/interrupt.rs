//! Stopping a run from outside (Ctrl-C, SIGTERM, SIGHUP): one token every service of a run watches, plus
//! the exit status the signal asks for. An interrupt stops *waiting*, never a change half-made: the step
//! in flight completes first, and a deployment already started goes on in AWS.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// The exit status of an interrupt that names no signal (SIGINT's: 128 + 2).
pub const DEFAULT_EXIT_CODE: u8 = 130;

#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    token: CancellationToken,
    /// 128 + the signal number of the first interrupt; 0 until then.
    exit_code: Arc<AtomicU8>,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Interrupts the run; the first call decides the exit status (e.g. 143 for SIGTERM).
    pub fn raise(&self, exit_code: u8) {
        let _ = self
            .exit_code
            .compare_exchange(0, exit_code, Ordering::SeqCst, Ordering::SeqCst);
        self.token.cancel();
    }

    pub fn is_raised(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the run is interrupted.
    pub fn raised(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// The exit status an interrupted run ends with: 128 + the first signal's number.
    pub fn exit_code(&self) -> u8 {
        match self.exit_code.load(Ordering::SeqCst) {
            0 => DEFAULT_EXIT_CODE,
            c => c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_decides_the_exit_status() {
        let i = Interrupt::new();
        assert!(!i.is_raised());
        assert_eq!(i.exit_code(), 130);
        i.clone().raise(143);
        i.raise(130);
        assert!(i.is_raised());
        assert_eq!(i.exit_code(), 143);
    }
}
