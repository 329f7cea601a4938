//! Read-only answers shared by the checks of a run's services: fifty services in one cluster describe
//! that cluster once, services behind one load balancer describe it once. An answer is kept for a short
//! while only ([`FRESH_FOR`]), so a service re-checked right before it executes (see [`crate::fleet`])
//! sees what AWS has then; failures are never kept, so the next asker asks again.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How long an answer is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(15);

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<dyn Any + Send + Sync>)>>>;

#[derive(Default)]
pub struct Memo {
    slots: Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl Memo {
    /// The answer to `key`: a fresh one kept from an earlier ask, else `ask()`'s (asked once even when
    /// several ask at the same time: the others wait for it).
    pub async fn once<T, E, Fut>(&self, key: String, ask: impl FnOnce() -> Fut) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key).or_default().clone()
        };
        let mut kept = slot.lock().await;
        if let Some((at, answer)) = kept.as_ref()
            && at.elapsed() < FRESH_FOR
            && let Some(answer) = answer.downcast_ref::<T>()
        {
            return Ok(answer.clone());
        }
        let answer = ask().await?;
        *kept = Some((Instant::now(), Arc::new(answer.clone())));
        Ok(answer)
    }
}

/// One memo per region for every service of a run (shared by clones of a connection).
#[derive(Clone, Default)]
pub struct Memos(Arc<Mutex<HashMap<String, Arc<Memo>>>>);

impl std::fmt::Debug for Memos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memos")
    }
}

impl Memos {
    pub fn for_region(&self, region: &str) -> Arc<Memo> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(region.to_string()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn asked_once_while_fresh_again_after_and_never_keeps_a_failure() {
        let memo = Memo::default();
        let asked = AtomicUsize::new(0);
        let ask = || async {
            asked.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>("cluster demo: ACTIVE".to_string())
        };
        let (a, b) = tokio::join!(memo.once("c".into(), ask), memo.once("c".into(), ask));
        assert_eq!(
            (a, b),
            (
                Ok("cluster demo: ACTIVE".into()),
                Ok("cluster demo: ACTIVE".into())
            )
        );
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        tokio::time::advance(FRESH_FOR).await;
        memo.once("c".into(), ask).await.unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 2);

        let failed: Result<String, &str> =
            memo.once("x".into(), || async { Err("throttled") }).await;
        assert_eq!(failed, Err("throttled"));
        let again: Result<String, &str> = memo.once("x".into(), || async { Ok("ok".into()) }).await;
        assert_eq!(again, Ok("ok".into()));
    }
}
